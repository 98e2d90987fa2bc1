"""The signed distribution from the client's side: a replica synced from nginx serving a published tree,
against the same replica synced from the API of `sitealert serve`, in the same run.

    .venv/bin/python benchmarks/bench_mirror.py --short                 # 100,000 listed, 10,000 changes
    .venv/bin/python benchmarks/bench_mirror.py --json mirror.json      # 1,000,000 listed, 10,000 changes

A temporary SQLite installation (tests/cli/serve_harness.py) holds LISTED synthetic domains at
version 1; `sitealert keys init` and `sitealert publish DIR` write the signed tree, which Debian's
nginx serves as static files (tests/distribution/mirror_harness.py); `sitealert serve --workers 2`
serves the API. Measured, in this process (the client SDK, as an ad server runs it):

1. **from scratch**: `Replica.sync(mirror=nginx, root=…)` (refresh and verify the TUF metadata,
   download and verify state.json and lists/E/V.csv.gz, stream it into a base) against
   `Replica.sync(url, token)` (GET /api/v1/feed?format=csv, built before, streamed into a base);
2. **CHANGES behind**: CHANGES listings added through the listing service (one version per change),
   the tree published again (its time is reported too); then a copy of each replica at version 1
   syncs: from the mirror, one delta (deltas/E/1-V.json.gz) with verification; from the API,
   GET /api/v1/feed/changes?since=1 (answered once before, so both measure the client);
3. **requests/s with wrk** (2 threads, --connections, --duration seconds, after a 1 s warm-up):
   nginx sending the published lists/E/V.txt.gz against GET /api/v1/feed?format=txt with gzip from
   `sitealert serve` (the same bytes), and an idle poll: nginx's metadata/timestamp.json against
   GET /api/v1/feed/changes?since=V.

Each sync is the best of --repeat runs on fresh copies. Targets (issue 15): <= 0.5 s for the
client 10,000 changes behind, <= 10 s from scratch at 1,000,000. Every step is bounded in time.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_http import wrk  # noqa: E402
from serving import http  # noqa: E402

from sitealert.client import Replica  # noqa: E402
from tests.cli import serve_harness as harness  # noqa: E402
from tests.distribution.mirror_harness import StaticNginx  # noqa: E402

ADD_CHANGES = """
from sitealert.core.actors import Actor
from sitealert.listings.services import EntryInput, submit_entries
from sitealert.organizations.services import create_organization
org = create_organization(kind="contributor", name="Bench Authority", country="IT", actor=Actor(via="cli"))
entries = [EntryInput(target=f"changed{{i}}.example", category="streaming-video", reference="bench")
           for i in range({changes})]
