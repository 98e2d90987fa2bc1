"""Matcher speed and memory against a bare set, a plain Python walk and adblock-rust, in one run.

    .venv/bin/python benchmarks/bench_matcher.py [--n 1000000] [--queries N] [--repeat 3] [--json FILE]

Every contender answers the same queries (benchmarks/matcher_data.py): N listed targets, N hosts
of which half are listed with 0-3 extra labels. Contenders:

- set:       `[q in listed for q in queries]`, a bare set membership test of the same strings:
             CPython's floor for this work (it does not even look at parent domains);
- matcher:   `Matcher.check_many(queries)`, the accelerated table (first pass, which builds the
             match objects, and best of --repeat passes after it);
- pure:      the same with the pure-Python table (SITEALERT_PURE_PYTHON's fallback);
- walk:      a straightforward Python loop trying the name and each parent in a set;
- adblock:   the `adblock` package (adblock-rust) loaded with `||domain^` for every target, asked
             check_network_urls_with_hostnames(url, host, …) per query (the host given pre-parsed),
             on every k-th query (--adblock-sample): it takes hundreds of microseconds a lookup
             here, so its rate is measured on a sample of the same queries and scaled.

Raw URLs (https://host/path?query, ports, fragments) are timed for the matcher and adblock; a
100,000-item sample of messy input (upper case, blanks, trailing dots, Unicode, upper-case URLs)
shows the cost of the full normalizer path. Answers are cross-checked between all contenders.
Memory: tracemalloc for Python and the accelerator (it allocates through PyMem), RSS for adblock.
"""

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import matcher_data  # noqa: E402

from sitealert.matcher import Matcher  # noqa: E402
from sitealert.matcher import core as matcher_core  # noqa: E402


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def walk_check(listed, queries):
    out = []
    append = out.append
    for host in queries:
        found = None
        while True:
            if host in listed:
                found = host
                break
            dot = host.find(".")
            if dot < 0:
                break
            host = host[dot + 1:]
        append(found)
    return out


def build_traced(make):
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    obj = make()
    seconds = time.perf_counter() - started
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return obj, seconds, after - before


