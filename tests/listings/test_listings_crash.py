"""Imports killed at random moments and concurrent writers, on real processes and a real database.

- `sitealert import` killed with SIGKILL at seeded random moments of a large import: the
  aggregated list's version either did not move or moved by the whole file, the change log has no
  gap, the published entries are the active listings, and the feed that `sitealert export` serves
  carries a checksum equal to one recomputed from the listings. On PostgreSQL the test runs a server
  of its own with fsync, synchronous_commit and full_page_writes on (scripts/pg turns them off for
  speed) and also kills the server itself (every one of its processes) in the middle of an import,
  then restarts it through crash recovery.
- Writers in separate processes submitting and removing through `sitealert.listings.services` at
  the same time: each sees its versions strictly increase, no two transactions end at the same
  version, the change log numbers 1..V without a gap, and a reader polling meanwhile never sees a
  version whose changes are not all visible.

The client side (a `Replica.sync` killed at every step and at random moments) is
tests/client/test_client_crash.py.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

import pytest

from tests.monitoring.harness import ScratchDatabase

pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"), pytest.mark.slow]

# The PostgreSQL pass of scripts/test (SITEALERT_DATABASE_URL set) runs the PostgreSQL variant, the
# SQLite pass the SQLite one: each pass stays within its time, and CI skips nothing.
DATABASE = "postgresql" if os.environ.get("SITEALERT_DATABASE_URL") else "sqlite"
CATEGORIES = ["streaming-video", "streaming-music", "live-sports-iptv", "torrent-index", "cyberlocker",
              "publishing", "software-games"]
BASE_ROWS, NEW_ROWS, UPDATED_ROWS = 8_000, 8_000, 2_000
ATTEMPTS = 5


def _pg_bindir():
    candidates = [os.environ.get("PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"]
    if shutil.which("pg_config"):
        candidates.append(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    for candidate in candidates:
        if candidate and os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return candidate
    raise RuntimeError("no PostgreSQL server binaries (install Debian's postgresql-15, or set PG_BINDIR)")


class DurablePostgres:
    """A PostgreSQL server of this test's own, durable as in production (fsync on), that the test
    can crash with SIGKILL to all its processes and start again through crash recovery."""

    def __init__(self):
        self.bindir = _pg_bindir()
        # Not under pytest's tmp_path: the server runs as nobody, who must reach its directory.
        self.directory = tempfile.mkdtemp(prefix="sitealert-durable-pg.")
        self.data = os.path.join(self.directory, "data")
        self.as_owner = []
        if os.getuid() == 0:
            shutil.chown(self.directory, "nobody")
            self.as_owner = ["runuser", "-u", "nobody", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._server(["initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])

    def _server(self, command):
        subprocess.run(self.as_owner + [os.path.join(self.bindir, command[0]), *command[1:]], cwd=self.directory,
                       check=True, capture_output=True, timeout=120)

    def start(self):
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=on "
                   "-c synchronous_commit=on -c full_page_writes=on")
        self._server(["pg_ctl", "start", "-D", self.data, "-l", os.path.join(self.directory, "server.log"),
                      "-s", "-w", "-t", "120", "-o", options])

    def crash(self):
        """SIGKILL the postmaster and every process it started, as a power cut would stop them."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parent = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if parent == postmaster:
                    children.append(int(entry))
        for pid in [postmaster, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/proc/{postmaster}"):
            time.sleep(0.05)

    def close(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self.as_owner + [os.path.join(self.bindir, "pg_ctl"), "stop", "-D", self.data, "-m",
                                            "immediate", "-s"], cwd=self.directory, capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def scratch_database(directory):
    """(ScratchDatabase, DurablePostgres or None): a fresh migrated database for this test's processes."""
    if DATABASE == "sqlite":
        with ScratchDatabase(directory) as db:
            yield db, None
        return
    server = DurablePostgres()
    try:
        server.start()
        with ScratchDatabase(directory, server.url) as db:
            assert db.query("SHOW fsync") == [("on",)]
            yield db, server
    finally:
        server.close()


def _csv(rows):
    return ("target,category,reference,note\n" + "".join(f"{t},{c},{r},\n" for t, c, r in rows)).encode()


def _sha256_list(targets):
    return "sha256:" + hashlib.sha256("".join(t + "\n" for t in sorted(targets)).encode()).hexdigest()


def _state(db):
    """What the database holds now, read with plain SQL, independently of the code under test."""
    (version,) = db.query("SELECT version FROM feed_feedstate WHERE id = 1")[0]
    seqs = [seq for (seq,) in db.query("SELECT seq FROM feed_change ORDER BY seq")]
    listed = {}
    for target, is_listed in db.query("SELECT target, listed FROM feed_change ORDER BY seq"):
        listed[target] = bool(is_listed)
    return {
        "version": version,
        "seqs": seqs,
        "replayed": sorted(t for t, is_listed in listed.items() if is_listed),
        "entries": sorted(t for (t,) in db.query("SELECT target FROM feed_feedentry")),
        "active": sorted(t for (t,) in db.query(
            "SELECT DISTINCT target FROM listings_listing WHERE status = 'active'")),
        "listings": db.query("SELECT COUNT(*) FROM listings_listing")[0][0],
        "categories": dict(db.query("SELECT target, categories FROM feed_feedentry WHERE target LIKE 'base%'")),
    }


def _assert_consistent(db, state):
    """The change log numbers 1..version without a gap, replaying it gives the published entries,
    the entries are the active listings, and the served feed carries their checksum."""
    assert state["seqs"] == list(range(1, state["version"] + 1))
    assert state["replayed"] == state["entries"] == state["active"]
    feed = json.loads(db.run("export", "--format", "json"))
    assert feed["version"] == state["version"]
    assert sorted(e["target"] for e in feed["entries"]) == state["active"]
    assert feed["checksum"] == _sha256_list(state["active"])


def _start_import(db, slug, data):
    """Start `sitealert import - --org SLUG` and feed it `data`; return the process once it has read
    the file (the pipe holds 64 KiB, so the write returns only when the import is under way)."""
    process = subprocess.Popen(db.command("import", "-", "--org", slug), env=db.env({"SITEALERT_PROGRESS": "1"}),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdin.write(data)
    process.stdin.close()
    return process


def _wait_for_progress(process, marker):
    """Read the import's progress bar until it shows `marker` (it writes with flush, no newline)."""
    seen = b""
    while marker.encode() not in seen:
        chunk = os.read(process.stderr.fileno(), 4096)
        assert chunk, f"the import ended before its progress showed {marker!r}: {seen[-2000:]!r}"
        seen += chunk


def _attempt_file(name, category):
    """New targets of its own, and the same base targets updated to `category`: applied whole
    after a file of another category, it moves the version by NEW_ROWS + UPDATED_ROWS."""
    rows = [(f"new-{name}-{i}.crash{i % 11}.example", "cyberlocker", f"A-{name}-{i}") for i in range(NEW_ROWS)]
    rows += [(f"base{i}.crash{i % 13}.example", category, f"U-{name}-{i}") for i in range(UPDATED_ROWS)]
    return _csv(rows)


def test_import_killed_at_random_moments_moves_the_version_fully_or_not_at_all(tmp_path):
    with scratch_database(tmp_path) as (db, server):
        slug = db.run("org", "create", "--kind", "contributor", "--name", "Crash Test Office", "--country",
                      "IT").strip()
        db.run("import", "-", "--org", slug,
               input=_csv((f"base{i}.crash{i % 13}.example", "streaming-video", f"B{i}")
                          for i in range(BASE_ROWS)).decode())
        state = _state(db)
        assert state["version"] == BASE_ROWS
        _assert_consistent(db, state)

        # How long an import of one attempt's file takes, from the moment it has read its input.
        process = _start_import(db, slug, _attempt_file("timing", CATEGORIES[-1]))
        started = time.monotonic()
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()[-2000:]
        whole = time.monotonic() - started
        state = _state(db)
        assert state["version"] == BASE_ROWS + NEW_ROWS + UPDATED_ROWS

        rnd = random.Random(17)
        outcomes = []
        for attempt in range(ATTEMPTS):
            before = state
            category = CATEGORIES[1 + attempt % (len(CATEGORIES) - 2)]  # never the timing run's
            process = _start_import(db, slug, _attempt_file(attempt, category))
            # Every third kill lands where the import has written its listings and is numbering the
            # changes, before its commit; the others at a seeded random moment of the whole import.
            in_transaction = attempt % 3 == 1
            if in_transaction:
                total = NEW_ROWS + UPDATED_ROWS
                _wait_for_progress(process, f"{total * 3 // 4}/{total} valid rows")
            else:
                time.sleep(rnd.uniform(0, whole * 0.9))
            crash_server = server is not None and attempt % 2 == 1
            if crash_server:
                server.crash()
                process.wait(timeout=60)  # its connection is gone: it fails by itself
                server.start()
            else:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=60)
            state = _state(db)
            moved = state["version"] != before["version"]
            if moved:
                assert state["version"] == before["version"] + NEW_ROWS + UPDATED_ROWS
                assert state["listings"] == before["listings"] + NEW_ROWS
                assert list(state["categories"].values()).count(category) == UPDATED_ROWS
                assert process.returncode in (0, -signal.SIGKILL)
            else:
                assert state == before
            assert not (in_transaction and moved)
            _assert_consistent(db, state)
            outcomes.append(("server" if crash_server else "import", "in-transaction" if in_transaction else "random",
                             process.returncode, moved))

        # The next import after the kills runs to the end.
        process = _start_import(db, slug, _attempt_file("after", CATEGORIES[0]))
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()[-2000:]
        before, state = state, _state(db)
        assert state["version"] == before["version"] + NEW_ROWS + UPDATED_ROWS
        _assert_consistent(db, state)
        print(f"{DATABASE}: an import takes {whole:.2f}s; (killed, when, exit status, version moved):", outcomes)


WRITER = """
import json, sys
import django
django.setup()
from sitealert.core.actors import Actor
from sitealert.listings.services import EntryInput, remove_listings, submit_entries
from sitealert.organizations.models import Organization

org = Organization.objects.get(slug=sys.argv[1])
actor = Actor(organization=org, via="cli")
rounds = int(sys.argv[2])
for r in range(rounds):
    shared = [EntryInput(target=f"shared{i}.example", category="torrent-index", reference=f"{org.slug}-{r}")
              for i in range(r * 10, r * 10 + 30)]
    own = [EntryInput(target=f"{org.slug}-{r}-{i}.example", category="cyberlocker", reference="own")
           for i in range(20)]
    report = submit_entries(org, shared + own, actor=actor)
    print(json.dumps(["submit", report.version, report.applied]), flush=True)
    if r % 2 == 1:
        report = remove_listings(org, [f"shared{i}.example" for i in range(r * 10 - 10, r * 10)]
                                 + [f"{org.slug}-{r - 1}-{i}.example" for i in range(5)], "Site taken down",
                                 actor=actor)
        print(json.dumps(["remove", report.version, report.applied]), flush=True)
"""


def test_concurrent_writers_number_versions_strictly_in_order_without_gaps(tmp_path):
    writers, rounds = 3, 6
    with scratch_database(tmp_path) as (db, _):
        slugs = [db.run("org", "create", "--kind", "contributor", "--name", f"Writer Office {n}", "--country",
                        country).strip() for n, country in enumerate(["IT", "KR", "FR", "BR"][:writers])]
        seen, problems, done = [], [], threading.Event()

        def watch():
            """Poll the version and the changes visible up to it: all of them, always."""
            while not done.is_set():
                rows = db.query("SELECT version FROM feed_feedstate WHERE id = 1")
                version = rows[0][0] if rows else 0
                visible = db.query(f"SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM feed_change WHERE seq <= {version}")
                if visible[0] != (version, version):
                    problems.append((version, visible[0]))
                if seen and version < seen[-1]:
                    problems.append(("went back", seen[-1], version))
                seen.append(version)
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            processes = [subprocess.Popen([sys.executable, "-c", WRITER, slug, str(rounds)], env=db.env(),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                         for slug in slugs]
            results = [p.communicate(timeout=240) for p in processes]
        finally:
            done.set()
            watcher.join()
        for process, (_, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr[-3000:]

        ends = []
        for stdout, _ in results:
            versions = [version for _, version, applied in map(json.loads, stdout.splitlines()) if applied]
            assert len(versions) == rounds + rounds // 2
            assert versions == sorted(set(versions)), versions  # strictly increasing for each writer
            ends += versions
        assert len(ends) == len(set(ends)), "two transactions ended at the same version"
        state = _state(db)
        assert max(ends) == state["version"]
        assert problems == []
        assert len(seen) > 10
        _assert_consistent(db, state)
