"""The replica on disk, written so that a crash at any point leaves a readable replica.

A replica directory holds:

- ``MANIFEST.json`` — the only file readers start from: format, version, checksum, row count, the
  names of the base and overlay generation files and their SHA-256, where and when it was synced,
  the last ETag;
- ``base-<version>-<random>.gen`` — a whole list as a generation file (sitealert.matcher.generation:
  records sorted by target, the hash table's slots, the combos), which the matcher uses in place
  through a read-only shared memory map: opening costs the same at ten entries or ten million, and
  every process on the host shares one copy;
- ``delta-<version>-<random>.gen`` (optional) — the overlay: entries added or changed since the
  base and a tombstone for each base entry removed. An incremental sync writes a new overlay (base
  ⊕ old overlay ⊕ changes), so its cost follows the changes, not the list; once the overlay grows
  past ``COMPACT_FRACTION`` of the base (at least ``COMPACT_MINIMUM`` records) compaction is due:
  ``compact`` (its own step, outside any sync) merges base ⊕ overlay into a new base, verifies it
  against the manifest's checksum and names it in a new manifest without an overlay;
- ``.lock`` — held (flock) by the process that is syncing.

An update writes a new generation file under a temporary name, fsyncs it, renames it into place,
then writes a new manifest the same way and renames it over the old one (``os.replace`` is atomic),
then fsyncs the directory. Until that last rename readers see the previous version, after it the
new one; files no manifest names (debris of an interrupted sync) are removed by the next sync. The
previous base and overlay are kept one generation, so a reader that read the old manifest an
instant before the swap can still open what it names.

Opening checks the manifest, the files' headers and sizes and that their checksum is the
manifest's, not every byte (``verify`` reads everything: the files' SHA-256 and the list's SPEC
§4 checksum); a sync verifies everything it writes before the swap.

``crashpoint(name)`` lets the tests kill a syncing process at each step (``SITEALERT_TEST_CRASH_AT``).
"""

import hashlib
import json
import mmap
import os
import re
import secrets
import signal
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from sitealert.matcher import Matcher, generation

from .errors import ReplicaDamaged, SyncInProgress

FORMAT = "sitealert-replica"
FORMAT_VERSION = 2
MANIFEST = "MANIFEST.json"
LOCK = ".lock"
DATA_NAME = re.compile(r"(?:base|delta)-[0-9]{12,}-[0-9a-f]{8}\.gen")
# Format 1: the list in one tab-separated file; the next sync converts it (sync.convert_format_1).
OLD_FORMAT_VERSION = 1
OLD_DATA_NAME = re.compile(r"entries-[0-9]{12,}-[0-9a-f]{8}\.tsv")
COMPACT_MINIMUM = 100_000
COMPACT_FRACTION = 16  # an overlay of more than 1/16 of the base's records is merged into a new base
EMPTY_CHECKSUM = "sha256:" + hashlib.sha256(b"").hexdigest()
_READ_ATTEMPTS = 3


