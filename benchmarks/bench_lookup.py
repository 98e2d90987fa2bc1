"""The lookup's base per process: an in-memory Matcher built from the list against the shared
generation file (FEED_CACHE_DIR/<epoch>/lookup-<version>.gen) mapped read-only, in the same run.

    .venv/bin/python benchmarks/bench_lookup.py [--rows 1000000] [--repeat 2] [--database-url postgresql://…]

Fills the aggregated list with ROWS entries (bench_feed's list, written by SQL) in a temporary
SQLite database, or a temporary database on the given PostgreSQL server. Then, each in a fresh
process, the lookup's `CurrentMatcher` of the current version is made ready:

- in memory: SITEALERT_PURE_PYTHON's fallback and the design before (a scan, a Matcher per process);
- mapped, first process: no base on disk: it writes the file (one sorted scan, streamed), then maps it;
- mapped, next process: the file is there: it maps it.

For each: seconds, the process's RSS growth (VmRSS after minus before), its peak RSS (ru_maxrss),
and, after 100,000 lookups of listed and unlisted hosts, its RSS split as /proc/self/status does:
anonymous memory (RssAnon, the process's own) and file pages (RssFile: the mapped base, and the
interpreter's libraries, are page cache shared by every process that maps them). Every process answers the same
sample; the run stops if two answers differ. Best (fastest) of --repeat.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_feed import fill_sql, in_temporary_database, setup  # noqa: E402

CHILD = r"""
import hashlib, json, random, resource, sys, time
sys.path.insert(0, sys.argv[1])
import django
django.setup()

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024

from sitealert.feed import lookup
from sitealert.feed.builder import feed_state
feed_state()
matcher = lookup.CurrentMatcher(mapped=sys.argv[2] == "mapped")
before = status("VmRSS")
start = time.perf_counter()
current = matcher.get()
seconds = time.perf_counter() - start
after = status("VmRSS")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rows = int(sys.argv[3])
sys.path.insert(0, sys.argv[1] + "/benchmarks")
from bench_feed import target
rng = random.Random(14)
# Listed targets, subdomains of listed ones (and of apps: not covered), unlisted hosts.
targets = [f"www.nowhere{i}.example" if i >= rows else "www." + target(i) if i % 3 == 0 else target(i)
           for i in (rng.randrange(2 * rows) for _ in range(100_000))]
digest = hashlib.sha256(repr(current.matched(targets)).encode()).hexdigest()[:16]
print(json.dumps({"seconds": seconds, "growth_mb": after - before, "peak_mb": peak, "rss_mb": status("VmRSS"),
                  "anon_mb": status("RssAnon"), "file_mb": status("RssFile"), "answers": digest}))
"""


def child(mode, rows, env):
    out = subprocess.run([sys.executable, "-c", CHILD, str(HERE.parent), mode, str(rows)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(args, data_dir, database_url):
    setup(data_dir, database_url)
    from django.db import connection, connections

    started = time.perf_counter()
    fill_sql(args.rows)
    print(f"database: {connection.vendor}; entries: {args.rows:,}; fill {time.perf_counter() - started:.1f} s; "
          f"cpus: {os.cpu_count()}; a fresh process each, best of {args.repeat}")
    connections.close_all()
    results = {}
    for attempt in range(args.repeat):
        cache_dir = os.path.join(data_dir, f"cache-{attempt}")
        env = {**os.environ, "SITEALERT_FEED_CACHE_DIR": cache_dir}
        for name, mode in (("in memory (before)", "memory"), ("mapped, first process (writes the file)", "mapped"),
                           ("mapped, next process", "mapped")):
            result = child(mode, args.rows, env)
            if name not in results or result["seconds"] < results[name]["seconds"]:
                results[name] = result
    answers = {r["answers"] for r in results.values()}
    if len(answers) != 1:
        raise SystemExit(f"the answers differ: {results}")
    base = results["in memory (before)"]
    print("| base of the lookup | seconds | × in memory | RSS growth MB | peak RSS MB | after 100k lookups: RSS MB "
          "| of which private (anonymous) MB | of which file pages (shared) MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.3f} | {r['seconds'] / base['seconds']:.3f} | {r['growth_mb']:.0f} | "
              f"{r['peak_mb']:.0f} | {r['rss_mb']:.0f} | {r['anon_mb']:.0f} | {r['file_mb']:.0f} |")
    print("same answers to 100,000 hosts in every process: yes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="entries in the list (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the fastest of each is shown (default 2)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default: a temporary SQLite file)")
    args = parser.parse_args()
    in_temporary_database(args.database_url, lambda data_dir, url: run(args, data_dir, url))


if __name__ == "__main__":
    main()
