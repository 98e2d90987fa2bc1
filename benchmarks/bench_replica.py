"""The replica at a given size: full sync, incremental sync, opening, matching, in one run.

    .venv/bin/python benchmarks/bench_replica.py [--n 1000000] [--changes 10000] [--code DIR ...]
                                                 [--queries 1000000] [--no-json] [--json FILE]

A feed server on 127.0.0.1 (http.server, in this process) serves a synthetic list of N entries
(the gzipped csv and JSON full documents, prepared in memory before timing) and the changes
document of version 2 (--changes entries: half added, 30 % removed, 20 % updated). Each sync runs in a fresh
`python` subprocess that imports the client from --code (default: this checkout; point it at an
export of an older commit to compare) and reports its wall time (from the call to sync) and peak
RSS (VmHWM, the whole process: interpreter and imports included).
Measured, in order:

- full sync from scratch (version 1);
- incremental sync of the changes (version 1 -> 2);
- Replica(path) in a fresh process: open time and the RSS it adds;
- check_many of --queries listed names (half with a "www." label, half with their first label
  altered, so not listed), best of 3 after a first pass, against a Python set of every listed
  target asked about the same strings, in the same process (the ratio is what counts on a loaded
  machine); the first pass again in another fresh process that opened with preload=True (the
  preload timed apart), the files in the page cache for both;
- Replica.compact() of the incremental sync's base and overlay, in a fresh process: wall time and
  peak RSS (VmHWM), with the incremental sync's peak as the baseline of the same run.
"""

import argparse
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
SUFFIXES = ["com", "net", "org", "io", "co.uk", "ru", "to", "xyz", "top", "site"]
COMBOS = [(["FR"], ["streaming-video"]), (["IT"], ["live-sports"]), (["FR", "IT"], ["streaming-video"]),
          (["KR"], ["music"]), (["ES", "FR"], ["publishing"])]


def synthetic(n):
    """n distinct domain names, sorted (no per-entry objects beyond the strings: 10M fit in ~1 GB)."""
    # (i * odd constant) mod 2^40 is a bijection: distinct, scattered hex labels
    targets = [f"{(i * 2654435761) % (1 << 40):x}.{SUFFIXES[i % len(SUFFIXES)]}" for i in range(n)]
    targets.sort()
    return targets


def _attributes(i):
    countries, categories = COMBOS[i % len(COMBOS)]
    return countries, categories, f"2026-0{i % 9 + 1}-1{i % 10}T0{i % 10}:00:00Z"


def checksum(sorted_targets):
    digest = hashlib.sha256()
    for start in range(0, len(sorted_targets), 100_000):
        digest.update(("\n".join(sorted_targets[start:start + 100_000]) + "\n").encode())
    return "sha256:" + digest.hexdigest()