def compaction_due(snapshot: "Snapshot") -> bool:
    """Whether the overlay has grown enough to be merged into a new base (``compact``)."""
    overlay = snapshot.overlay
    return overlay is not None and \
        overlay.header.count > max(COMPACT_MINIMUM, snapshot.base.header.count // COMPACT_FRACTION)


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


def list_checksum(matcher: Matcher) -> str:
    """SPEC §4 checksum of a matcher's list, fed to SHA-256 a megabyte at a time (no list of targets)."""
    digest = hashlib.sha256()
    matcher.feed(digest.update)
    return "sha256:" + digest.hexdigest()


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
    if manifest.get("format_version") == OLD_FORMAT_VERSION:
        raise ReplicaDamaged(f"{MANIFEST} has format version 1, an older client's; the next sync converts it "
                             f"in place, without downloading the list")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ReplicaDamaged(f"{MANIFEST} has format version {manifest.get('format_version')!r}; "
                             f"this client reads version {FORMAT_VERSION}")
    _check_fields(manifest)
    for key in ("data", "overlay"):
        name = manifest.get(key)
        if name is not None and (not isinstance(name, str) or not DATA_NAME.fullmatch(name)):
            raise ReplicaDamaged(f"{MANIFEST} names an unexpected data file {name!r}")
    if manifest.get("overlay") is not None and not isinstance(manifest.get("overlay_sha256"), str):
        raise ReplicaDamaged(f"{MANIFEST} lacks a valid 'overlay_sha256'")
    return manifest


def _check_fields(manifest: dict[str, Any]) -> None:
    for key, kind in (("version", int), ("checksum", str), ("data", str), ("data_sha256", str), ("count", int)):
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise ReplicaDamaged(f"{MANIFEST} lacks a valid {key!r}")


def read_old_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of a format-1 replica (its list in one tab-separated file, named by "data"), or
    None for any other replica; ReplicaDamaged if it is a format-1 manifest that names no such file."""
    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or manifest.get("format_version") != OLD_FORMAT_VERSION:
        return None
    _check_fields(manifest)
    if not OLD_DATA_NAME.fullmatch(manifest["data"]):
        raise ReplicaDamaged(f"{MANIFEST} names an unexpected data file {manifest['data']!r}")
    return manifest


@dataclass
class Snapshot:
    """What a manifest names, opened: the base and the overlay, mapped, headers checked."""

    manifest: dict[str, Any]
    base: generation.Generation
    overlay: generation.Generation | None

    def close(self) -> None:
        self.base.close()
        if self.overlay is not None:
            self.overlay.close()

    def release(self) -> None:
        """Unmap the pages this process has touched (the page cache keeps them; a later access
        maps them again). Each lookup of a sync touches a slot page and a record page, and the
        kernel maps the pages around each (fault-around, about 270 kB a lookup measured):
        without this, ten thousand changes would leave a few hundred megabytes of the file
        counted in the syncing process's resident set."""
        for part in (self.base, self.overlay):
            if part is not None and isinstance(part.data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
                part.data.madvise(mmap.MADV_DONTNEED)


def _open_generation(path: Path, name: str, kind: int) -> generation.Generation:
    try:
        opened = generation.open_file(path / name)
    except FileNotFoundError:
        raise ReplicaDamaged(f"the data file {name} is missing") from None
    except OSError as exc:
        raise ReplicaDamaged(f"cannot read {name}: {exc.strerror}") from None
    except generation.GenerationError as exc:
        raise ReplicaDamaged(f"{name} is damaged: {exc}") from None
    if opened.header.kind != kind:
        opened.close()
        raise ReplicaDamaged(f"{name} is not a {'base' if kind == generation.BASE else 'delta'} generation")
    return opened


def open_files(path: Path, manifest: dict[str, Any]) -> Snapshot:
    """Map the manifest's files and check their headers against it (constant time)."""
    base = _open_generation(path, manifest["data"], generation.BASE)
    overlay = None
    if manifest.get("overlay"):
        try:
            overlay = _open_generation(path, manifest["overlay"], generation.OVERLAY)
        except ReplicaDamaged:
            base.close()
            raise
    snapshot = Snapshot(manifest, base, overlay)
    top = overlay or base
    if top.header.checksum != manifest["checksum"] or top.header.total != manifest["count"]:
        snapshot.close()
        raise ReplicaDamaged(f"the data files do not hold the list {MANIFEST} describes")
    return snapshot


def open_snapshot(path: Path) -> Snapshot | None:
    """The current files, opened consistently even while another process syncs (None for a replica
    never synced); ReplicaDamaged if they are unusable."""
    for attempt in range(_READ_ATTEMPTS):
        manifest = read_manifest(path)
        if manifest is None:
            return None
        try:
            return open_files(path, manifest)
        except ReplicaDamaged:
            # A sync may have swapped the manifest and pruned the file we were about to read.
            if attempt + 1 < _READ_ATTEMPTS and read_manifest(path) != manifest:
                continue
            raise
    raise ReplicaDamaged("the replica kept changing while it was read")  # pragma: no cover


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Every byte of the manifest's files against their SHA-256; ReplicaDamaged if one differs."""
    for key in ("data", "overlay"):
        name = manifest.get(key)
        if not name:
            continue
        try:
            actual = file_sha256(path / name)
        except FileNotFoundError:
            raise ReplicaDamaged(f"the data file {name} is missing") from None
        except OSError as exc:
            raise ReplicaDamaged(f"cannot read {name}: {exc.strerror}") from None
        if actual != manifest[f"{key}_sha256"]:
            raise ReplicaDamaged(f"{name} does not match its SHA-256 in {MANIFEST}")


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


def _write_file(path: Path, chunks: Iterable[bytes]) -> str:
    """Write chunks to path (new file), fsync it; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with open(path, "xb") as f:
        for chunk in chunks:
            digest.update(chunk)
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return digest.hexdigest()


class _Writer(generation.Writer):
    """The generation writer with the tests' crash point after its first records reach the disk."""

    def __init__(self, file: BinaryIO, *, kind: int) -> None:
        super().__init__(file, kind=kind)
        self._first = True

    def add(self, records: bytes) -> None:
        super().add(records)
        if self._first:
            self._first = False
            self._file.flush()
            crashpoint("data-partial")


def write_generation(path: Path, version: int, kind: int,
                     fill: Callable[[generation.Writer], generation.Header]) -> tuple[str, str, generation.Header]:
    """Write a new generation file with `fill` (which adds the records and finishes the writer),
    fsync it and rename it into place; return (name, SHA-256, header). Nothing is left behind
    if fill raises."""
    prefix = "base" if kind == generation.BASE else "delta"
    name = f"{prefix}-{version:012d}-{secrets.token_hex(4)}.gen"
    temporary = path / (name + ".tmp")
    try:
        with open(temporary, "x+b") as f:
            header = fill(_Writer(f, kind=kind))
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sha256 = file_sha256(temporary)
    crashpoint("data-written")
    os.replace(temporary, path / name)
    _fsync_directory(path)
    crashpoint("data-renamed")
    return name, sha256, header


def new_manifest(version: int, checksum: str, count: int, base: tuple[str, str], overlay: tuple[str, str] | None,
                 previous: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    """The manifest of a new version: base and overlay are (file name, SHA-256)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "checksum": checksum,
        "count": count,
        "data": base[0],
        "data_sha256": base[1],
        "overlay": overlay[0] if overlay else None,
        "overlay_sha256": overlay[1] if overlay else None,
        "previous_data": previous.get("data") if previous else None,
        "previous_overlay": previous.get("overlay") if previous else None,
        **fields,
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    temporary = path / (MANIFEST + f".{secrets.token_hex(4)}.tmp")
    _write_file(temporary, [json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")])
    crashpoint("manifest-written")
    os.replace(temporary, path / MANIFEST)
    _fsync_directory(path)
    crashpoint("manifest-replaced")


def remove_debris(path: Path, manifest: dict[str, Any] | None) -> None:
    """Delete data files the manifest does not name (keeping the previous ones) and temporary files."""
    keep = {MANIFEST, LOCK}
    if manifest:
        keep.update(manifest.get(key) or "" for key in ("data", "overlay", "previous_data", "previous_overlay"))
    for child in path.iterdir():
        name = child.name
        if name in keep:
            continue
        if DATA_NAME.fullmatch(name) or OLD_DATA_NAME.fullmatch(name) or name.endswith(".tmp"):
            try:
                child.unlink()
            except FileNotFoundError:
                pass
            except PermissionError:  # Windows: a reader still maps it; the next sync tries again
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


def compact(path: Path) -> bool:
    """Merge the replica's base and overlay into a new base, verified against the manifest's
    checksum, and name it in a new manifest without an overlay (same version, same list); False if
    there is no overlay. Holds the sync lock (SyncInProgress while a sync runs). The merge streams
    into the writer a megabyte at a time; a crash at any point leaves the replica as it was or
    compacted, and the previous base and overlay are kept one round for readers that opened them."""
    with sync_lock(path):
        snapshot = open_snapshot(path)
        if snapshot is None or snapshot.overlay is None:
            return False
        manifest = snapshot.manifest
        combos = snapshot.overlay.combos
        try:
            merged = Matcher.over(snapshot.base, snapshot.overlay)

            def fill(writer: generation.Writer) -> generation.Header:
                written = merged.feed(writer.add, records=True)
                return writer.finish(combos, manifest["checksum"], count_hint=written)

            name, sha256, _header = write_generation(path, manifest["version"], generation.BASE, fill)
        except ValueError as exc:  # records out of order or running past their file
            raise ReplicaDamaged(f"cannot compact: {exc}; the replica keeps its base and overlay") from None
        finally:
            snapshot.release()
        compacted = open_files(path, {"data": name, "checksum": manifest["checksum"], "count": manifest["count"]})
        try:
            if list_checksum(Matcher.over(compacted.base)) != manifest["checksum"]:
                raise ReplicaDamaged(f"the compacted {name} does not reproduce the list's checksum; "
                                     f"the replica keeps its base and overlay")
        except BaseException:
            compacted.close()
            (path / name).unlink(missing_ok=True)
            raise
        compacted.release()
        compacted.close()
        fields = {key: value for key, value in manifest.items()
                  if key not in ("data", "data_sha256", "overlay", "overlay_sha256", "previous_data",
                                 "previous_overlay", "format", "format_version", "version", "checksum", "count")}
        new = new_manifest(manifest["version"], manifest["checksum"], manifest["count"], (name, sha256), None,
                           manifest, **fields)
        write_manifest(path, new)
        remove_debris(path, new)
    return True
