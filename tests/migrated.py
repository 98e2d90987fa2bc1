"""Fresh databases for the tests' `sitealert` processes, migrated once per test run instead of once each.

`sitealert migrate` (the real command, in a subprocess) runs once for the run's SQLite database and once
per test process for PostgreSQL; every installation, scratch database and served site then starts from
a copy of that database:

- `sqlite(data_dir)` copies the migrated file to DATA_DIR/sitealert.sqlite3. The xdist workers of a
  run share it (made under a lock in the run's temporary directory, `use_directory`).
- `postgresql(server_url, name)` creates database `name` with `CREATE DATABASE … TEMPLATE` a database
  this process migrated once (dropped at the end of the session, or at exit); returns its URL.

A migrated database holds nothing that tells installations apart: the Installation uid and the feed's
epoch are made when first used, and SECRET_KEY (a setting, or a file made in the installation's own
DATA_DIR) and SITE_URL are the installation's environment. tests/test_migrated.py holds that, and that
a copy is what `sitealert migrate` leaves. Tests of `migrate` itself still run it.
"""

import atexit
import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
SQLITE_NAME = "sitealert.sqlite3"

_directory = None
_templates = {}  # PostgreSQL server URL -> this process's migrated template database


def use_directory(directory):
    """Keep the migrated SQLite database in `directory` (tests/conftest.py: the run's temporary
    directory, shared by its xdist workers). Without it, a directory of this process's own."""
    global _directory
    _directory = Path(directory)


def _migrate(data_dir, database_url=None):
    """`sitealert migrate` for a data directory (and a PostgreSQL database) of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITEALERT_")}
    env.update(SITEALERT_DATA_DIR=str(data_dir), SITEALERT_SECRET_KEY="migrated-template",
               DJANGO_SETTINGS_MODULE="sitealert.settings", PYTHONPATH=str(ROOT))
    if database_url:
        env["SITEALERT_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-m", "sitealert", "migrate"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"sitealert migrate exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def sqlite_template():
    """The path of the run's migrated SQLite database, made by the first process that needs it."""
    global _directory
    if _directory is None:
        _directory = Path(tempfile.mkdtemp(prefix="sitealert-migrated-"))
        atexit.register(shutil.rmtree, _directory, ignore_errors=True)
    template = _directory / SQLITE_NAME
    if template.exists():
        return template
    _directory.mkdir(parents=True, exist_ok=True)
    with open(_directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be making it
        if not template.exists():
            work = Path(tempfile.mkdtemp(prefix="migrating-", dir=_directory))
            _migrate(work)
            # The process has closed its connections: the write-ahead log is folded into the file.
            assert not (work / f"{SQLITE_NAME}-wal").exists() or not (work / f"{SQLITE_NAME}-wal").stat().st_size
            os.replace(work / SQLITE_NAME, template)
            shutil.rmtree(work, ignore_errors=True)
    return template


def sqlite(data_dir):
    """Put a migrated SQLite database in `data_dir` (created if need be), as `sitealert migrate` leaves it."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(), data_dir / SQLITE_NAME)
    return data_dir / SQLITE_NAME


def _database_url(server_url, name):
    return urlparse(server_url)._replace(path="/" + name).geturl()


@atexit.register
def drop_templates():
    """Drop the PostgreSQL templates this process made (tests/conftest.py at the end of the session;
    at exit otherwise)."""
    while _templates:
        _drop_template(next(iter(_templates)))


def _drop_template(server_url):
    import psycopg

    name = _templates.pop(server_url)
    try:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:
        pass  # the server is gone already (a test's own server, stopped)


def postgresql_template(server_url):
    """The name of this process's migrated template database on `server_url`'s server."""
    import psycopg

    name = _templates.get(server_url)
    if name is not None:
        with psycopg.connect(server_url, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall():
                name = None  # another server that came to have the same address (a test's own server)
    if name is None:
        name = f"sitealert_migrated_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        _templates[server_url] = name  # dropped at the end, migrated or not
        with tempfile.TemporaryDirectory(prefix="sitealert-migrating-") as work:
            try:
                _migrate(work, _database_url(server_url, name))
            except BaseException:
                _drop_template(server_url)
                raise
    return name


def postgresql(server_url, name):
    """Create database `name` on `server_url`'s server as a copy of the migrated template; its URL."""
    import psycopg

    template = postgresql_template(server_url)
    with psycopg.connect(server_url, autocommit=True) as connection:
        for attempt in range(50):
            try:
                connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                break
            except psycopg.errors.ObjectInUse:
                # The migrating process's session may still be ending: a template must have none.
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return _database_url(server_url, name)