def documents(targets, changes, with_json):
    """The gzipped csv (and JSON, for clients that read it) of version 1, the changes document
    1 -> 2, and both checksums."""
    v1 = checksum(targets)
    csv_gz = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [csv_gz.compress(b"target,kind,countries,categories,first_listed_at\n")]
    json_parts = []
    for start in range(0, len(targets), 100_000):
        lines, entries = [], []
        for i in range(start, min(start + 100_000, len(targets))):
            countries, categories, first = _attributes(i)
            lines.append(f"{targets[i]},domain,{' '.join(countries)},{' '.join(categories)},{first}\n")
            if with_json:
                entries.append(json.dumps({"target": targets[i], "kind": "domain", "countries": countries,
                                           "categories": categories, "first_listed_at": first}))
        parts.append(csv_gz.compress("".join(lines).encode()))
        json_parts.append(",".join(entries))
    parts.append(csv_gz.flush())
    docs = {"csv": b"".join(parts), "v1": v1}
    if with_json:
        docs["json"] = gzip.compress((f'{{"version":1,"checksum":"{v1}","entries":['
                                      + ",".join(p for p in json_parts if p) + "]}").encode(), 1)
    rnd = random.Random(2)
    picked = rnd.sample(range(len(targets)), int(changes * 0.5))
    removed = sorted(targets[i] for i in picked[:int(changes * 0.3)])
    updated = [{"target": targets[i], "kind": "domain", "countries": ["FR", "IT", "KR"],
                "categories": ["streaming-video"], "first_listed_at": "2026-01-01T00:00:00Z", "listed": True}
               for i in picked[int(changes * 0.3):]]
    added = [{"target": f"added{i}.example", "kind": "domain", "countries": ["FR"],
              "categories": ["streaming-video"], "first_listed_at": "2026-12-06T00:00:00Z", "listed": True}
             for i in range(changes - len(picked))]
    gone = set(removed)
    new = sorted([t for t in targets if t not in gone] + [e["target"] for e in added])
    docs["v2"] = checksum(new)
    docs["changes"] = json.dumps({"since": 1, "version": 2, "checksum": docs["v2"], "more": False,
                                  "changes": updated + added + [{"target": t, "kind": "domain", "listed": False}
                                                                for t in removed]}).encode()
    return docs


def serve(docs):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            headers = [("Content-Type", "application/json")]
            if url.path == "/api/v1/feed":
                fmt = query.get("format", ["json"])[0]
                body = docs[fmt]
                headers = [("Content-Type", "text/csv" if fmt == "csv" else "application/json"),
                           ("Content-Encoding", "gzip"), ("X-SiteAlert-Version", "1"),
                           ("X-SiteAlert-Checksum", docs["v1"])]
            elif url.path == "/api/v1/feed/changes" and query.get("since") == ["1"]:
                body = docs["changes"]
            elif url.path == "/api/v1/feed/changes":
                body = json.dumps({"since": int(query["since"][0]), "version": 2, "checksum": docs["v2"],
                                   "changes": [], "more": False}).encode()
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# Peak RSS from VmHWM: ru_maxrss would include the RSS of this (large) process that the child had
# when it was forked, which Linux carries across exec.
SYNC = """
import sys, time
from sitealert.client import Replica
started = time.perf_counter()
result = Replica(sys.argv[1]).sync(sys.argv[2], sys.argv[3], retries=0, timeout=600)
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(seconds, peak, result.mode, len(result.added), len(result.removed), len(result.updated))
"""

OPEN = """
import os, resource, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
from sitealert.client import Replica
from sitealert.matcher import Match
before = rss()
started = time.perf_counter()
replica = Replica(sys.argv[1])
opened = time.perf_counter() - started
assert replica.damaged is None, replica.damaged
print(opened, rss() - before, len(replica))
"""

COMPACT = """
import sys, time
from sitealert.client import Replica
replica = Replica(sys.argv[1])
started = time.perf_counter()
done = replica.compact()
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(seconds, peak, done)
"""

MATCH = """
import random, sys, time
from sitealert.client import Replica
started = time.perf_counter()
replica = Replica(sys.argv[1], preload=sys.argv[3] == "preload")
opened = time.perf_counter() - started
sample = [line.split(",", 1)[0] for line in open(sys.argv[2])]
rnd = random.Random(5)
queries = [("www." + t) if rnd.random() < 0.5 else ("x" + t) for t in sample]
listed = set(replica.targets())  # every listed target, as the matcher holds them
def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        started = time.perf_counter(); fn(); times.append(time.perf_counter() - started)
    return min(times)
started = time.perf_counter()
replica.check_many(queries)  # the first pass maps the pages it needs and builds the match objects
first = time.perf_counter() - started
matcher = best(lambda: replica.check_many(queries))
bare = best(lambda: [q in listed for q in queries])
print(matcher, bare, first, opened)
"""


