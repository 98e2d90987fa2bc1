"""check_many on a mapped generation file (as a replica uses it) against a Python set, in one process.

    .venv/bin/python benchmarks/bench_check_many.py                          # 1,000,000 targets and queries
    .venv/bin/python benchmarks/bench_check_many.py --n 10000000 --queries 1000000 --file /tmp/10m.gen
    .venv/bin/python benchmarks/bench_check_many.py --extension old/_speedups.cpython-311-x86_64-linux-gnu.so
    .venv/bin/python benchmarks/bench_check_many.py --n 10000000 --queries 1000000 --file /tmp/10m.gen --overlay 10000

The targets and queries are benchmarks/matcher_data.py's (half of the queries listed, with 0-3
extra labels; the others under the same TLDs, not listed). The targets are written once as a
generation file (--file keeps it for the next run: ten million take minutes to generate) and
mapped read-only, as `Replica` maps its files; the set holds the same targets, read back from
the file as `bench_scale.py` reads them from a replica. Contenders, interleaved in each of
--repeat rounds, best kept:

- set:         `[q in listed for q in queries]`, a bare membership test of the same strings (it
               neither normalizes nor looks at parent domains: the floor the issue measures against);
- check_many:  `Matcher.over(generation).check_many(queries)`, after a first pass that builds
               the match objects; with --overlay N, over the base and an overlay of N changes
               (half of them removals of listed targets, half new targets), as a replica is after
               an incremental sync: every candidate is then asked of the overlay first;
- each --extension: the same through another build of `sitealert/matcher/_speedups.c` (for
               instance a copy compiled from an older commit), its answers checked against ours.

Times are the thread's CPU time (`time.thread_time`, which a loaded machine's preemption does
not inflate) and the wall time; the ratios are set time ÷ contender time.
"""

import argparse
import gc
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import matcher_data  # noqa: E402

from sitealert.matcher import Matcher, generation  # noqa: E402
from sitealert.matcher.core import UNDECIDED, Match  # noqa: E402


def write_generation(path, n):
    targets = sorted(matcher_data.listed_targets(n))
    records = generation.encode(targets, [0] * n, [0] * n)
    data = generation.build(records, [("", (), ())], generation.UNKNOWN_CHECKSUM)
    Path(f"{path}.tmp").write_bytes(data)
    os.replace(f"{path}.tmp", path)


def overlay_generation(targets, changes):
    """An overlay of `changes` changes to the sorted `targets`: every so many removed, as many added."""
    removed = targets[::max(1, len(targets) // (changes // 2 or 1))][:changes // 2]
    added = [f"added{i}x.example" for i in range(changes - len(removed))]
    changed = sorted([(t, generation.TOMBSTONE) for t in removed] + [(t, 0) for t in added])
    records = generation.encode([t for t, _ in changed], [m for _, m in changed], [0] * len(changed))
    total = len(targets) - len(removed) + len(added)
    return generation.from_bytes(generation.build(records, [("", (), ())], generation.UNKNOWN_CHECKSUM,
                                                  kind=generation.OVERLAY, total=total))


def load_extension(path):
    spec = importlib.util.spec_from_file_location("_speedups", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="listed targets (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default: as many as --n)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds, best kept (default 5)")
    parser.add_argument("--file", help="the generation file: reused when present, else written and kept")
    parser.add_argument("--overlay", type=int, default=0, metavar="N",
                        help="match over the base and an overlay of N changes, as after an incremental sync")
    parser.add_argument("--extension", action="append", default=[], metavar="SO",
                        help="another build of the accelerator to time beside this checkout's (repeatable)")
    args = parser.parse_args(argv)

    path = args.file or f"/tmp/bench-check-many-{args.n}.gen"
    if not os.path.exists(path):
        print(f"writing {args.n:,} targets to {path} ...", flush=True)
        write_generation(path, args.n)
    base = generation.open_file(path)
    overlay = None
    if args.overlay:
        overlay = overlay_generation(list(Matcher.over(base, accelerated=True)), args.overlay)
    matcher = Matcher.over(base, overlay, accelerated=True)
    contenders = {"check_many": matcher.check_many}
    combos = [(countries, categories) for _kind, countries, categories in (overlay or base).combos]
    for so in args.extension:
        table = load_extension(so).Table(base.data, overlay.data if overlay else None, combos, Match, UNDECIDED)
        contenders[Path(so).parent.name or so] = lambda items, table=table: table.check_many(items)[0]
    targets = matcher.targets_set()
    print(f"generating {args.queries or args.n:,} queries ...", flush=True)
    queries = matcher_data.queries(sorted(targets), args.queries or args.n)
    for q in queries:  # hash every query string once, as a real caller's strings would be
        hash(q)

    expected = matcher.check_many(queries)  # the first pass builds the match objects
    for name, fn in contenders.items():
        if fn(queries) != expected:
            raise SystemExit(f"{name} answers differently")
    runs = [("set", lambda: [q in targets for q in queries])] + [(name, lambda fn=fn: fn(queries))
                                                               for name, fn in contenders.items()]
    cpu, wall = {}, {}
    for _ in range(args.repeat):
        for name, fn in runs:
            gc.collect()
            started_cpu, started = time.thread_time(), time.perf_counter()
            fn()
            cpu[name] = min(cpu.get(name, float("inf")), time.thread_time() - started_cpu)
            wall[name] = min(wall.get(name, float("inf")), time.perf_counter() - started)

    print(f"{len(targets):,} targets{f' (an overlay of {args.overlay:,} changes)' if overlay else ''}, "
          f"{len(queries):,} queries, best of {args.repeat}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'contender':<24}{'CPU s':>9}{'vs set':>9}{'wall s':>9}{'vs set':>9}")
    for name, _fn in runs:
        print(f"{name:<24}{cpu[name]:>9.3f}{cpu['set'] / cpu[name]:>8.2f}x"
              f"{wall[name]:>9.3f}{wall['set'] / wall[name]:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