def traced_delta(fn):
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = fn()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return result, after - before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="listed targets (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default: as many as --n)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per contender, best kept (default 3)")
    parser.add_argument("--adblock-sample", type=int, default=50_000,
                        help="adblock answers every k-th query, k chosen for this many lookups (default 50,000): "
                             "at hundreds of microseconds a lookup, all of them would take many minutes")
    parser.add_argument("--no-adblock", action="store_true", help="leave the adblock contender out")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    n_queries = args.queries or args.n
    report = {"n": args.n, "queries": n_queries, "python": platform.python_version(),
              "machine": platform.machine(), "cpus": os.cpu_count()}

    print(f"generating {args.n:,} targets and {n_queries:,} queries ...", flush=True)
    targets = matcher_data.listed_targets(args.n)
    queries = matcher_data.queries(targets, n_queries)
    urls = matcher_data.urls(queries)
    messy = matcher_data.messy(queries[:100_000])
    listed = set(targets)
    for q in queries:  # hash every query string once, as a real caller's strings would be
        hash(q)

    print("building ...", flush=True)
    set_bytes = sys.getsizeof(listed)
    fast, fast_build, fast_bytes = build_traced(lambda: Matcher(targets, accelerated=True))
    pure, pure_build, pure_bytes = build_traced(lambda: Matcher(targets, accelerated=False))
    report["build_seconds"] = {"matcher": fast_build, "pure": pure_build}

    adblock_engine = None
    if not args.no_adblock:
        try:
            import adblock
        except ImportError:
            print("adblock is not installed (pip install -e '.[bench]'): left out")
        else:
            rss_before = rss_bytes()
            started = time.perf_counter()
            filters = adblock.FilterSet()
            filters.add_filters([f"||{t}^" for t in targets])
            adblock_engine = adblock.Engine(filters)
            report["build_seconds"]["adblock"] = time.perf_counter() - started
            rss_after = rss_bytes()
            report["adblock_rss_bytes"] = (rss_after - rss_before) if rss_before else None

    print("timing ...", flush=True)
    times = {}

    def best(name, fn):
        seconds, result = timed(fn)
        if seconds < times.get(name, float("inf")):
            times[name] = seconds
        return result

    # Memory of the match objects a first pass builds (tracemalloc slows it: timed separately below).
    fast_results, match_bytes = traced_delta(lambda: fast.check_many(queries))
    fresh = Matcher(targets, accelerated=True)
    gc.collect()
    times["matcher_first_pass"], _ = timed(fresh.check_many, queries)
    del fresh
    for _ in range(args.repeat):
        best("set", lambda: [q in listed for q in queries])
        fast_results = best("matcher", lambda: fast.check_many(queries))
        best("matcher_urls", lambda: fast.check_many(urls))
    pure_results = best("pure", lambda: pure.check_many(queries))
    walk_results = best("walk", lambda: walk_check(listed, queries))
    best("matcher_messy", lambda: fast.check_many(messy))
    if adblock_engine is not None:
        step = max(1, n_queries // args.adblock_sample)
        sample = list(range(0, n_queries, step))
        sample_hosts = [queries[i] for i in sample]
        sample_urls = [urls[i] for i in sample]
        check = adblock_engine.check_network_urls_with_hostnames
        host_urls = ["https://" + q + "/" for q in sample_hosts]
        seconds, adblock_hosts = timed(lambda: [check(u, q, "publisher.example", "script", True).matched
                                                for u, q in zip(host_urls, sample_hosts)])
        times["adblock"] = seconds * n_queries / len(sample)  # per-lookup rate, scaled to the whole query set
        check_url = adblock_engine.check_network_urls
        seconds, adblock_urls = timed(lambda: [check_url(u, "https://publisher.example/", "script").matched
                                               for u in sample_urls])
        times["adblock_urls"] = seconds * n_queries / len(sample)
        report["adblock_sample"] = len(sample)

    print("cross-checking answers ...", flush=True)
    names = [m.target if m else None for m in fast_results]
    mismatches = {
        "pure": sum(a != (b.target if b else None) for a, b in zip(names, pure_results)),
        "walk": sum(a != b for a, b in zip(names, walk_results)),
        "urls": sum(a != (b.target if b else None) for a, b in zip(names, fast.check_many(urls))),
    }
    if adblock_engine is not None:
        mismatches["adblock"] = sum((names[i] is not None) != b for i, b in zip(sample, adblock_hosts))
        mismatches["adblock_urls"] = sum((names[i] is not None) != b for i, b in zip(sample, adblock_urls))
    listed_share = sum(a is not None for a in names) / len(names)

    base = times["set"]
    n = len(queries)
    report.update({
        "accelerated_available": matcher_core._speedups is not None,
        "seconds": times,
        "lookups_per_second": {name: n / seconds for name, seconds in times.items()
                               if not name.endswith("messy")},
        "messy_lookups_per_second": len(messy) / times["matcher_messy"],
        "speed_vs_set": {name: base / seconds for name, seconds in times.items()
                         if name in ("matcher", "matcher_first_pass", "pure", "walk", "adblock")},
        "matcher_vs_adblock": times["adblock"] / times["matcher"] if "adblock" in times else None,
        "matcher_urls_vs_adblock_urls": times["adblock_urls"] / times["matcher_urls"] if "adblock_urls" in times
        else None,
        "bytes_per_target": {
            "set (table only)": set_bytes / args.n,
            "matcher (accelerated)": fast_bytes / args.n,
            "matcher (accelerated) + match objects built by one pass": (fast_bytes + match_bytes) / args.n,
            "matcher (pure)": pure_bytes / args.n,
            "adblock (RSS)": report.get("adblock_rss_bytes", 0) / args.n if report.get("adblock_rss_bytes")
            else None,
        },
        "listed_share": listed_share,
        "mismatches": mismatches,
    })

    print()
    print(f"{args.n:,} listed targets, {n:,} queries ({listed_share:.1%} listed), Python {report['python']}, "
          f"{report['cpus']} CPUs")
    print(f"{'contender':<34}{'seconds':>9}{'lookups/s':>14}{'vs set':>9}")
    for name in ("set", "matcher", "matcher_first_pass", "pure", "walk", "adblock", "matcher_urls",
                 "adblock_urls"):
        if name in times:
            ratio = f"{base / times[name]:.2f}x" if not name.endswith("urls") else ""
            print(f"{name:<34}{times[name]:>9.3f}{n / times[name]:>14,.0f}{ratio:>9}")
    print(f"{'matcher_messy (100,000 items)':<34}{times['matcher_messy']:>9.3f}"
          f"{report['messy_lookups_per_second']:>14,.0f}")
    if report["matcher_vs_adblock"]:
        print(f"(adblock answered {report['adblock_sample']:,} of the queries, every "
              f"{n_queries // report['adblock_sample']}th; its seconds are scaled to all {n:,})")
        print(f"matcher vs adblock: {report['matcher_vs_adblock']:.1f}x on hosts, "
              f"{report['matcher_urls_vs_adblock_urls']:.1f}x on URLs")
    print("bytes per listed target:")
    for name, value in report["bytes_per_target"].items():
        if value is not None:
            print(f"  {name:<58}{value:>8.1f}")
    print("build seconds:", ", ".join(f"{k} {v:.2f}" for k, v in report["build_seconds"].items()))
    print("answers differing from the matcher's:", mismatches)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if not any(mismatches.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
