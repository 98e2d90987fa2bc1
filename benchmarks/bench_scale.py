"""The ten-million-listing table of issue 14 at a size given on the command line, through public interfaces only.

    .venv/bin/python benchmarks/bench_scale.py --short                          # 1,000,000 listings, SQLite
    scripts/pg sh -c '.venv/bin/python benchmarks/bench_scale.py --listings 10000000 \\
        --database-url "$SITEALERT_DATABASE_URL" --memory-cap-gb 16 --json scale.json'

Everything runs as `sitealert` subprocesses on a scratch database (tests/monitoring/harness.py's
ScratchDatabase: a temporary SQLite file, or a database created on --database-url's server and
dropped afterwards) and through the HTTP API of `sitealert serve`, so it measures whatever code is
checked out:

1. import: --files CSV files of N/files rows each (benchmarks/bench_import.py's synthetic rows)
   through the contributor API (POST /api/v1/imports to `sitealert serve --workers 1`, which runs
   what `sitealert import` runs without a command's start-up of 1-3 s in every file's time):
   rows/s per file, from sending the file to the report;
2. cold builds: for each format, a fresh `sitealert serve --workers 1` with an empty feed cache
   answers one `GET /api/v1/feed?format=F`; time (against a second GET of the same document,
   ready: the baseline), and the worker's peak RSS (VmHWM) against its RSS before the request;
3. `sitealert sync` from scratch against `sitealert serve` (the gzip JSON document built first,
   so the sync measures the client), wall time and peak RSS (os.wait4), under RLIMIT_AS if
   --memory-cap-gb is given; floors in the same run: a download of the ready document, and
   `sitealert sync --help` (the interpreter and the command's imports);
4. --changes changes through the contributor API (half removals, half additions), then an
   incremental `sitealert sync`: time and peak RSS; the server's first answer to
   `/api/v1/feed/changes?since=` and a second one (the floor: a download) are timed first;
5. `Replica(path)` opened in a fresh process; then --processes processes opening it at once: wall
   time from start until all have it open, summed RSS and PSS, against the same processes
   importing sitealert.client without opening it (the baseline);
6. `check_many` of --queries hosts (benchmarks/matcher_data.py's mix, half listed) against a
   Python set of the same targets, best of 3: the ratio.

Every step has a timeout (--timeout); one that fails is reported (exit status 1) and the next
ones still run. Servers, children and temporary directories are removed at the end.
"""

import argparse
import json
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_import import synthetic_csv, synthetic_target  # noqa: E402
from serving import Served, free_port, http, kib_field, measure  # noqa: E402

from tests.monitoring.harness import ScratchDatabase  # noqa: E402

FORMATS = ("txt", "json", "csv")
# The targets at 10,000,000 listings (issue 14).
TARGETS = {
    "import_last_file": "≥ 50,000 rows/s",
    "cold_build": "≤ 10 s, ≤ 500 MB per worker",
    "sync_full": "≤ 60 s, peak RSS ≤ 1.5 GB",
    "sync_incremental": "≤ 2 s, peak RSS ≤ 300 MB",
    "replica_open": "≤ 1 s",
    "replica_open_many": "one copy in memory",
    "check_many_vs_set": "≥ 1×",
}


# --- children: run in fresh processes, print one JSON line --------------------------------------------------

def child_open(path, hold):
    """Open the replica (unless path is empty: the baseline), report, then wait for stdin to close."""
    started = time.perf_counter()
    from sitealert.client import Replica

    imported = time.perf_counter()
    replica = Replica(path) if path else None
    opened = time.perf_counter()
    print(json.dumps({"import_s": imported - started, "open_s": opened - imported,
                      "entries": len(replica) if replica is not None else 0,
                      "rss_mb": kib_field("self", "VmRSS"), "peak_rss_mb": kib_field("self", "VmHWM"),
                      "pss_mb": kib_field("self", "Pss", "smaps_rollup")}),
          flush=True)
    if hold:
        sys.stdin.read()


def child_match(path, n_queries, repeat):
    import matcher_data

    from sitealert.client import Replica

    replica = Replica(path)
    targets = list(replica.targets())
    queries = matcher_data.queries(targets, n_queries)
    listed = set(targets)
    for q in queries:  # hash every query string once, as a real caller's strings would be
        hash(q)
    replica.check_many(queries)  # a first pass builds the match objects; best of `repeat` after it
    best = {}
    for _ in range(repeat):
        for name, fn in (("set", lambda: [q in listed for q in queries]), ("check_many",
                                                                          lambda: replica.check_many(queries))):
            started = time.perf_counter()
            fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    print(json.dumps({"queries": len(queries), "set_s": best["set"], "check_many_s": best["check_many"],
                      "ratio": best["set"] / best["check_many"]}), flush=True)


