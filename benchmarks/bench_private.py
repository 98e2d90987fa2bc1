"""The private lookup against the lookup and the replica it stands in for, in the same run.

    .venv/bin/python benchmarks/bench_private.py [--rows 1000000] [--items 2000] [--seconds 5]

Fills the aggregated list with ROWS entries (bench_feed's list, written by SQL) in a temporary
SQLite database, then measures, each against a baseline of the same run:

- the base: the private lookup's sorted hashes (`hashes-<version>.sha256`, sitealert.feed.private)
  written from the list against the lookup's generation file (`lookup-<version>.gen`) of the same
  version, both written once per machine and version;
- the endpoint through Django's whole stack in process (the test client, no sockets), for
  --seconds each: `GET /api/v1/hashes/<random prefix>` against `GET /api/v1/check?q=<listed>`, the
  other public, rate-limited endpoint (the rate limits are lifted for the run);
- a check, in microseconds per item, over --items items (a third listed, a third subdomains of
  listed targets, a third unlisted): `PrivateChecker` against a real HTTP server on the loopback
  (wsgiref, threads) with no answer kept (every candidate's prefix asked), and again with its
  answers kept, against `Replica.check` on the same list (in memory). The run stops if any
  answer differs from the replica's.
"""

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_feed import fill_sql, setup, target  # noqa: E402


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def rate(call, seconds):
    """Calls per second of call() over about `seconds`."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        call()
        done += 1
    return done / elapsed


def items_of(rows, count):
    rng = random.Random(15)
    items = []
    for n in range(count):
        i = rng.randrange(rows)
        items.append(target(i) if n % 3 == 0 else f"https://www.{target(i)}/watch?v={n}" if n % 3 == 1
                     else f"nowhere{i}.example")
    return items


def run(args, data_dir):
    os.environ["SITEALERT_PRIVATE_LOOKUP_RATE"] = os.environ["SITEALERT_PUBLIC_CHECK_RATE"] = "1000000000"
    setup(data_dir, "")
    from django.conf import settings

    settings.ALLOWED_HOSTS.append("127.0.0.1")  # the loopback server's Host
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection, connections
    from django.test import Client

    from sitealert.client import Replica
    from sitealert.client.private import PrivateChecker
    from sitealert.feed import lookup, private

    started = time.perf_counter()
    fill_sql(args.rows)
    print(f"entries: {args.rows:,}; fill {time.perf_counter() - started:.1f} s; SQLite; cpus: {os.cpu_count()}")

    start = time.perf_counter()
    lookup.current_matcher.get()
    lookup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    private.current_hashes.get()
    hashes_seconds = time.perf_counter() - start
    print("\n| base, written once per version | seconds | × lookup base |\n|---|---:|---:|")
    print(f"| lookup-<version>.gen (baseline) | {lookup_seconds:.2f} | 1.00 |")
    print(f"| hashes-<version>.sha256 | {hashes_seconds:.2f} | {hashes_seconds / lookup_seconds:.2f} |")

    client = Client()
    rng = random.Random(4)
    listed = target(7)
    baseline = rate(lambda: client.get("/api/v1/check", {"q": listed}), args.seconds)
    hashes = rate(lambda: client.get(f"/api/v1/hashes/{rng.randrange(65536):04x}"), args.seconds)
    print("\n| request, in process (Django test client) | requests/s | × /api/v1/check |\n|---|---:|---:|")
    print(f"| GET /api/v1/check?q=<listed> (baseline) | {baseline:,.0f} | 1.00 |")
    print(f"| GET /api/v1/hashes/<prefix> | {hashes:,.0f} | {hashes / baseline:.2f} |")

    items = items_of(args.rows, args.items)
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM feed_feedentry")
        replica = Replica.from_targets([row[0] for row in cursor.fetchall()])
    connections.close_all()

    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadingServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        start = time.perf_counter()
        expected = [replica.check(item) for item in items]
        replica_us = (time.perf_counter() - start) / len(items) * 1e6
        checker = PrivateChecker(url, retries=0)
        start = time.perf_counter()
        cold = [checker.check(item) for item in items]
        cold_us = (time.perf_counter() - start) / len(items) * 1e6
        asked = checker.requests
        start = time.perf_counter()
        warm = [checker.check(item) for item in items]
        warm_us = (time.perf_counter() - start) / len(items) * 1e6
        checker.close()
    finally:
        server.shutdown()
        server.server_close()
    mine = [m and m.target for m in cold]
    if mine != [m and m.target for m in expected] or mine != [m and m.target for m in warm]:
        raise SystemExit("the private lookup's answers differ from the replica's")
    print(f"\n{len(items):,} items, {sum(m is not None for m in expected):,} listed; the checker asked "
          f"{asked:,} prefixes over HTTP (wsgiref on the loopback)\n")
    print("| check of one item | µs per item | × Replica.check |\n|---|---:|---:|")
    print(f"| Replica.check, in memory (baseline) | {replica_us:.1f} | 1 |")
    print(f"| PrivateChecker.check, answers kept | {warm_us:.1f} | {warm_us / replica_us:.0f} |")
    print(f"| PrivateChecker.check, every prefix asked | {cold_us:,.0f} | {cold_us / replica_us:,.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="entries in the list (default 1,000,000)")
    parser.add_argument("--items", type=int, default=2000, help="items checked (default 2,000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per request rate (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sitealert-bench-private-") as data_dir:
        run(args, data_dir)


if __name__ == "__main__":
    main()
