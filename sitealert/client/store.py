"""The replica on disk, written so that a crash at any point leaves a readable replica.

A replica directory holds:

- ``MANIFEST.json`` — the only file readers start from: format, version, checksum, the name of
  the data file, its SHA-256 and row count, where and when it was synced, the last ETag;
- ``entries-<version>-<random>.tsv`` — the list, one entry per line, sorted by target:
  ``target<TAB>kind<TAB>countries<TAB>categories<TAB>first_listed_at`` (countries and categories
  comma-separated). Its targets, each followed by a newline, hash to the SPEC §4 checksum;
- ``.lock`` — held (flock) by the process that is syncing.

An update writes a new data file under a temporary name, fsyncs it, renames it into place, then
writes a new manifest the same way and renames it over the old one (``os.replace`` is atomic),
then fsyncs the directory. Until that last rename readers see the previous version, after it the
new one; files no manifest names (debris of an interrupted sync) are removed by the next sync.
The previous data file is kept one generation, so a reader that read the old manifest an instant
before the swap can still open what it names.

``crashpoint(name)`` lets the tests kill a syncing process at each step (``SITEALERT_TEST_CRASH_AT``).
"""

import hashlib
import json
import os
import re
import secrets
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import ReplicaDamaged, SyncInProgress

FORMAT = "sitealert-replica"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
LOCK = ".lock"
DATA_NAME = re.compile(r"entries-[0-9]{12,}-[0-9a-f]{8}\.tsv")
EMPTY_CHECKSUM = "sha256:" + hashlib.sha256(b"").hexdigest()
_READ_ATTEMPTS = 3


