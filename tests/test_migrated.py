"""The tests' installations start from copies of one migrated database (tests/migrated.py): a copy must
be what `sitealert migrate` leaves, and must hold nothing that would make two installations one."""

import os
import sqlite3
import subprocess
import sys

import pytest

from tests import migrated

# What `sitealert migrate` itself writes into a new database: the applied migrations, and what Django's
# post-migrate handlers make of the models (content types, permissions). Nothing of an installation.
BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission", "sqlite_sequence"}
SERVER = os.environ.get("SITEALERT_DATABASE_URL", "")
VENDORS = ["sqlite"] + (["postgresql"] if SERVER.startswith("postgres") else [])


def _migrate(data_dir, database_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITEALERT_")}
    env.update(SITEALERT_DATA_DIR=str(data_dir), SITEALERT_SECRET_KEY="test-migrated")
    if database_url:
        env["SITEALERT_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "sitealert", "migrate"], env=env, cwd=migrated.ROOT,
                          capture_output=True, text=True, timeout=600, check=True).stdout


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_copy_is_what_sitealert_migrate_leaves(tmp_path, vendor):
    if vendor == "sqlite":
        migrated.sqlite(tmp_path)
        assert os.listdir(tmp_path) == ["sitealert.sqlite3"]  # not the template's key or anything else
        assert "No migrations to apply." in _migrate(tmp_path)
        return
    import psycopg

    name = f"test_migrated_{os.getpid()}"
    try:
        assert "No migrations to apply." in _migrate(tmp_path, migrated.postgresql(SERVER, name))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrated_database_holds_nothing_of_an_installation():
    connection = sqlite3.connect(f"file:{migrated.sqlite_template()}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        filled = {name for name in tables if connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchall()}
    finally:
        connection.close()
    # The installation's identity (federation_installation's uid) and the list's epoch (feed_feedstate)
    # are made when first used, in each installation's own database.
    assert {"federation_installation", "feed_feedstate"} <= set(tables)
    assert filled <= BOOKKEEPING, filled - BOOKKEEPING
