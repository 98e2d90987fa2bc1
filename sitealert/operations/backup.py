"""`sitealert backup` and `sitealert restore`: the whole database in one file, and back.

A backup is an uncompressed tar file holding `manifest.json` (the database vendor and the list's
version, epoch and checksum at the moment of the snapshot) and the database: a SQLite copy made
with SQLite's online backup API, or a `pg_dump` archive in the custom format. Both read one
consistent snapshot while writers carry on: SQLite copies every page in one step (one read
transaction), and PostgreSQL's pg_dump runs in a snapshot this process exports, in which the
manifest is read too, so the manifest always describes exactly the data beside it.

A restore puts the data back. Restoring the newest backup changes nothing for clients: the list
has the same version, checksum and epoch, and replicas keep syncing incrementally. A backup older
than what clients may hold (the database being replaced, or this machine's feed cache, had a newer
version of the list, or the backup comes from another lineage) must not let a replica apply the
changes of a new history to the list of an old one: the restore gives the list a new epoch (so
no cached document of the lost versions is served) and moves its version past every version
known, with the history pruned up to there, so every client's next sync is told
`410 resync_required` and downloads the full list.
"""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from sitealert.core import audit
from sitealert.core.actors import Actor
from sitealert.feed.models import FeedState, new_epoch
from sitealert.feed.state import published
from sitealert.operations.health import newest_cached_version

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class Manifest:
    vendor: str
    version: int
    pruned_through: int
    epoch: str
    checksum: str
    created_at: str
    format: int = FORMAT


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    previous_version: int | None  # of the database replaced, when it had a list
    known_version: int  # the newest version clients may hold, as far as this machine knows
    version: int  # of the list now
    epoch: str
    resync: bool  # clients must download the full list


# --- Reading the list's state in a snapshot ------------------------------------------------------

def _state(cursor, order):
    """(version, pruned_through, epoch, checksum) of the list as `cursor` sees it."""
    cursor.execute("SELECT version, pruned_through, epoch FROM feed_feedstate WHERE id = 1")
    version, pruned_through, epoch = cursor.fetchone() or (0, 0, "")
    digest = hashlib.sha256()
    cursor.execute(f"SELECT target FROM feed_feedentry ORDER BY target{order}")
    while rows := cursor.fetchmany(10_000):
        for (target,) in rows:
            digest.update(target.encode("utf-8") + b"\n")
    return version, pruned_through, epoch, "sha256:" + digest.hexdigest()


def _manifest(vendor, state):
    version, pruned_through, epoch, checksum = state
    return Manifest(vendor=vendor, version=version, pruned_through=pruned_through, epoch=epoch, checksum=checksum,
                    created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


# --- SQLite ----------------------------------------------------------------------------------

def _sqlite_backup(path):
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)  # all pages in one step: one read snapshot
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {settings.DATABASES['default']['NAME']} failed: {exc}") from None
    finally:
        target.close()
    copy = sqlite3.connect(path)
    try:
        return _manifest("sqlite", _state(copy.cursor(), ""))
    finally:
        copy.close()


def _sqlite_restore(path):
    source = sqlite3.connect(path)
    try:
        try:
            problem = source.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the database in the backup is damaged: {exc}") from None
        if problem != "ok":
            raise BackupError(f"the database in the backup is damaged: {problem}")
        connection.ensure_connection()
        try:
            source.backup(connection.connection)  # in one transaction: a failure leaves the database as it was
        except sqlite3.Error as exc:
            raise BackupError(f"the restore into {settings.DATABASES['default']['NAME']} failed: {exc} (is "
                              f"another process writing? stop the server and the worker first)") from None
    finally:
        source.close()


# --- PostgreSQL ------------------------------------------------------------------------------

def _postgresql_program(name):
    program = shutil.which(name)
    if program is None:
        raise BackupError(f"{name} is not on the PATH: install the PostgreSQL client programs of the server's "
                          f"major version or newer (Debian: apt-get install postgresql-client)")
    return program


