"""Monitoring throughput: `sitealert worker --once` probing N listed domains on the loopback harness.

    .venv/bin/python benchmarks/bench_monitoring.py [--n 10000] [--concurrency 32] [--database-url postgresql://…]
                                                    [--timeout 600] [--json FILE]

The harness (tests/monitoring/harness.py: a dnspython DNS server and an HTTP server on 127.0.0.2)
runs in a process of its own. Of the N targets, 5% redirect to one of 50 other domains (an edge
and a hopping candidate each), 5% do not exist (NXDOMAIN), the rest answer 200.

- **baseline**: bare HTTP GETs to the harness from a thread pool of the same concurrency, one
  new connection per request (as the probes make), no DNS, no database: what the harness and
  the HTTP client cost on this machine;
- **1 worker**, then **2 workers** at once: real `sitealert worker --once` processes on a
  freshly migrated database (SQLite by default), from claim to written result. Probes/s counts
  from the worker's own start to its exit summary; peak RSS is each worker process's maximum
  resident set (os.wait4); database writes are the INSERT/UPDATE/DELETE statements (and rows)
  that the worker reports.
"""

import argparse
import json
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: sitealert and tests.monitoring

from tests.monitoring import harness as sites  # noqa: E402

SUMMARY = re.compile(r"(\d+) probes \((\d+) online, (\d+) offline, (\d+) deferred\) in ([\d.]+) s; "
                     r"(\d+) database writes \((\d+) rows\)")


def target(i):
    return f"site{i:05d}.test"


def serve_harness(n, pipe):
    """Child process: run the harness until told to stop; report how many requests it answered."""
    running = sites.Harness().start()
    for i in range(n):
        if i % 20 == 0:
            running.http.sites[target(i)] = sites.redirect(f"http://www.dest{i // 20 % 50}.test/landing")
        elif i % 20 == 1:
            running.dns.nxdomain(target(i))
    pipe.send(running.env())
    pipe.recv()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send((len(running.http.requests), usage.ru_utime + usage.ru_stime))
    running.stop()


def baseline(env, n, concurrency):
    import httpx

    port = env["SITEALERT_MONITOR_HTTP_PORT"]
    client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), trust_env=False)

    def get(i):
        return client.get(f"http://{sites.SITE_ADDRESS}:{port}/", headers={"Host": target(i)}).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(get, range(n)))
    seconds = time.monotonic() - started
    client.close()
    return {"requests": len(statuses), "seconds": seconds, "per_second": n / seconds}


def run_workers(scratch, env, count, timeout):
    started = time.monotonic()
    procs = [scratch.start("worker", "--once", env=env) for _ in range(count)]
    results = []
    for proc in procs:
        remaining = max(timeout - (time.monotonic() - started), 1)
        deadline = time.monotonic() + remaining
        status = rusage = None
        while time.monotonic() < deadline:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            for p in procs:
                p.kill()
            raise SystemExit(f"a worker ran longer than {timeout} s")
        out = proc.stdout.read()
        proc.returncode = os.waitstatus_to_exitcode(status)
        match = SUMMARY.search(out)
        if proc.returncode != 0 or not match:
            raise SystemExit(f"worker failed ({proc.returncode}): {out}\n{proc.stderr.read()}")
        probes, online, offline, _, seconds, writes, rows = match.groups()
        results.append({"probes": int(probes), "online": int(online), "offline": int(offline),
                        "seconds": float(seconds), "db_writes": int(writes), "db_rows": int(rows),
                        "peak_rss_mb": rusage.ru_maxrss / 1024, "cpu_seconds": rusage.ru_utime + rusage.ru_stime})
    wall = time.monotonic() - started
    seconds = max(r["seconds"] for r in results)
    probes = sum(r["probes"] for r in results)
    return {
        "workers": count, "probes": probes, "seconds": seconds, "wall_seconds": wall,
        "per_second": probes / seconds, "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "cpu_ms_per_probe": 1000 * sum(r["cpu_seconds"] for r in results) / probes,
        "db_writes_per_second": sum(r["db_writes"] for r in results) / seconds,
        "db_rows_per_second": sum(r["db_rows"] for r in results) / seconds,
        "each": results,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="listed domains (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32, help="probes at a time per worker (default 32)")
    parser.add_argument("--database-url", default=os.environ.get("SITEALERT_DATABASE_URL"),
                        help="PostgreSQL server for a scratch database (default: SQLite in a temporary directory)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a worker run may take (default 600)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=serve_harness, args=(args.n, theirs), daemon=True)
    server.start()
    env = ours.recv()
    env["SITEALERT_MONITOR_CONCURRENCY"] = str(args.concurrency)
    env["SITEALERT_MONITOR_TOTAL_TIMEOUT"] = "10"

    with tempfile.TemporaryDirectory(prefix="sitealert-bench-monitoring-") as directory, \
            sites.ScratchDatabase(directory, args.database_url) as scratch:
        slug = scratch.run("org", "create", "--kind", "contributor", "--name", "Benchmark Authority",
                           "--country", "FR").strip()
        csv = "target,category,reference,note\n" + "".join(f"{target(i)},cyberlocker,B-1,\n" for i in range(args.n))
        scratch.run("import", "-", "--org", slug, input=csv)
        base = baseline(env, args.n, args.concurrency)
        one = run_workers(scratch, env, 1, args.timeout)
        scratch.query("UPDATE monitoring_probetarget SET next_probe_at = '2000-01-01 00:00:00+00:00'")
        two = run_workers(scratch, env, 2, args.timeout)
        edges = scratch.query("SELECT COUNT(*) FROM monitoring_redirectedge")[0][0]
        candidates = scratch.query("SELECT COUNT(*) FROM monitoring_hoppingcandidate")[0][0]
        vendor = "postgresql" if args.database_url else "sqlite"
    ours.send("stop")
    answered, harness_cpu = ours.recv()
    server.join(5)

    print(f"{args.n} targets, concurrency {args.concurrency} per worker, {vendor}, {os.cpu_count()} CPUs; "
          f"harness answered {answered} requests with {harness_cpu:.0f} CPU seconds; {edges} redirect edges, "
          f"{candidates} hopping candidates")
    print(f"{'run':<12} {'per s':>8} {'ratio':>6} {'seconds':>8} {'peak RSS MB':>12} {'DB writes/s':>12} "
          f"{'DB rows/s':>10} {'CPU ms/probe':>13}")
    print(f"{'baseline':<12} {base['per_second']:>8.0f} {1:>6.2f} {base['seconds']:>8.1f}")
    for name, run in (("1 worker", one), ("2 workers", two)):
        print(f"{name:<12} {run['per_second']:>8.0f} {run['per_second'] / base['per_second']:>6.2f} "
              f"{run['seconds']:>8.1f} {run['peak_rss_mb']:>12.0f} {run['db_writes_per_second']:>12.1f} "
              f"{run['db_rows_per_second']:>10.0f} {run['cpu_ms_per_probe']:>13.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": args.n, "concurrency": args.concurrency, "database": vendor,
                                               "harness_cpu_seconds": harness_cpu,
                                               "baseline": base, "one_worker": one, "two_workers": two}, indent=1))


if __name__ == "__main__":
    main()