def crashpoint(name: str) -> None:
    """Kill this process here when the tests ask for it (SITEALERT_TEST_CRASH_AT=name)."""
    if os.environ.get("SITEALERT_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def checksum_of(sorted_targets: Iterable[str]) -> str:
    """SPEC §4: SHA-256 over the sorted targets, each followed by a newline."""
    digest = hashlib.sha256()
    for target in sorted_targets:
        digest.update(target.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def fast_checksum(sorted_targets: list[str]) -> str:
    if not sorted_targets:
        return EMPTY_CHECKSUM
    return "sha256:" + hashlib.sha256(("\n".join(sorted_targets) + "\n").encode("utf-8")).hexdigest()


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest, None for a replica never synced; ReplicaDamaged if it is unreadable."""
    try:
        raw = (path / MANIFEST).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReplicaDamaged(f"cannot read {MANIFEST}: {exc.strerror}") from None
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise ReplicaDamaged(f"{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReplicaDamaged(f"{MANIFEST} is not a SiteAlert replica manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ReplicaDamaged(f"{MANIFEST} has format version {manifest.get('format_version')!r}; "
                             f"this client reads version {FORMAT_VERSION}")
    for key, kind in (("version", int), ("checksum", str), ("data", str), ("data_sha256", str), ("count", int)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise ReplicaDamaged(f"{MANIFEST} lacks a valid {key!r}")
    if not DATA_NAME.fullmatch(manifest["data"]):
        raise ReplicaDamaged(f"{MANIFEST} names an unexpected data file {manifest['data']!r}")
    return manifest


def read_rows(path: Path, manifest: dict[str, Any]) -> list[list[str]]:
    """The verified rows [target, kind, countries, categories, first_listed_at] of a manifest's data."""
    try:
        data = (path / manifest["data"]).read_bytes()
    except FileNotFoundError:
        raise ReplicaDamaged(f"the data file {manifest['data']} is missing") from None
    except OSError as exc:
        raise ReplicaDamaged(f"cannot read {manifest['data']}: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != manifest["data_sha256"]:
        raise ReplicaDamaged(f"{manifest['data']} does not match its SHA-256 in {MANIFEST}")
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise ReplicaDamaged(f"{manifest['data']} is not UTF-8") from None
    if lines.pop() != "" or len(lines) != manifest["count"]:
        raise ReplicaDamaged(f"{manifest['data']} does not hold {manifest['count']} entries")
    rows = [line.split("\t") for line in lines]
    if any(len(row) != 5 for row in rows):
        raise ReplicaDamaged(f"{manifest['data']} has a malformed line")
    if fast_checksum([row[0] for row in rows]) != manifest["checksum"]:
        raise ReplicaDamaged(f"the entries of {manifest['data']} do not match the list checksum")
    return rows


def read_snapshot(path: Path) -> tuple[dict[str, Any] | None, list[list[str]]]:
    """(manifest, rows) read consistently even while another process syncs; ReplicaDamaged if bad."""
    for attempt in range(_READ_ATTEMPTS):
        manifest = read_manifest(path)
        if manifest is None:
            return None, []
        try:
            return manifest, read_rows(path, manifest)
        except ReplicaDamaged:
            # A sync may have swapped the manifest and pruned the file we were about to read.
            if attempt + 1 < _READ_ATTEMPTS and read_manifest(path) != manifest:
                continue
            raise
    raise ReplicaDamaged("the replica kept changing while it was read")  # pragma: no cover


def manifest_stamp(path: Path) -> tuple[int, int, int] | None:
    """Cheap identity of the current manifest, to notice another process's sync."""
    try:
        st = os.stat(path / MANIFEST)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; its renames are durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, chunks: Iterable[bytes], crash_midway: str | None = None) -> str:
    """Write chunks to path (new file), fsync it; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with open(path, "xb") as f:
        for index, chunk in enumerate(chunks):
            digest.update(chunk)
            f.write(chunk)
            if index == 0 and crash_midway:
                f.flush()
                crashpoint(crash_midway)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


def _row_chunks(entries: dict[str, Any], targets: list[str], rows_per_chunk: int = 20000) -> Iterator[bytes]:
    for start in range(0, len(targets), rows_per_chunk):
        lines = []
        for target in targets[start:start + rows_per_chunk]:
            kind, countries, categories, first = entries[target]
            lines.append(f"{target}\t{kind}\t{','.join(countries)}\t{','.join(categories)}\t{first or ''}\n")
        yield "".join(lines).encode("utf-8")


def write_snapshot(path: Path, version: int, checksum: str, entries: dict[str, Any], previous: dict[str, Any] | None,
                   **manifest_fields: Any) -> dict[str, Any]:
    """Write a new data file and swap the manifest to it; return the new manifest.

    entries: target -> (kind, countries, categories, first_listed_at); its sorted targets must hash
    to checksum (the caller verified it).
    """
    targets = sorted(entries)
    name = f"entries-{version:012d}-{secrets.token_hex(4)}.tsv"
    temporary = path / (name + ".tmp")
    data_sha256 = _write_file(temporary, _row_chunks(entries, targets), crash_midway="data-partial")
    crashpoint("data-written")
    os.replace(temporary, path / name)
    _fsync_directory(path)
    crashpoint("data-renamed")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "checksum": checksum,
        "count": len(targets),
        "data": name,
        "data_sha256": data_sha256,
        "previous_data": previous["data"] if previous else None,
        **manifest_fields,
    }
    write_manifest(path, manifest)
    return manifest


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    temporary = path / (MANIFEST + f".{secrets.token_hex(4)}.tmp")
    _write_file(temporary, [json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")])
    crashpoint("manifest-written")
    os.replace(temporary, path / MANIFEST)
    _fsync_directory(path)
    crashpoint("manifest-replaced")


def remove_debris(path: Path, manifest: dict[str, Any] | None) -> None:
    """Delete data files the manifest does not name (keeping the previous one) and temporary files."""
    keep = {MANIFEST, LOCK}
    if manifest:
        keep.update(name for name in (manifest.get("data"), manifest.get("previous_data")) if name)
    for child in path.iterdir():
        name = child.name
        if name in keep:
            continue
        if DATA_NAME.fullmatch(name) or name.endswith(".tmp"):
            try:
                child.unlink()
            except FileNotFoundError:
                pass
    crashpoint("cleaned")


@contextmanager
def sync_lock(path: Path) -> Iterator[None]:
    """Exclusive lock on the replica directory for one sync; SyncInProgress if another holds it."""
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl: ModuleType | None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; concurrent syncs of one directory are on the user
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncInProgress(f"another process is syncing the replica at {path}") from None
        yield
    finally:
        os.close(fd)