def _quoted(value):
    """A libpq connection-string value: in single quotes, with backslashes and quotes escaped."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _postgresql_target():
    """(conninfo without the password, environment with it): a password never appears in `ps`."""
    db = settings.DATABASES["default"]
    parts = {"dbname": db["NAME"], "user": db.get("USER"), "host": db.get("HOST"), "port": db.get("PORT"),
             **db.get("OPTIONS", {})}
    conninfo = " ".join(f"{key}={_quoted(value)}" for key, value in parts.items() if value)
    environment = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    if not db.get("PASSWORD"):
        environment.pop("PGPASSWORD")
    return conninfo, environment


def _run(command, environment, what):
    run = subprocess.run(command, env=environment, capture_output=True, text=True)
    if run.returncode != 0:
        raise BackupError(f"{what} failed: {run.stderr.strip() or f'exit status {run.returncode}'}")


def _postgresql_backup(path):
    pg_dump = _postgresql_program("pg_dump")
    conninfo, environment = _postgresql_target()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
        manifest = _manifest("postgresql", _state(cursor, ' COLLATE "C"'))
        # pg_dump reads the snapshot this transaction exported: the data the manifest describes.
        _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={path}", f"--dbname={conninfo}"],
             environment, "pg_dump")
    return manifest


def _postgresql_restore(path):
    pg_restore = _postgresql_program("pg_restore")
    conninfo, environment = _postgresql_target()
    # One transaction: a restore that fails half-way leaves the database as it was.
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={conninfo}", path], environment, "pg_restore")
    connection.close()  # statements this connection prepared name tables that were just replaced


# --- Backup ----------------------------------------------------------------------------------

def default_name(manifest):
    return f"sitealert-backup-{manifest.created_at.replace(':', '').replace('-', '')}-v{manifest.version}.tar"


def backup(output=None):
    """Write a backup to `output` (a file, or a directory for a generated name; default: here);
    return (path, manifest). The file appears whole or not at all."""
    vendor = connection.vendor
    if vendor not in DATABASE:
        raise BackupError(f"backups of a {vendor} database are not supported")
    output = os.path.abspath(output or ".")
    directory = output if os.path.isdir(output) else os.path.dirname(output)
    if not os.path.isdir(directory):
        raise BackupError(f"cannot write {output}: the directory {directory} does not exist")
    try:
        work = tempfile.mkdtemp(prefix=".sitealert-backup-", dir=directory)
    except OSError as exc:
        raise BackupError(f"cannot write in {directory}: {exc.strerror}") from None
    try:
        data = os.path.join(work, DATABASE[vendor])
        manifest = _sqlite_backup(data) if vendor == "sqlite" else _postgresql_backup(data)
        path = os.path.join(output, default_name(manifest)) if os.path.isdir(output) else output
        packed = os.path.join(work, "backup.tar")
        with tarfile.open(packed, "w") as tar:
            body = json.dumps(asdict(manifest), indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(body), int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(body))
            tar.add(data, arcname=DATABASE[vendor])
        os.replace(packed, path)
    except OSError as exc:
        raise BackupError(f"cannot write the backup: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path, manifest


# --- Restore ---------------------------------------------------------------------------------

def read_manifest(path):
    """The manifest of the backup at `path`; BackupError when it is not a SiteAlert backup."""
    try:
        with tarfile.open(path, "r:") as tar:
            names = tar.getnames()
            member = tar.extractfile(MANIFEST) if MANIFEST in names else None
            if member is None:
                raise BackupError(f"{path} is not a SiteAlert backup: it has no {MANIFEST}")
            raw = json.loads(member.read())
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a directory, not a backup file") from None
    except (tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} is not a SiteAlert backup (made by 'sitealert backup'): {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    try:
        manifest = Manifest(**raw)
    except TypeError:
        raise BackupError(f"{path} has a manifest SiteAlert does not understand") from None
    if manifest.format != FORMAT or manifest.vendor not in DATABASE:
        raise BackupError(f"{path} is a backup of format {manifest.format} ({manifest.vendor}), which this version "
                          f"of SiteAlert cannot restore")
    if DATABASE[manifest.vendor] not in names:
        raise BackupError(f"{path} is incomplete: it has no {DATABASE[manifest.vendor]}")
    return manifest


def _live_list():
    """(version, epoch) of the list in the database about to be replaced, or None when it has none."""
    try:
        row = FeedState.objects.filter(pk=1).values_list("version", "epoch").first()
    except DatabaseError:  # no tables yet: a new database
        return None
    return row if row and row[0] else None


def restore(path, *, resync=False):
    """Replace the database with the backup at `path`; return what became of the list (Restored)."""
    manifest = read_manifest(path)
    vendor = connection.vendor
    if manifest.vendor != vendor:
        raise BackupError(f"{path} is a backup of a {manifest.vendor} database, and this installation uses "
                          f"{vendor}: restore it into a {manifest.vendor} installation")
    live = _live_list()
    known = max(live[0] if live else 0, newest_cached_version(manifest.epoch) or 0)
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(prefix=".sitealert-restore-", dir=directory) as work:
        with tarfile.open(path, "r:") as tar:
            tar.extract(DATABASE[vendor], work, filter="data")
        data = os.path.join(work, DATABASE[vendor])
        if vendor == "sqlite":
            _sqlite_restore(data)
        else:
            _postgresql_restore(data)
    same_lineage = live is None or live[1] == manifest.epoch
    stale = resync or not same_lineage or known > manifest.version
    version, epoch = manifest.version, manifest.epoch
    with transaction.atomic():
        if stale:
            version, epoch = max(known, manifest.version) + 1, new_epoch()
            FeedState.objects.update_or_create(pk=1, defaults={"version": version, "pruned_through": version,
                                                               "epoch": epoch})
        audit.record(Actor(via="cli"), "database.restore", os.path.basename(path), {
            "backup_version": manifest.version, "backup_created_at": manifest.created_at,
            "previous_version": live[0] if live else None, "version": version, "resync": stale})
        published()  # the database was replaced: a running server reads the list's state again
    return Restored(manifest=manifest, previous_version=live[0] if live else None, known_version=known,
                    version=version, epoch=epoch, resync=stale)