report = submit_entries(org, entries, actor=Actor(organization=org, via="cli"))
assert report.applied, report.as_dict()
"""


def django(installation, code, timeout):
    subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code],
                   env={**installation.env, "DJANGO_SETTINGS_MODULE": "sitealert.settings",
                        "PYTHONPATH": str(ROOT)},
                   cwd=ROOT, check=True, capture_output=True, text=True, timeout=timeout)


def command(installation, timeout, *arguments):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sitealert", *arguments], env=installation.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"sitealert {' '.join(arguments)} exited {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def best_sync(make_replica, sync, repeat):
    """Best wall time of `repeat` syncs, each of a fresh replica from make_replica(); the last
    replica and its result."""
    times = []
    for _ in range(repeat):
        replica = make_replica()
        started = time.perf_counter()
        result = sync(replica)
        times.append(time.perf_counter() - started)
    return min(times), replica, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a quick run: 100,000 listed")
    parser.add_argument("--listed", type=int, help="listed domains (default 1,000,000; 100,000 with --short)")
    parser.add_argument("--changes", type=int, default=10_000, help="changes behind (default 10,000)")
    parser.add_argument("--repeat", type=int, default=3, help="syncs of each kind, best reported (default 3)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of each wrk run (default 5)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed to each step (default 1800)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    args = parser.parse_args(argv)
    listed = args.listed or (100_000 if args.short else 1_000_000)
    results = {"listed": listed, "changes": args.changes, "repeat": args.repeat, "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        installation = harness.Installation(scratch / "data", listed)
        results["prepare_seconds"] = time.perf_counter() - started
        tree = scratch / "tree"
        command(installation, args.timeout, "keys", "init")
        results["publish_first_seconds"] = command(installation, args.timeout, "publish", str(tree))
        root = tree / "metadata" / "1.root.json"
        nginx = StaticNginx(scratch / "nginx", tree)
        server, port = installation.serve(2)
        try:
            api = f"http://127.0.0.1:{port}"
            token = installation.token
            warm(f"{api}/api/v1/feed?format=csv", token, args.timeout)  # built once, before the clock

            counter = iter(range(1_000_000))

            def fresh():
                return Replica(scratch / f"replica-{next(counter)}")

            # 1. From scratch.
            results["full_mirror_seconds"], mirror_replica, mirror_result = best_sync(
                fresh, lambda r: r.sync(mirror=nginx.url, root=root), args.repeat)
            results["full_api_seconds"], api_replica, api_result = best_sync(
                fresh, lambda r: r.sync(api, token), args.repeat)
            assert mirror_result.mode == api_result.mode == "full"
            assert mirror_replica.checksum == api_replica.checksum
            results["list_csv_gz_bytes"] = sum(p.stat().st_size for p in tree.glob("targets/lists/*/*.csv.gz"))

            # 2. CHANGES behind.
            django(installation, ADD_CHANGES.format(changes=args.changes), args.timeout)
            results["publish_after_changes_seconds"] = command(installation, args.timeout, "publish", str(tree))
            state_version = mirror_result.new_version
            warm(f"{api}/api/v1/feed/changes?since={state_version}", token, args.timeout)

            def copy_of(directory):
                def make():
                    target = scratch / f"copy-{next(counter)}"
                    shutil.copytree(directory, target)
                    return Replica(target)
                return make

            results["incremental_mirror_seconds"], _replica, mirror_delta = best_sync(
                copy_of(mirror_replica.path), lambda r: r.sync(mirror=nginx.url), args.repeat)
            results["incremental_api_seconds"], _replica, api_delta = best_sync(
                copy_of(api_replica.path), lambda r: r.sync(api, token), args.repeat)
            assert mirror_delta.mode == api_delta.mode == "incremental", (mirror_delta, api_delta)
            assert len(mirror_delta.added) == len(api_delta.added) == args.changes
            assert mirror_delta.checksum == api_delta.checksum
            results["delta_json_gz_bytes"] = max(p.stat().st_size for p in tree.glob("targets/deltas/*/*.json.gz"))
            results["version"] = mirror_delta.new_version

            # 3. Requests per second.
            settings = Namespace(threads=2, connections=args.connections, duration=args.duration, warm_up=1)
            [txt] = list(tree.glob(f"targets/lists/*/*.{mirror_delta.new_version}.txt.gz"))
            bearer = f"Authorization: Bearer {token}"
            results["wrk_list_nginx"] = wrk(nginx.url + str(txt.relative_to(tree)), settings, scratch)
            results["wrk_list_api"] = wrk(f"{api}/api/v1/feed?format=txt", settings, scratch,
                                          headers=(bearer, "Accept-Encoding: gzip"))
            results["wrk_poll_nginx"] = wrk(nginx.url + "metadata/timestamp.json", settings, scratch)
            results["wrk_poll_api"] = wrk(f"{api}/api/v1/feed/changes?since={mirror_delta.new_version}", settings,
                                          scratch, headers=(bearer, "Accept-Encoding: gzip"))
        finally:
            harness.stop(server)
            nginx.stop()

    report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


def warm(url, token, timeout):
    """One GET, its body read: the server builds and caches the document before anything is timed."""
    return http(url, token=token, headers={"Accept-Encoding": "gzip"}, timeout=timeout)


def report(r, args):
    def ratio(a, b):
        return f"{r[a] / r[b]:.2f}x" if r.get(b) else "-"

    print(f"{r['listed']:,} listed, {r['changes']:,} changes, best of {r['repeat']}, {r['cpus']} CPUs "
          f"(installation prepared in {r['prepare_seconds']:.1f} s)")
    print(f"publish: first {r['publish_first_seconds']:.2f} s, after the changes "
          f"{r['publish_after_changes_seconds']:.2f} s (each a `sitealert publish` process, start-up included)")
    print("| sync | from nginx (TUF verified) | from `sitealert serve` API | mirror / API | target |")
    print("|---|---|---|---|---|")
    print(f"| from scratch ({r['list_csv_gz_bytes'] / 1e6:.1f} MB csv.gz) | {r['full_mirror_seconds']:.2f} s | "
          f"{r['full_api_seconds']:.2f} s | {ratio('full_mirror_seconds', 'full_api_seconds')} | <= 10 s at 1M |")
    print(f"| {r['changes']:,} changes behind ({r['delta_json_gz_bytes'] / 1e3:.0f} kB delta) | "
          f"{r['incremental_mirror_seconds']:.3f} s | {r['incremental_api_seconds']:.3f} s | "
          f"{ratio('incremental_mirror_seconds', 'incremental_api_seconds')} | <= 0.5 s |")
    print(f"| wrk ({args.connections} connections, {args.duration} s) | nginx req/s | API req/s | nginx / API | |")
    for name, what in (("list", "the gzip list"), ("poll", "an idle poll")):
        nginx, api = r[f"wrk_{name}_nginx"], r[f"wrk_{name}_api"]
        print(f"| {what} | {nginx['per_second']:,.0f} | {api['per_second']:,.0f} | "
              f"{nginx['per_second'] / api['per_second']:.1f}x | |")
        for side, run in (("nginx", nginx), ("api", api)):
            if run["non_2xx_3xx"] or run["socket_errors"]:
                print(f"  ({name}, {side}: {run['non_2xx_3xx']} non-2xx/3xx, {run['socket_errors']} socket errors)")


if __name__ == "__main__":
    sys.exit(main())
