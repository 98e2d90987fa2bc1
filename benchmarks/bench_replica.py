"""The replica at a given size: full sync, incremental sync, opening, matching, in one run.

    .venv/bin/python benchmarks/bench_replica.py [--n 1000000] [--changes 10000] [--code DIR] [--json FILE]

A feed server on 127.0.0.1 (http.server, in this process) serves a synthetic list of N entries
(the csv and JSON full documents, prepared in memory before timing) and the changes document of
version 2 (--changes entries: half added, 30 % removed, 20 % updated). Each sync runs in a fresh
`python` subprocess that imports the client from --code (default: this checkout; point it at an
export of an older commit to compare) and reports its wall time (from the call to sync) and peak
RSS (VmHWM, the whole process: interpreter and imports included).
Measured, in order:

- full sync from scratch (version 1);
- incremental sync of the changes (version 1 -> 2);
- Replica(path) in a fresh process: open time and the RSS it adds;
- check_many of N queries (half listed with extra labels) against a Python set's membership test
  of the same strings, in the same process (the ratio is what counts on a loaded machine).
"""

import argparse
import gzip
import hashlib
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
SUFFIXES = ["com", "net", "org", "io", "co.uk", "ru", "to", "xyz", "top", "site"]
COMBOS = [(["FR"], ["streaming-video"]), (["IT"], ["live-sports"]), (["FR", "IT"], ["streaming-video"]),
          (["KR"], ["music"]), (["ES", "FR"], ["publishing"])]


def synthetic(n, seed=14):
    rnd = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits
    targets = set()
    while len(targets) < n:
        label = "".join(rnd.choices(alphabet, k=rnd.randint(5, 14)))
        targets.add(f"{label}.{rnd.choice(SUFFIXES)}")
    entries = {}
    for t in targets:
        countries, categories = COMBOS[rnd.randrange(len(COMBOS))]
        entries[t] = {"target": t, "kind": "domain", "countries": countries, "categories": categories,
                      "first_listed_at": f"2026-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T0{rnd.randint(0, 9)}:00:00Z"}
    return entries


def checksum(targets):
    return "sha256:" + hashlib.sha256(("\n".join(targets) + "\n").encode()).hexdigest() if targets else \
        "sha256:" + hashlib.sha256(b"").hexdigest()


def documents(entries, changes):
    """csv and JSON of version 1, the changes document 1 -> 2, the version-2 checksum."""
    ordered = sorted(entries)
    v1 = checksum(ordered)
    csv_lines = ["target,kind,countries,categories,first_listed_at\n"]
    csv_lines += [f"{t},domain,{' '.join(entries[t]['countries'])},{' '.join(entries[t]['categories'])},"
                  f"{entries[t]['first_listed_at']}\n" for t in ordered]
    csv_body = gzip.compress("".join(csv_lines).encode(), 1)
    json_body = gzip.compress(json.dumps({"version": 1, "checksum": v1,
                                          "entries": [entries[t] for t in ordered]}).encode(), 1)
    rnd = random.Random(2)
    new = dict(entries)
    listed = []
    removed = rnd.sample(ordered, int(changes * 0.3))
    for t in removed:
        del new[t]
    for t in rnd.sample(sorted(new), int(changes * 0.2)):
        new[t] = {**new[t], "countries": ["FR", "IT", "KR"]}
        listed.append(new[t])
    for i in range(changes - len(removed) - len(listed)):
        t = f"added{i}.example"
        new[t] = {"target": t, "kind": "domain", "countries": ["FR"], "categories": ["streaming-video"],
                  "first_listed_at": "2026-12-06T00:00:00Z"}
        listed.append(new[t])
    change_list = [{**e, "listed": True} for e in listed] + [{"target": t, "kind": "domain", "listed": False}
                                                            for t in removed]
    v2 = checksum(sorted(new))
    changes_body = json.dumps({"since": 1, "version": 2, "checksum": v2, "changes": change_list,
                               "more": False}).encode()
    return {"csv": csv_body, "json": json_body, "v1": v1, "changes": changes_body, "v2": v2}, new


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

MATCH = """
import random, sys, time
from sitealert.client import Replica
replica = Replica(sys.argv[1])
targets = [line.split(",", 1)[0] for line in open(sys.argv[2])]
rnd = random.Random(5)
queries = [("www." if rnd.random() < 0.5 else "") + (t if rnd.random() < 0.5 else "x" + t) for t in targets]
listed = set(targets)
def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        started = time.perf_counter(); fn(); times.append(time.perf_counter() - started)
    return min(times)
replica.check_many(queries)  # first pass builds the match objects
matcher = best(lambda: replica.check_many(queries))
bare = best(lambda: [q in listed for q in queries])
print(matcher, bare)
"""


def run(code, program, *args):
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", program, *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"subprocess failed:\n{out.stderr[-3000:]}")
    return out.stdout.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose sitealert.client to run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    entries = synthetic(args.n)
    docs, _new = documents(entries, args.changes)
    print(f"prepared {args.n:,} entries in {time.perf_counter() - started:.1f} s "
          f"(csv.gz {len(docs['csv']) / 1e6:.0f} MB, json.gz {len(docs['json']) / 1e6:.0f} MB)", flush=True)
    server, url = serve(docs)
    results = {"n": args.n, "changes": args.changes, "code": str(args.code)}
    with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
        directory = Path(tmp) / "replica"
        seconds, rss, mode, *_ = run(args.code, SYNC, directory, url, TOKEN)
        results["full_sync_s"], results["full_sync_peak_rss_mb"] = float(seconds), int(rss) / 1e6
        print(f"full sync: {float(seconds):.2f} s, peak RSS {int(rss) / 1e6:.0f} MB ({mode})", flush=True)
        seconds, rss, mode, added, removed, updated = run(args.code, SYNC, directory, url, TOKEN)
        results["incremental_sync_s"], results["incremental_peak_rss_mb"] = float(seconds), int(rss) / 1e6
        print(f"incremental sync of {args.changes:,} changes: {float(seconds):.2f} s, peak RSS {int(rss) / 1e6:.0f} MB "
              f"({mode}: {added} added, {removed} removed, {updated} updated)", flush=True)
        opened, added_rss, count = run(args.code, OPEN, directory)
        results["open_s"], results["open_rss_mb"] = float(opened), int(added_rss) / 1e6
        print(f"Replica(path): {float(opened) * 1000:.1f} ms, +{int(added_rss) / 1e6:.1f} MB RSS, {count} entries",
              flush=True)
        listing = Path(tmp) / "targets.csv"
        listing.write_text("".join(f"{t},\n" for t in sorted(entries)))
        matcher, bare = run(args.code, MATCH, directory, listing)
        results["check_many_s"], results["set_s"] = float(matcher), float(bare)
        print(f"check_many {args.n:,} queries: {float(matcher):.3f} s; set membership {float(bare):.3f} s; "
              f"ratio (set time / matcher time) {float(bare) / float(matcher):.2f}", flush=True)
    server.shutdown()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