# --- the run -----------------------------------------------------------------------------------------------

class Run:
    def __init__(self, args, directory, scratch):
        self.args, self.directory, self.scratch = args, Path(directory), scratch
        self.results = {"listings": args.listings, "files": args.files, "changes": args.changes,
                        "python": platform.python_version(), "cpus": os.cpu_count(),
                        "database": "postgresql" if args.database_url else "sqlite",
                        "load_average_at_start": os.getloadavg()}
        # Benchmark settings: no limit on the size of an upload or on API and public-check rates (the
        # run makes a few hundred requests with one token), no access log.
        self.extra = {"SITEALERT_IMPORT_MAX_BYTES": str(1 << 40), "SITEALERT_IMPORT_MAX_ROWS": str(1 << 40),
                      "SITEALERT_MAX_REQUEST_BYTES": str(1 << 40), "SITEALERT_REQUEST_BODY_TIMEOUT": "600",
                      "SITEALERT_API_RATE": str(10 ** 9), "SITEALERT_PUBLIC_CHECK_RATE": str(10 ** 9),
                      "SITEALERT_ACCESS_LOG": "/dev/null", "SITEALERT_SECRET_KEY": "bench-scale"}

    def env(self, **extra):
        return self.scratch.env({**self.extra, **extra})

    def sitealert(self, *args, name, env=None, preexec_fn=None):
        return measure(self.scratch.command(*args), env or self.env(), self.directory, name, self.args.timeout,
                       preexec_fn=preexec_fn)

    def serve(self, name, workers, cache_dir):
        port = free_port()
        return Served(self.scratch.command("serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
                      self.env(SITEALERT_FEED_CACHE_DIR=str(cache_dir)), self.directory, name, port=port,
                      start_timeout=self.args.timeout)

    def say(self, text):
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def organizations(self):
        run = self.scratch.run
        self.contributor = run("org", "create", "--kind", "contributor", "--name", "Benchmark Authority",
                               "--country", "FR", env=self.extra).strip()
        user = run("org", "create", "--kind", "user", "--name", "Benchmark Ad Platform", env=self.extra).strip()
        self.feed_token = run("token", "create", "--org", user, env=self.extra).split()[-1]
        self.listings_token = run("token", "create", "--org", self.contributor, env=self.extra).split()[-1]

    def imports(self):
        """Each file through the contributor API (POST /api/v1/imports): no command start-up in the rate."""
        n, files = self.args.listings, self.args.files
        per_file, done = [], 0
        with self.serve("serve-import", 1, self.directory / "cache-import") as server:
            for k in range(files):
                rows = n // files + (1 if k < n % files else 0)
                boundary = "bench-scale-boundary"
                body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="listings.csv"\r\n'
                        f"Content-Type: text/csv\r\n\r\n").encode() + synthetic_csv(rows, start=done) + \
                    f"\r\n--{boundary}--\r\n".encode()
                try:
                    status, _, _, seconds = http(server.url + "/api/v1/imports", self.listings_token, method="POST",
                                                 body=body, timeout=self.args.timeout,
                                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
                except urllib.error.HTTPError as error:
                    raise RuntimeError(f"import {k + 1}/{files}: HTTP {error.code}; the server said:\n"
                                       f"{server.errors()}") from None
                assert status == 200, status
                done += rows
                per_file.append({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds})
                self.say(f"import {k + 1}/{files}: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
            peak = server.worker_peak_rss_mb()
        total = sum(f["seconds"] for f in per_file)
        self.results["import"] = {"files": per_file, "seconds": total, "rows_per_s": n / total,
                                  "worker_peak_rss_mb": peak}

    def cold_builds(self):
        builds = {}
        for fmt in FORMATS:
            with self.serve(f"serve-cold-{fmt}", 1, self.directory / f"cache-cold-{fmt}") as server:
                http(server.url + "/healthz")  # the worker has loaded the application
                worker = server.workers()[0]
                before = kib_field(worker, "VmRSS")
                status, _, size, seconds = http(f"{server.url}/api/v1/feed?format={fmt}", self.feed_token,
                                                timeout=self.args.timeout)
                assert status == 200, status
                peak = kib_field(worker, "VmHWM")
                _, _, _, warm = http(f"{server.url}/api/v1/feed?format={fmt}", self.feed_token,
                                     timeout=self.args.timeout)  # the baseline: the same document, ready
                builds[fmt] = {"seconds": seconds, "bytes": size, "worker_rss_before_mb": before,
                               "worker_peak_rss_mb": peak, "warm_seconds": warm}
            self.say(f"cold build {fmt}: {seconds:.1f} s, {size / 1e6:.0f} MB, worker peak RSS "
                     f"{builds[fmt]['worker_peak_rss_mb']:.0f} MB (before: {before:.0f} MB)")
        self.results["cold_builds"] = builds

    def version(self, server):
        _, headers, _, _ = http(f"{server.url}/api/v1/feed?format=txt", self.feed_token, method="HEAD")
        return int(headers["X-SiteAlert-Version"])

    def memory_cap(self):
        cap = self.args.memory_cap_gb
        if not cap:
            return None
        limit = int(cap * (1 << 30))
        return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def sync(self, server, replica, name):
        return self.sitealert("sync", "--url", server.url, "--replica", str(replica), name=name,
                              env=self.env(SITEALERT_TOKEN=self.feed_token), preexec_fn=self.memory_cap())

    def syncs(self, replica):
        with self.serve("serve-sync", self.args.workers, self.directory / "cache-sync") as server:
            warm = {}
            # What the sync asks for (JSON, gzip), built before the sync is timed; the second GET, a
            # download of the ready document, is the floor of a sync from scratch.
            for name in ("build", "download"):
                _, _, size, seconds = http(server.url + "/api/v1/feed", self.feed_token,
                                           headers={"Accept-Encoding": "gzip"}, timeout=self.args.timeout)
                warm[name] = {"seconds": seconds, "bytes": size}
            full = self.sync(server, replica, "sync-full")
            self.say(f"sync from scratch: {full['seconds']:.1f} s, peak RSS {full['peak_rss_mb']:.0f} MB")
            since = self.version(server)
            half = self.args.changes // 2
            removed = [synthetic_target(i) for i in range(0, min(self.args.listings, 5 * half), 5)]
            added = [{"target": f"added{j}.example", "category": "other", "reference": "BENCH-1"}
                     for j in range(self.args.changes - len(removed))]
            started = time.perf_counter()
            status, _, _, _ = http(server.url + "/api/v1/listings/remove", self.listings_token, method="POST",
                                   body=json.dumps({"targets": removed, "reason": "benchmark"}).encode())
            assert status == 200, status
            status, _, _, _ = http(server.url + "/api/v1/listings", self.listings_token, method="POST",
                                   body=json.dumps({"entries": added}).encode())
            assert status == 200, status
            applied = time.perf_counter() - started
            until = self.version(server)
            delta = []
            for _ in range(2):  # the server's first answer, then the floor of an incremental sync
                _, _, size, seconds = http(f"{server.url}/api/v1/feed/changes?since={since}", self.feed_token,
                                           headers={"Accept-Encoding": "gzip"}, timeout=self.args.timeout)
                delta.append(seconds)
            incremental = self.sync(server, replica, "sync-incremental")
            self.say(f"{self.args.changes:,} changes applied in {applied:.1f} s (versions {since} → {until}); "
                     f"incremental sync: {incremental['seconds']:.2f} s, peak RSS "
                     f"{incremental['peak_rss_mb']:.0f} MB")
            startup = self.sitealert("sync", "--help", name="sync-startup")
        self.results["sync"] = {
            "feed_gzip": warm, "full": full, "memory_cap_gb": self.args.memory_cap_gb,
            "changes": {"count": len(removed) + len(added), "removed": len(removed), "added": len(added),
                        "seconds": applied, "since": since, "version": until,
                        "server_changes_first_get_seconds": delta[0], "changes_download_seconds": delta[1],
                        "changes_document_bytes": size},
            "incremental": incremental,
            "startup": {"seconds": startup["seconds"], "peak_rss_mb": startup["peak_rss_mb"]},
        }

    def child(self, *args, hold=False):
        return subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE,
                                stdin=subprocess.PIPE if hold else subprocess.DEVNULL, text=True,
                                env=self.env(), cwd=ROOT, preexec_fn=self.memory_cap() if args[0] == "open" else None)

    def one_child(self, *args):
        """A child's one JSON line; killed if it runs past --timeout."""
        proc = self.child(*args)
        try:
            out, _ = proc.communicate(timeout=self.args.timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not out:
            raise RuntimeError(f"--child {' '.join(args)} exited with {proc.returncode}")
        return json.loads(out)

    def many(self, path, count):
        """`count` children open the replica at once; all are measured while every one of them holds it."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.args.timeout
        procs = [self.child("open", path, "--hold", hold=True) for _ in range(count)]
        try:
            lines = {}
            while len(lines) < count:
                waiting = [p.stdout for p in procs if p.pid not in lines]
                ready, _, _ = select.select(waiting, [], [], max(deadline - time.monotonic(), 0))
                if not ready:
                    raise RuntimeError(f"{count - len(lines)} of {count} processes did not open the replica "
                                       f"within {self.args.timeout} s")
                for p in procs:
                    if p.stdout in ready:
                        line = p.stdout.readline()
                        if not line:
                            raise RuntimeError(f"a process opening the replica exited with {p.wait()}")
                        lines[p.pid] = json.loads(line)
            wall = time.perf_counter() - started
            rss = sum(kib_field(p.pid, "VmRSS") or 0 for p in procs)
            pss = sum(kib_field(p.pid, "Pss", "smaps_rollup") or 0 for p in procs)
        finally:
            for p in procs:
                p.stdin.close()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return {"processes": count, "wall_seconds": wall,
                "open_seconds_max": max(r["open_s"] for r in lines.values()), "rss_mb_sum": rss, "pss_mb_sum": pss}

    def opening(self, replica):
        single = self.one_child("open", str(replica))
        self.say(f"Replica(path) in a fresh process: {single['open_s']:.2f} s, RSS {single['rss_mb']:.0f} MB")
        base = self.many("", self.args.processes)
        loaded = self.many(str(replica), self.args.processes)
        self.say(f"{self.args.processes} processes opening it at once: {loaded['wall_seconds']:.1f} s "
                 f"(baseline {base['wall_seconds']:.1f} s), PSS {loaded['pss_mb_sum']:.0f} MB "
                 f"(baseline {base['pss_mb_sum']:.0f} MB)")
        self.results["replica_open"] = {"single": single, "many": loaded, "many_baseline": base}

    def matching(self, replica):
        self.results["check_many"] = self.one_child("match", str(replica), "--queries", str(self.args.queries))
        self.say(f"check_many vs set: {self.results['check_many']['ratio']:.2f}×")


def table(results):
    r = results
    rows = []
    imp = r.get("import")
    if imp:
        first, last = imp["files"][0], imp["files"][-1]
        rows.append((f"import, {len(imp['files'])} files of ~{first['rows']:,} rows (POST /api/v1/imports)",
                     f"{imp['rows_per_s']:,.0f} rows/s overall; first file {first['rows_per_s']:,.0f}, "
                     f"last {last['rows_per_s']:,.0f} rows/s "
                     f"(last/first {last['rows_per_s'] / first['rows_per_s']:.2f}); "
                     f"worker peak RSS {imp['worker_peak_rss_mb']:.0f} MB",
                     TARGETS["import_last_file"]))
    builds = r.get("cold_builds")
    if builds:
        rows.append(("cold builds (first GET, 1 worker)", ", ".join(
            f"{fmt} {b['seconds']:.1f} s ({b['bytes'] / 1e6:.0f} MB, {b['seconds'] / b['warm_seconds']:.0f}× its warm "
            f"GET; worker {b['worker_peak_rss_mb']:.0f} MB, {b['worker_rss_before_mb']:.0f} before)"
            for fmt, b in builds.items()), TARGETS["cold_build"]))
    sync = r.get("sync")
    if sync:
        cap = f" under a {sync['memory_cap_gb']} GiB cap" if sync["memory_cap_gb"] else ""
        start = sync["startup"]
        floor = f"`sitealert sync --help` {start['seconds']:.2f} s, {start['peak_rss_mb']:.0f} MB"
        rows.append(("`sitealert sync` from scratch", f"{sync['full']['seconds']:.1f} s, peak RSS "
                     f"{sync['full']['peak_rss_mb']:.0f} MB{cap} (floors: download of the ready "
                     f"{sync['feed_gzip']['download']['bytes'] / 1e6:.0f} MB gzip JSON "
                     f"{sync['feed_gzip']['download']['seconds']:.2f} s; {floor})", TARGETS["sync_full"]))
        ch = sync["changes"]
        rows.append((f"{ch['count']:,} changes through the contributor API",
                     f"{ch['seconds']:.1f} s; the server's first /feed/changes "
                     f"{ch['server_changes_first_get_seconds']:.2f} s, "
                     f"the second {ch['changes_download_seconds']:.2f} s",
                     ""))
        rows.append((f"incremental sync of {ch['count']:,} changes",
                     f"{sync['incremental']['seconds']:.2f} s, peak RSS {sync['incremental']['peak_rss_mb']:.0f} MB "
                     f"(floor: {floor})", TARGETS["sync_incremental"]))
    opened = r.get("replica_open")
    if opened:
        s, m, b = opened["single"], opened["many"], opened["many_baseline"]
        rows.append(("opening a replica (`Replica(path)`)", f"{s['open_s']:.2f} s, RSS {s['rss_mb']:.0f} MB after, "
                     f"{s['peak_rss_mb']:.0f} MB peak (process)",
                     TARGETS["replica_open"]))
        rows.append((f"{m['processes']} processes opening it at once",
                     f"{m['wall_seconds']:.1f} s (baseline {b['wall_seconds']:.1f} s), RSS {m['rss_mb_sum']:,.0f} MB, "
                     f"PSS {m['pss_mb_sum']:,.0f} MB summed (baseline {b['rss_mb_sum']:,.0f} / "
                     f"{b['pss_mb_sum']:,.0f} MB)", TARGETS["replica_open_many"]))
    match = r.get("check_many")
    if match:
        rows.append(("`check_many` vs a Python set", f"{match['ratio']:.2f}× ({match['queries']:,} queries)",
                     TARGETS["check_many_vs_set"]))
    for name, error in r.get("failed", {}).items():
        rows.append((name, "**failed**: " + error[-200:].replace("\n", " ").replace("|", "/"), ""))
    lines = [f"| at {r['listings']:,} listings ({r['database']}) | measured | target (at 10,000,000) |",
             "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=10_000_000, help="listings to import (default 10,000,000)")
    parser.add_argument("--short", action="store_true", help="a quick run: 1,000,000 listings")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server for a scratch database (default: SQLite in a temporary directory)")
    parser.add_argument("--files", type=int, default=15, help="CSV files the listings are imported in (default 15)")
    parser.add_argument("--changes", type=int, default=10_000,
                        help="changes before the incremental sync (default 10,000)")
    parser.add_argument("--processes", type=int, default=16, help="processes opening the replica at once (default 16)")
    parser.add_argument("--queries", type=int, default=1_000_000, help="hosts for check_many (default 1,000,000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the server synced from (default 2)")
    parser.add_argument("--memory-cap-gb", type=float, default=None,
                        help="run `sitealert sync` and the processes opening the replica under this "
                             "address-space limit (RLIMIT_AS), in GiB")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds any one step may take (default 1800)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path = args.child[0], args.child[1]
        return child_open(path, args.hold) if kind == "open" else child_match(path, args.queries, 3)
    if args.short:
        args.listings = 1_000_000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop servers, drop the scratch database, clean up
    if args.listings < args.files or args.changes < 2 or args.changes // 2 > args.listings // 5:
        parser.error("--listings must be at least --files, and --changes between 2 and 2/5 of --listings")

    with tempfile.TemporaryDirectory(prefix="sitealert-bench-scale-") as directory, \
            ScratchDatabase(directory, args.database_url or None) as scratch:
        run = Run(args, directory, scratch)
        replica = Path(directory) / "replica"
        started = time.perf_counter()
        failed = False
        try:
            run.organizations()
            run.imports()
            # A step that fails (a timeout, a MemoryError under --memory-cap-gb) is reported and the
            # others still run: the replica's steps need only the sync.
            for name, step in (("cold_builds", run.cold_builds), ("sync", lambda: run.syncs(replica)),
                               ("replica_open", lambda: run.opening(replica)),
                               ("check_many", lambda: run.matching(replica))):
                try:
                    step()
                except (RuntimeError, AssertionError, OSError, ValueError, subprocess.SubprocessError) as exc:
                    failed = True
                    run.results.setdefault("failed", {})[name] = str(exc)[-1000:]
                    run.say(f"{name} failed: {str(exc)[-300:]}")
        finally:
            run.results["seconds"] = time.perf_counter() - started
            run.results["load_average_at_end"] = os.getloadavg()
            print()
            print(table(run.results))
            if args.json:
                Path(args.json).write_text(json.dumps(run.results, indent=1))
    return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
