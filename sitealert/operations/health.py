"""/healthz and /readyz: is the process alive, and can it serve (database, migrations, feed cache)?

Each check only reads: the database answers `SELECT 1`, the migration plan to the latest
migrations is empty, and the feed cache directory is writable as the permission bits say
(os.access), without writing a file there.
"""

import os
from pathlib import Path

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from sitealert.core.conf import setting

OK = "ok"


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return "unreachable"
    return OK


def _migrations():
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return "unreadable"
    return f"{len(plan)} not applied: run 'sitealert migrate'" if plan else OK


def _feed_cache():
    """The directory exists and is writable, or may be created (its nearest existing parent is writable)."""
    path = Path(setting("FEED_CACHE_DIR"))
    if path.exists():
        if not path.is_dir():
            return "not a directory"
        return OK if os.access(path, os.W_OK | os.X_OK) else "not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return OK if os.access(parent, os.W_OK | os.X_OK) else "missing, and cannot be created"


def newest_cached_version(epoch):
    """The newest version whose documents are built in this machine's feed cache (its checksum file is
    written last), or None. Reads the directory listing only; creates nothing."""
    try:
        names = os.listdir(os.path.join(setting("FEED_CACHE_DIR"), epoch))
    except OSError:
        return None
    versions = [int(name[9:]) for name in names if name.startswith("checksum-") and name[9:].isdigit()]
    return max(versions, default=None)


def readiness():
    """{"database": "ok" or a problem, "migrations": …, "feed_cache": …}."""
    checks = {"database": _database()}
    checks["migrations"] = _migrations() if checks["database"] == OK else "not checked: no database"
    checks["feed_cache"] = _feed_cache()
    return checks
