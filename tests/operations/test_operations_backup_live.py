"""Backup and restore end to end: real `sitealert` processes on a fresh installation (SQLite, and
PostgreSQL when the tests run with one), a writer importing while the backup runs, `sitealert serve`
with two processes, and a client replica that syncs across the restores."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from sitealert.client import Replica
from tests import migrated

pytestmark = pytest.mark.slow

SITEALERT = str(Path(sys.executable).with_name("sitealert"))
ADMIN_URL = os.environ.get("SITEALERT_DATABASE_URL", "")
VENDORS = ["sqlite"] + (["postgresql"] if ADMIN_URL.startswith("postgres") else [])

WRITER = """
import os, sys, time
os.environ["DJANGO_SETTINGS_MODULE"] = "sitealert.settings"
import django
django.setup()
from sitealert.core.actors import Actor
from sitealert.listings.services import EntryInput, submit_entries
from sitealert.organizations.models import Organization
org = Organization.objects.get(slug=sys.argv[1])
for batch in range(int(sys.argv[2])):
    entries = [EntryInput(target=f"w{batch}-{n}.example", category="other", reference="W-1") for n in range(40)]
    report = submit_entries(org, entries, actor=Actor(organization=org, via="cli"))
    assert report.applied, report.as_dict()
    print(batch, report.version, flush=True)
    time.sleep(0.2)
"""

CHANGE_LOG_END = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "sitealert.settings"
import django
django.setup()
from django.db.models import Max
from sitealert.feed.models import Change
print(Change.objects.aggregate(m=Max("seq"))["m"])
"""


