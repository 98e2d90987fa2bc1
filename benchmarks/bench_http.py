"""Requests per second of SiteAlert's read endpoints under `wrk`, against two floors on the same server settings.

    .venv/bin/python benchmarks/bench_http.py                     # 100,000 listings, SQLite, 5 workers
    scripts/pg sh -c '.venv/bin/python benchmarks/bench_http.py --database-url "$SITEALERT_DATABASE_URL"'

A scratch database (tests/monitoring/harness.py's ScratchDatabase) gets --listings listings with
`sitealert import` (benchmarks/bench_import.py's synthetic rows). Then three servers, one after the
other, each with --workers gunicorn processes on the loopback:

- **bare WSGI**: benchmarks/http_floors.py's `application` under gunicorn with `sitealert serve`'s
  settings (threaded workers, 8 threads, timeout 120 s, access log to the same place, no control socket);
- **minimal Django**: `sitealert serve` itself with DJANGO_SETTINGS_MODULE=http_floors: the
  project's settings and middleware, one view answering a small JSON body;
- **SiteAlert**: `sitealert serve`, loaded with `wrk` (--connections, --duration, 2 threads) on
  GET /api/v1/check?q=…, GET /check/?q=…, a feed 304 (GET /api/v1/feed with If-None-Match of
  the gzip JSON document's ETag), POST /api/v1/lookup of 1,000 items (a wrk Lua script), and
  GET /api/v1/feed/changes?since=V-K (K = --since-back changes), and the private lookup's
  GET /api/v1/hashes/{prefix} (the prefix of a listed target). Each wrk run follows an unmeasured
  one of --warm-up seconds, so that every worker has loaded what the request needs; before them,
  the version's first feed download, first lookup and first prefix (which build what every later
  request of that version uses) are timed on their own.

The floors are measured before and after the endpoints; each endpoint's ratio is to the mean of
the two runs of each floor. With --rounds R the endpoints are measured R times, each round
between two runs of the floors (R + 1 in all), and the medians over the rounds are reported.
The rate limits (SITEALERT_API_RATE for a token, SITEALERT_PUBLIC_CHECK_RATE for the public
check, SITEALERT_PRIVATE_LOOKUP_RATE for the private lookup) are raised to 10^9 requests a
window for the run, so that no request is refused, and the access log goes to /dev/null for all
three servers.
Any non-2xx/3xx answer or socket error is reported beside the figure.

wrk is the Debian package (`apt-get install wrk`); https://github.com/wg/wrk otherwise.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_import import synthetic_csv, synthetic_target  # noqa: E402
from serving import Served, free_port, http  # noqa: E402

from tests.monitoring.harness import ScratchDatabase  # noqa: E402

# Targets on this machine: ratio to the minimal-Django floor (issue 14).
TARGETS = {"check_api": 0.5, "check_page": 0.5, "feed_304": 0.7, "lookup_1000": 0.3, "changes": 0.3}
LABELS = {"check_api": "GET /api/v1/check?q=…", "check_page": "GET /check/?q=…",
          "feed_304": "feed 304 (If-None-Match)", "lookup_1000": "POST /api/v1/lookup, 1,000 items",
          "changes": "GET /api/v1/feed/changes?since=…", "hashes": "GET /api/v1/hashes/{prefix}"}


def target_text(name, vs_django):
    target = TARGETS.get(name)
    return "none set" if target is None else f"≥ {target} {'met' if vs_django >= target else 'missed'}"


LOOKUP_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = [[%s]]
"""


def wrk(url, args, directory, headers=(), script=None):
    """A --warm-up run (every worker has loaded what the request needs), then the measured one."""
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "--timeout", "10s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    if args.warm_up:
        subprocess.run(command + ["-d", f"{args.warm_up}s", url], capture_output=True, timeout=args.warm_up + 60,
                       cwd=directory)
    done = subprocess.run(command + ["-d", f"{args.duration}s", url], capture_output=True, text=True,
                          timeout=args.duration + 60, cwd=directory)
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode != 0 or not rate:
        raise RuntimeError(f"wrk failed on {url}: {out} {done.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    return {"per_second": float(rate.group(1)), "non_2xx_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0,
            "latency_mean": latency.group(1) if latency else None, "latency_max": latency.group(3) if latency else None}