def run(code, program, *args):
    env = {**os.environ, "PYTHONPATH": str(code)}
    # cwd: with -c, the current directory comes first on sys.path and would shadow --code
    out = subprocess.run([sys.executable, "-c", program, *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=3600, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise SystemExit(f"subprocess failed:\n{out.stderr[-3000:]}")
    return out.stdout.split()


def measure(code, url, targets, changes, queries):
    results = {"code": str(code)}
    with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
        directory = Path(tmp) / "replica"
        seconds, rss, mode, *_ = run(code, SYNC, directory, url, TOKEN)
        results["full_sync_s"], results["full_sync_peak_rss_mb"] = float(seconds), int(rss) / 1e6
        print(f"full sync: {float(seconds):.2f} s, peak RSS {int(rss) / 1e6:.0f} MB ({mode})", flush=True)
        seconds, rss, mode, added, removed, updated = run(code, SYNC, directory, url, TOKEN)
        results["incremental_sync_s"], results["incremental_peak_rss_mb"] = float(seconds), int(rss) / 1e6
        print(f"incremental sync of {changes:,} changes: {float(seconds):.2f} s, peak RSS {int(rss) / 1e6:.0f} MB "
              f"({mode}: {added} added, {removed} removed, {updated} updated)", flush=True)
        opened, added_rss, count = run(code, OPEN, directory)
        results["open_s"], results["open_rss_mb"] = float(opened), int(added_rss) / 1e6
        print(f"Replica(path): {float(opened) * 1000:.1f} ms, +{int(added_rss) / 1e6:.1f} MB RSS, {count} entries",
              flush=True)
        listing = Path(tmp) / "targets.csv"
        sample = random.Random(3).sample(targets, min(queries, len(targets)))
        listing.write_text("".join(f"{t},\n" for t in sample))
        matcher, bare, first, _opened = run(code, MATCH, directory, listing, "")
        results["check_many_s"], results["set_s"], results["check_many_first_s"] = \
            float(matcher), float(bare), float(first)
        print(f"check_many {len(sample):,} queries: {float(matcher):.3f} s (first pass {float(first):.3f} s); "
              f"set of all {len(targets):,} targets {float(bare):.3f} s; "
              f"ratio (set time / matcher time) {float(bare) / float(matcher):.2f}", flush=True)
        if Path(code).resolve() == ROOT:  # preload and compact are this checkout's
            _matcher, _bare, first, opened = run(code, MATCH, directory, listing, "preload")
            results["check_many_first_preloaded_s"], results["open_preload_s"] = float(first), float(opened)
            print(f"with preload=True: Replica(path, preload=True) {float(opened):.3f} s, then the first pass "
                  f"{float(first):.3f} s", flush=True)
            seconds, rss, done = run(code, COMPACT, directory)
            results["compact_s"], results["compact_peak_rss_mb"] = float(seconds), int(rss) / 1e6
            print(f"Replica.compact(): {float(seconds):.2f} s, peak RSS {int(rss) / 1e6:.0f} MB ({done})", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT],
                        help="checkouts whose sitealert.client to run, each in turn on the same documents "
                             "(an export of an older commit: its matcher's _speedups built in place)")
    parser.add_argument("--queries", type=int, default=1_000_000, help="check_many sample (listed names)")
    parser.add_argument("--no-json", action="store_true",
                        help="serve only the csv feed (clients before the generation format read the JSON one)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    targets = synthetic(args.n)
    docs = documents(targets, args.changes, not args.no_json)
    print(f"prepared {args.n:,} entries in {time.perf_counter() - started:.1f} s "
          f"(csv.gz {len(docs['csv']) / 1e6:.0f} MB"
          + (f", json.gz {len(docs['json']) / 1e6:.0f} MB)" if "json" in docs else ")"), flush=True)
    server, url = serve(docs)
    results = {"n": args.n, "changes": args.changes, "runs": []}
    for code in args.code:
        print(f"-- {code}", flush=True)
        results["runs"].append(measure(code, url, targets, args.changes, args.queries))
    server.shutdown()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
