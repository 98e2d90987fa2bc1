"""A public check's latency while clients download the feed slowly from `sitealert serve` alone.

    .venv/bin/python benchmarks/bench_downloads.py [--entries 200000] [--clients 10] [--rate 500000]
                                                   [--workers 5] [--seconds 15] [--source DIR]… [--nginx]
                                                   [--json FILE]

Fills a temporary SQLite installation with ENTRIES synthetic domains (the JSON document is about
90 bytes an entry: 200,000 make 18 MB) and builds its documents, starts `sitealert serve --workers
WORKERS` on loopback (tests/cli/serve_harness.py), and measures GET /api/v1/check on a new
connection each time:

- **baseline**: with nothing else in flight, 20 checks 0.25 s apart (after 2 x WORKERS unmeasured ones);
- **during downloads**: CLIENTS clients read GET /api/v1/feed (plain JSON) at about RATE bytes/s
  each through a 16 KiB receive buffer; for SECONDS seconds, one check every 0.25 s. A check that
  does not answer within 10 s counts as 10 s and is reported as timed out.

Reported: p50, p99 and max of each, and the ratio of the loaded p50 to the baseline p50 of the same
server. --source measures another checkout's `sitealert serve` first, with this checkout's harness
(the code before a change: `git archive BASE | tar -x -C /tmp/before`); --nginx measures this
checkout once more behind Debian's nginx with the locations of docs/production.md and
SITEALERT_ACCEL_REDIRECT, clients and checks going through nginx.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: sitealert and tests.cli

from tests.cli import serve_harness as harness  # noqa: E402

CHECK_TIMEOUT = 10.0


def percentiles(samples):
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": ordered[-1], "n": len(ordered),
            "timed_out": sum(1 for s in ordered if s >= CHECK_TIMEOUT)}


def measure(args, label, source=harness.ROOT, nginx=False):
    """The baseline and loaded check latencies of one server set-up."""
    with tempfile.TemporaryDirectory(prefix="sitealert-bench-downloads-") as data:
        started = time.monotonic()
        env = {"SITEALERT_ACCEL_REDIRECT": harness.ACCEL_PREFIX} if nginx else {}
        site = harness.Installation(data, args.entries, env=env, source=source)
        process, port = site.serve(args.workers)
        proxy = None
        try:
            if nginx:
                proxy, port = harness.start_nginx(Path(data) / "nginx-run", port, Path(data) / "feed-cache")
            size = len(harness.get(port, "/api/v1/feed", [f"Authorization: Bearer {site.token}"])[2])
            print(f"{label}: {args.entries} entries, JSON document {size / 1e6:.1f} MB, prepared in "
                  f"{time.monotonic() - started:.0f} s", file=sys.stderr)
            for _ in range(2 * args.workers):  # each process's first request loads what it needs
                harness.timed_check(port, CHECK_TIMEOUT)
            baseline = []
            for _ in range(20):
                baseline.append(harness.timed_check(port, CHECK_TIMEOUT))
                time.sleep(0.25)
            clients = [harness.SlowDownload(port, site.token, args.rate) for _ in range(args.clients)]
            for client in clients:
                client.start()
            time.sleep(2)
            loaded, until = [], time.monotonic() + args.seconds
            while time.monotonic() < until:
                loaded.append(min(harness.timed_check(port, CHECK_TIMEOUT), CHECK_TIMEOUT))
                time.sleep(0.25)
            reading = sum(1 for c in clients if c.received)
            for client in clients:
                client.stopping.set()
        finally:
            if proxy is not None:
                harness.stop(proxy)
            harness.stop(process)
    result = {"setup": label, "source": str(source), "document_bytes": size, "clients_served": reading,
              "baseline": percentiles(baseline), "during_downloads": percentiles(loaded)}
    result["p50_ratio"] = result["during_downloads"]["p50"] / result["baseline"]["p50"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rate", type=int, default=500_000, help="bytes per second per slow client")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--source", action="append", default=[],
                        help="another checkout whose `sitealert serve` to measure first (repeatable)")
    parser.add_argument("--nginx", action="store_true",
                        help="also measure this checkout behind Debian's nginx with SITEALERT_ACCEL_REDIRECT")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    setups = [(f"serve ({source})", {"source": Path(source).resolve()}) for source in args.source]
    setups.append(("serve (this checkout)", {}))
    if args.nginx:
        setups.append(("nginx + serve (this checkout)", {"nginx": True}))
    results = [measure(args, label, **options) for label, options in setups]
    print(f"{args.clients} clients at {args.rate / 1000:.0f} kB/s, {args.workers} workers, {args.entries} entries "
          f"({results[0]['document_bytes'] / 1e6:.1f} MB JSON); a check on a new connection:")
    for result in results:
        print(result["setup"])
        for name in ("baseline", "during_downloads"):
            r = result[name]
            print(f"  {name:<17} p50 {r['p50'] * 1000:8.1f} ms  p99 {r['p99'] * 1000:8.1f} ms  "
                  f"max {r['max'] * 1000:8.1f} ms  ({r['n']} checks, {r['timed_out']} timed out after "
                  f"{CHECK_TIMEOUT:.0f} s)")
        print(f"  clients receiving bytes: {result['clients_served']} of {args.clients}; "
              f"loaded p50 / baseline p50 = {result['p50_ratio']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"arguments": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