def lookup_items(listings):
    """1,000 items: 500 listed (some as URLs or with a subdomain in front), 500 not listed."""
    step = max(1, listings // 500 // 5) * 5
    listed = [synthetic_target(i) for i in range(0, listings, step)][:500]
    shaped = [f"https://www.{t}/watch?v=1" if k % 3 == 1 else f"m.{t}" if k % 3 == 2 else t
              for k, t in enumerate(listed)]
    return shaped + [f"unlisted{k}.example" for k in range(1000 - len(shaped))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=100_000, help="listings in the database (default 100,000)")
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server for a scratch database (default: SQLite in a temporary directory)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn processes of every server (default 5)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the endpoints this many times, each between two runs of the floors; "
                             "medians are reported (default 1)")
    parser.add_argument("--warm-up", type=int, default=2, help="seconds of unmeasured load before each run (default 2)")
    parser.add_argument("--since-back", type=int, default=1000,
                        help="the changes request asks for the last K versions (default 1,000)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        parser.exit(2, "bench_http.py needs wrk: apt-get install wrk (Debian, Ubuntu) or https://github.com/wg/wrk\n")
    if args.listings < 2500:
        parser.error("--listings must be at least 2,500 (the lookup takes 500 listed items)")
    if args.rounds < 1 or args.duration < 1 or args.workers < 1 or args.connections < 1:
        parser.error("--rounds, --duration, --workers and --connections must be at least 1")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop servers, drop the scratch database, clean up
    results = {"listings": args.listings, "workers": args.workers, "connections": args.connections,
               "warm_up": args.warm_up, "rounds": args.rounds,
               "threads": args.threads, "duration": args.duration, "since_back": args.since_back,
               "database": "postgresql" if args.database_url else "sqlite", "python": platform.python_version(),
               "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "runs": {}}
    extra = {"SITEALERT_API_RATE": str(10 ** 9), "SITEALERT_PUBLIC_CHECK_RATE": str(10 ** 9),
             "SITEALERT_PRIVATE_LOOKUP_RATE": str(10 ** 9),
             "SITEALERT_IMPORT_MAX_BYTES": str(1 << 40), "SITEALERT_IMPORT_MAX_ROWS": str(1 << 40),
             "SITEALERT_ACCESS_LOG": "/dev/null", "SITEALERT_SECRET_KEY": "bench-http"}
    with tempfile.TemporaryDirectory(prefix="sitealert-bench-http-") as directory, \
            ScratchDatabase(directory, args.database_url or None) as scratch:
        run = scratch.run
        contributor = run("org", "create", "--kind", "contributor", "--name", "Benchmark Authority", "--country",
                          "FR", env=extra).strip()
        user = run("org", "create", "--kind", "user", "--name", "Benchmark Ad Platform", env=extra).strip()
        token = run("token", "create", "--org", user, env=extra).split()[-1]
        path = Path(directory) / "listings.csv"
        path.write_bytes(synthetic_csv(args.listings))
        print(f"importing {args.listings:,} listings ...", flush=True)
        run("import", str(path), "--org", contributor, env=extra)
        lua = Path(directory) / "lookup.lua"
        lua.write_text(LOOKUP_LUA % (token, json.dumps({"items": lookup_items(args.listings)})))

        def served(name, command, env):
            port = free_port()
            return Served(command(port), env, directory, name, port=port)

        def sitealert_serve(port):
            return scratch.command("serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers))

        def bare_serve(port):
            return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                    "--worker-class", "gthread", "--threads", "8",
                    "--timeout", "120", "--access-logfile", "/dev/null", "--no-control-socket",
                    "http_floors:application"]

        floor_env = scratch.env({**extra, "DJANGO_SETTINGS_MODULE": "http_floors",
                                 "PYTHONPATH": str(ROOT / "benchmarks")})

        def floors():
            for name, command, path in (("bare", bare_serve, "/"), ("django", sitealert_serve, "/floor")):
                k = len(runs[f"floor_{name}"])
                with served(f"floor-{name}-{k}", command, floor_env) as server:
                    outcome = wrk(server.url + path, args, directory)
                runs[f"floor_{name}"].append(outcome)
                print(f"floor {name} ({k + 1}): {outcome['per_second']:,.0f} req/s", flush=True)

        runs = results["runs"] = {name: [] for name in ("floor_bare", "floor_django", *LABELS)}
        floors()
        for _ in range(args.rounds):
            with served("sitealert", sitealert_serve, scratch.env(extra)) as server:
                auth = f"Authorization: Bearer {token}"
                listed = synthetic_target(5)
                _, headers, _, build = http(server.url + "/api/v1/feed", token, headers={"Accept-Encoding": "gzip"})
                etag, version = headers["ETag"], int(headers["X-SiteAlert-Version"])
                since = max(0, version - args.since_back)
                results.update(version=version, since=since, first_feed_build_seconds=build)
                endpoints = {
                    "check_api": (f"/api/v1/check?q={listed}", []),
                    "check_page": (f"/check/?q={listed}", []),
                    "feed_304": ("/api/v1/feed", [auth, f"If-None-Match: {etag}", "Accept-Encoding: gzip"]),
                    "lookup_1000": ("/api/v1/lookup", []),
                    "changes": (f"/api/v1/feed/changes?since={since}", [auth, "Accept-Encoding: gzip"]),
                    "hashes": (f"/api/v1/hashes/{hashlib.sha256(listed.encode()).hexdigest()[:4]}", []),
                }
                # What a version's first lookup and first prefix build once for every process of the
                # host (the lookup's mapped base; the private lookup's shards), timed apart like the
                # feed's first build: at ten million listings they take longer than a wrk run.
                _, _, _, first_lookup = http(server.url + "/api/v1/lookup", token, method="POST",
                                             body=json.dumps({"items": [listed]}).encode())
                _, _, _, first_hashes = http(server.url + endpoints["hashes"][0])
                results.update(first_lookup_seconds=first_lookup, first_hashes_seconds=first_hashes)
                print(f"first lookup {first_lookup:.1f} s, first prefix {first_hashes:.1f} s", flush=True)
                for name, (path, headers) in endpoints.items():
                    script = lua if name == "lookup_1000" else None
                    runs[name].append(outcome := wrk(server.url + path, args, directory, headers, script))
                    print(f"{LABELS[name]}: {outcome['per_second']:,.1f} req/s", flush=True)
            floors()
    results["load_average_at_end"] = os.getloadavg()

    # Round k's endpoints against the floors measured just before and just after them; the median
    # over the rounds.
    def floor_of(name, k):
        return (runs[f"floor_{name}"][k]["per_second"] + runs[f"floor_{name}"][k + 1]["per_second"]) / 2

    print()
    print(f"{args.listings:,} listings, {results['database']}, {args.workers} workers, wrk {args.threads} threads "
          f"{args.connections} connections {args.duration} s, {args.rounds} round(s), {os.cpu_count()} CPUs")
    print("| request | req/s | × bare WSGI | × minimal Django | target (× minimal Django) | errors |")
    print("|---|---:|---:|---:|---:|---|")
    summary = results["summary"] = {}
    for name in ("bare", "django"):
        rates = [r["per_second"] for r in runs[f"floor_{name}"]]
        summary[f"floor_{name}"] = {"per_second": statistics.median(rates)}
        print(f"| floor: {'bare WSGI' if name == 'bare' else 'minimal Django view'} | "
              f"{statistics.median(rates):,.0f} (runs: {', '.join(f'{r:,.0f}' for r in rates)}) | | | | |")
    for name, label in LABELS.items():
        rounds = runs[name]
        vs_bare = statistics.median(r["per_second"] / floor_of("bare", k) for k, r in enumerate(rounds))
        vs_django = statistics.median(r["per_second"] / floor_of("django", k) for k, r in enumerate(rounds))
        rate = statistics.median(r["per_second"] for r in rounds)
        errors = sum(r["non_2xx_3xx"] + r["socket_errors"] for r in rounds)
        summary[name] = {"per_second": rate, "vs_bare": vs_bare, "vs_django": vs_django, "errors": errors}
        print(f"| {label} | {rate:,.1f} | {vs_bare:.3f} | {vs_django:.3f} | "
              f"{target_text(name, vs_django)} | {errors or ''} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