class Installation:
    def __init__(self, tmp_path, database_url):
        self.tmp = tmp_path
        self.env = {**os.environ, "SITEALERT_DATA_DIR": str(tmp_path / "data"),
                    "SITEALERT_ACCESS_LOG": str(tmp_path / "access.log")}
        self.env.pop("SITEALERT_DATABASE_URL", None)
        if database_url:
            self.env["SITEALERT_DATABASE_URL"] = database_url
        self.server = None
        self.port = None

    def fresh_database(self):
        """The database as `sitealert migrate` leaves it (a copy of the one it made for the run: tests/migrated.py)."""
        if "SITEALERT_DATABASE_URL" not in self.env:
            migrated.sqlite(self.tmp / "data")

    def run(self, *args, stdin=None):
        done = subprocess.run([SITEALERT, *args], env=self.env, cwd=self.tmp, capture_output=True, text=True,
                              input=stdin, timeout=300)
        assert done.returncode == 0, f"sitealert {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def python(self, program, *args):
        return subprocess.run([sys.executable, "-c", program, *args], env=self.env, cwd=self.tmp, capture_output=True,
                              text=True, timeout=300, check=True).stdout

    def import_targets(self, slug, targets):
        self.run("import", "-", "--org", slug,
                 stdin="target,category,reference,note\n" + "".join(f"{t},other,R-1,\n" for t in targets))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        if self.port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.server = subprocess.Popen([SITEALERT, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
                                       env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL,
                                       stderr=open(self.tmp / "server.log", "a"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.server.poll() is None, (self.tmp / "server.log").read_text()
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not become ready: " + (self.tmp / "server.log").read_text())

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=60)
        self.server = None


def _database_url(vendor):
    """A migrated database of the vendor's: (its URL, its name) on PostgreSQL, (None, None) for SQLite."""
    if vendor == "sqlite":
        return None, None
    name = "sitealert_e2e_" + uuid.uuid4().hex[:10]
    return migrated.postgresql(ADMIN_URL, name), name


@pytest.fixture(params=VENDORS)
def installation(request, tmp_path):
    database_url, name = _database_url(request.param)
    site = Installation(tmp_path, database_url)
    try:
        site.fresh_database()
        site.contributor = site.run("org", "create", "--kind", "contributor", "--name", "Office", "--country",
                                    "IT").strip()
        adco = site.run("org", "create", "--kind", "user", "--name", "AdCo").strip()
        site.token = site.run("token", "create", "--org", adco).strip()
        yield site
    finally:
        site.stop()
        if name:
            import psycopg

            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _manifest(path):
    with tarfile.open(path) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


def _metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_backup_while_writing_then_restore_the_newest_and_an_older_one(installation, tmp_path):
    site = installation
    site.import_targets(site.contributor, [f"first-{n}.example" for n in range(10)])
    site.start()
    replica = Replica(tmp_path / "replica")
    first = replica.sync(site.url, site.token, retries=2, backoff=0.1)
    assert first.full

    # A writer imports 30 batches; the backup runs while it does.
    writer = subprocess.Popen([sys.executable, "-c", WRITER, site.contributor, "30"], env=site.env, cwd=site.tmp,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline(), writer.stderr.read()
    older_path = site.run("backup", "-o", str(tmp_path / "older.tar")).strip()
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    older = _manifest(older_path)
    final_version = int(out.strip().splitlines()[-1].split()[1])
    assert first.new_version < older["version"] < final_version  # a snapshot in the middle of the writes

    # Replicas follow incrementally; /metrics adds up what both server processes counted.
    assert replica.sync(site.url, site.token).mode == "incremental"
    assert replica.version == final_version
    for _ in range(12):
        assert httpx.get(site.url + "/healthz").status_code == 200
    metrics = httpx.get(site.url + "/metrics").text
    assert _metric(metrics, "sitealert_list_version") == final_version
    assert _metric(metrics, 'sitealert_request_duration_seconds_count{method="GET",route="healthz"}') == 12
    assert list((tmp_path / "data" / "metrics").glob("histogram_*.db"))  # the processes share their counters

    # The newest backup: the list continues at the same version and checksum, deltas keep working.
    newest_path = site.run("backup", "-o", str(tmp_path)).strip()
    newest = _manifest(newest_path)
    assert newest["version"] == final_version and newest["checksum"] == replica.checksum
    site.stop()
    said = site.run("restore", newest_path)
    assert f"continues at version {final_version} with the same checksum" in said
    site.start()
    assert replica.sync(site.url, site.token).mode == "unchanged"
    site.import_targets(site.contributor, ["after-restore.example"])
    result = replica.sync(site.url, site.token)
    assert result.mode == "incremental" and result.added == ("after-restore.example",)

    # The older backup: the server never goes back silently; the client is told to resync.
    held = replica.version
    site.stop()
    said = site.run("restore", older_path)
    assert "410 resync_required" in said
    site.start()
    result = replica.sync(site.url, site.token)
    assert result.full and "410" in result.reason
    assert replica.version > held
    assert replica.checksum == older["checksum"]
    assert "after-restore.example" not in replica.targets() and "first-0.example" in replica.targets()
    # The backup was consistent: its change log ends at the version its manifest names.
    assert int(site.python(CHANGE_LOG_END).strip()) == older["version"]


def test_a_sqlite_backup_holds_a_consistent_database(tmp_path):
    site = Installation(tmp_path, None)
    site.fresh_database()
    slug = site.run("org", "create", "--kind", "contributor", "--name", "Office", "--country", "IT").strip()
    site.import_targets(slug, ["a.example", "b.example"])
    path = site.run("backup", "-o", str(tmp_path / "b.tar")).strip()
    with tarfile.open(path) as tar:
        tar.extract("database.sqlite3", tmp_path, filter="data")
    copy = sqlite3.connect(tmp_path / "database.sqlite3")
    assert copy.execute("SELECT version FROM feed_feedstate").fetchone()[0] == _manifest(path)["version"] == 2
    assert sorted(t for (t,) in copy.execute("SELECT target FROM feed_feedentry")) == ["a.example", "b.example"]


def test_a_new_database_takes_the_newest_backup_as_it_is_unless_told_to_resync(tmp_path):
    old = Installation(tmp_path / "old", None)
    (tmp_path / "old").mkdir()
    old.fresh_database()
    slug = old.run("org", "create", "--kind", "contributor", "--name", "Office", "--country", "IT").strip()
    old.import_targets(slug, ["a.example", "b.example"])
    path = old.run("backup", "-o", str(tmp_path / "b.tar")).strip()

    for name, options, said in [("moved", [], "continues at version 2 with the same checksum"),
                                ("lost", ["--resync"], "continues at version 3 with a new epoch")]:
        (tmp_path / name).mkdir()
        new = Installation(tmp_path / name, None)
        new.fresh_database()
        assert said in new.run("restore", path, *options)
        assert new.run("export") == "a.example\nb.example\n"
