"""The feed's documents on disk, under FEED_CACHE_DIR/<epoch>/, so that serving one is reading a file.

What this module guarantees:
- A file appears whole or not at all: it is written under a temporary name and renamed into
  place, so a reader, or a build that crashed halfway, never leaves half a document behind.
- A version's documents count as built once its checksum file exists: `store` and `store_stream`
  write it last. A changes document (`store_changes`) counts once it exists, after its gzip twin.
- One builder per document at a time on this machine (`lock`, an fcntl lock on a file beside the
  documents); the others wait, then find the document built. Without fcntl (Windows) concurrent
  builds are only wasteful, not wrong.
- `prune` removes superseded documents (feed documents, changes documents of older versions) and
  checksums; a file already open stays readable.
- The lookup's base (`lookup-<version>.gen`, a generation file of the list at that version that
  every process maps read-only, sitealert.feed.lookup) and the private lookup's
  (`hashes-<version>.sha256`, sitealert.feed.private) are written the same way, fsynced before
  they are renamed into place (`store_base`), and `prune_bases` removes the older ones of a kind
  once a newer one is written; a process that mapped an older one keeps its pages.
  `mapped_base` finds or writes the base a process maps.
- `remove_debris`, at every prune, removes what a writer killed halfway left (a temporary file that
  no live writer holds and none touched for DEBRIS_SECONDS), lock files as old that nobody holds
  (one per client version the changes were asked since), and the directories of other epochs.
A new epoch (a reset feed) is a new directory, so a document of an old epoch is never served.
"""

import hashlib
import os
import re
import shutil
import struct
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress

from isal import isal_zlib

from sitealert.core.conf import setting

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: concurrent builds are only wasteful, not wrong
    fcntl = None

# Level 1 compresses these documents ~15-20x; higher levels save a little bandwidth for seconds of
# CPU on every new version of a large list. ISA-L's deflate (isal), not zlib's: at level 1 it
# compressed the 1.4 GB JSON document of ten million entries at 1,850 MB/s, zlib at 533 MB/s,
# and a little smaller; a cold build of it with its gzip twin spent 4.4 s of CPU in zlib.
GZIP_LEVEL = 1


def epoch_directory(epoch):
    """The directory of `epoch`'s documents, created if need be."""
    path = os.path.join(setting("FEED_CACHE_DIR"), epoch)
    os.makedirs(path, exist_ok=True)
    return path


def paths(directory, version, fmt):
    """(document, its gzip twin, the version's checksum)."""
    stem = os.path.join(directory, f"feed-{version}.{fmt}")
    return stem, stem + ".gz", os.path.join(directory, f"checksum-{version}")


def changes_paths(directory, since, version):
    """(the changes document for a client at `since`, at `version`; its gzip twin)."""
    stem = os.path.join(directory, f"changes-{since}-{version}.json")
    return stem, stem + ".gz"


def is_built(directory, version, fmt):
    """Whether `version`'s document of `fmt` is on disk and, its checksum written, complete."""
    plain, _, checksum_path = paths(directory, version, fmt)
    return os.path.exists(plain) and read_text(checksum_path) is not None


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def previous_version(directory, fmt, version, pruned_through):
    """The newest cached document of `fmt` up to `version` whose later changes are retained."""
    suffix = "." + fmt
    versions = [int(name[5:-len(suffix)]) for name in os.listdir(directory)
                if name.startswith("feed-") and name.endswith(suffix) and name[5:-len(suffix)].isdigit()]
    return max((v for v in versions if pruned_through <= v <= version), default=None)


@contextmanager
def lock(directory, name):
    """One builder per document at a time on this machine; the others then find it built."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(os.path.join(directory, f".lock-{name}"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


TEMPORARY_PREFIX = ".tmp-"


@contextmanager
def _atomic_file(path, mode="wb"):
    """A file object whose content replaces `path` in one step, or not at all. The writer holds an
    fcntl lock on the temporary file while it writes: `remove_debris` leaves it alone."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=TEMPORARY_PREFIX)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        # mkstemp makes it 0600; the service's group may read it too: the reverse proxy sends the
        # documents itself with X-Accel-Redirect (docs/production.md).
        os.chmod(tmp, 0o640)
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


# A gzip member's header as zlib writes it at level 1 (no name, no time, fastest, Unix).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03"


def crc32_combine(crc1, crc2, length2):
    """The CRC-32 of a + b from crc32(a), crc32(b) and len(b) (zlib's crc32_combine, which Python's
    zlib does not expose): multiplying by the CRC's polynomial in GF(2), squared per bit of the length."""
    def times(matrix, vector):
        total, i = 0, 0
        while vector:
            if vector & 1:
                total ^= matrix[i]
            vector >>= 1
            i += 1
        return total

    def square(matrix):
        return [times(matrix, row) for row in matrix]

    if length2 <= 0:
        return crc1
    odd = square(square([0xEDB88320] + [1 << n for n in range(31)]))  # shifts by 4 zero bits
    while length2:
        odd = even = square(odd)
        if length2 & 1:
            crc1 = times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = square(even)
        if length2 & 1:
            crc1 = times(odd, crc1)
        length2 >>= 1
    return crc1 ^ crc2


class _GzipWriter:
    """Compresses on a second thread while the caller produces the next piece (isal drops the GIL).
    Register it with an ExitStack: its thread stops however the writing ends. `head` bytes at the
    start are kept uncompressed (a stored block), to be written in place by `close`."""

    def __init__(self, out, files, head=0):
        self.out = out
        self.compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -15)
        self.pool = ThreadPoolExecutor(1)
        files.callback(self.pool.shutdown)
        self.pending = deque()
        self.crc = self.size = 0
        out.write(_GZIP_HEADER)
        if head:
            out.write(struct.pack("<BHH", 0, head, head ^ 0xFFFF) + bytes(head))

    def _compress(self, data):
        self.crc = isal_zlib.crc32(data, self.crc)
        return self.compressor.compress(data)

    def write(self, data):
        self.size += len(data)
        self.pending.append(self.pool.submit(self._compress, data))
        while len(self.pending) > 2:
            self.out.write(self.pending.popleft().result())

    def close(self, head=b""):
        while self.pending:
            self.out.write(self.pending.popleft().result())
        self.out.write(self.compressor.flush())
        crc = crc32_combine(isal_zlib.crc32(head), self.crc, self.size) if head else self.crc
        self.out.write(struct.pack("<II", crc, (len(head) + self.size) & 0xFFFFFFFF))
        if head:
            self.out.seek(len(_GZIP_HEADER) + 5)
            self.out.write(head)


def _write_document(plain, packed, pieces):
    """Write a document from its pieces (bytes) and, unless `packed` is None, its gzip twin; the
    document appears last."""
    with ExitStack() as files:
        out = files.enter_context(_atomic_file(plain))
        gz = _GzipWriter(files.enter_context(_atomic_file(packed)), files) if packed else None
        for data in pieces:
            out.write(data)
            if gz is not None:
                gz.write(data)
        if gz is not None:
            gz.close()


def store(directory, version, fmt, checksum, pieces, gzipped, txt=None):
    """Write a document from its pieces (bytes), its gzip twin if wanted, the txt document if
    given and, last, the checksum that makes the version's documents visible."""
    plain, packed, checksum_path = paths(directory, version, fmt)
    _write_document(plain, packed if gzipped else None, pieces)
    if txt is not None:
        with _atomic_file(paths(directory, version, "txt")[0]) as f:
            for data in txt:
                f.write(data)
    with _atomic_file(checksum_path) as f:
        f.write(checksum.encode())


def store_stream(directory, version, fmt, pieces, gzipped, head=None):
    """Write `version`'s document of `fmt` from its pieces, (document bytes, txt bytes) pairs, with
    its gzip twin if wanted and the txt document beside it, then the checksum computed from the txt
    bytes as they pass, which makes the version's documents visible; return the checksum. Nothing
    is held but the piece at hand. `head(checksum)` gives the document's first bytes, which must not
    change length with the checksum: they are written in place once the checksum is known."""
    plain, packed, checksum_path = paths(directory, version, fmt)
    digest = hashlib.sha256()
    placeholder = head("sha256:" + "0" * 64) if head else b""
    with ExitStack() as files:
        out = files.enter_context(_atomic_file(plain))
        gz = _GzipWriter(files.enter_context(_atomic_file(packed)), files, len(placeholder)) if gzipped else None
        txt = None if fmt == "txt" else files.enter_context(_atomic_file(paths(directory, version, "txt")[0]))
        out.write(placeholder)
        for data, lines in pieces:
            out.write(data)
            if gz is not None:
                gz.write(data)
            if txt is not None:
                txt.write(lines)
            digest.update(lines)
        checksum = "sha256:" + digest.hexdigest()
        written = head(checksum) if head else b""
        if len(written) != len(placeholder):
            raise ValueError("the document's head changed length with its checksum")
        if written:
            out.seek(0)
            out.write(written)
        if gz is not None:
            gz.close(written)
    with _atomic_file(checksum_path) as f:
        f.write(checksum.encode())
    return checksum


def store_changes(directory, since, version, pieces):
    """Write the changes document for a client at `since` and its gzip twin (the checksum of
    `version` must be stored already)."""
    _write_document(*changes_paths(directory, since, version), pieces)


def compress_file(source, target):
    with ExitStack() as files:
        src = files.enter_context(open(source, "rb"))
        writer = _GzipWriter(files.enter_context(_atomic_file(target)), files)
        while block := src.read(4 << 20):
            writer.write(block)
        writer.close()


def prune(directory, fmt, version):
    """After a build of `version`: drop the older documents of `fmt` (if given) and txt (the new ones
    are the better base for the next splice), older changes documents and old checksums. Open files
    stay readable."""
    for name in os.listdir(directory):
        kind, _, rest = name.partition("-")
        number, _, extension = rest.partition(".")
        if kind == "changes":  # changes-<since>-<version>.json
            number = number.partition("-")[2]
        if not number.isdigit() or kind not in ("feed", "checksum", "changes"):
            continue
        if (kind == "feed" and int(number) < version and fmt and extension.removesuffix(".gz") in (fmt, "txt")
                or kind == "changes" and int(number) < version
                or kind == "checksum" and int(number) < version - 1):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass
    remove_debris(directory)


# A temporary file untouched for this long, and held by no writer, was left by one that died
# (kill -9, a power cut) between creating it and renaming it into place.
DEBRIS_SECONDS = 3600

# The names this module gives files in an epoch's directory: a directory holding anything else is
# not an epoch's, and `remove_debris` leaves it alone.
_CACHE_FILE = re.compile(r"(feed|checksum|changes|lookup|hashes)-[0-9].*|federation-.+|\.lock-.+|"
                         + re.escape(TEMPORARY_PREFIX) + ".+")


def _held(path):
    """Whether a live process holds the temporary or lock file at `path` (its fcntl lock, which goes
    with the process)."""
    if fcntl is None:  # pragma: no cover - Windows: the file's age alone tells
        return False
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False  # the lock goes with the file's closing
    except FileNotFoundError:  # renamed into place meanwhile: not debris
        return True


def _abandoned(path, now):
    """Whether the temporary or lock file at `path` is debris: old, and held by nobody. (A builder
    that opened a lock file just before its removal may build beside one that opens a new one:
    wasteful, not wrong, as without fcntl.)"""
    try:
        if now - os.lstat(path).st_mtime < DEBRIS_SECONDS:
            return False
    except FileNotFoundError:
        return False
    return not _held(path)


def _old_epoch(path, now):
    """Whether the directory at `path` is an epoch's that nobody writes to any more: only our files,
    none changed for DEBRIS_SECONDS, no temporary file held by a writer."""
    try:
        names = os.listdir(path)
        if now - os.lstat(path).st_mtime < DEBRIS_SECONDS:
            return False
        for name in names:
            if not _CACHE_FILE.fullmatch(name):
                return False
            entry = os.path.join(path, name)
            if now - os.lstat(entry).st_mtime < DEBRIS_SECONDS:
                return False
            if name.startswith((TEMPORARY_PREFIX, ".lock-")) and _held(entry):
                return False
    except OSError:
        return False
    return True


def remove_debris(directory):
    """Remove from `directory` (the current epoch's) the temporary files that writers killed halfway
    left and the lock files nobody held for DEBRIS_SECONDS, and the directories of other epochs
    beside it once nothing in them has changed for as long; a live writer's file, and a directory
    holding files not ours, stay. A file open elsewhere (a download, a mapped lookup base) stays
    readable."""
    now = time.time()
    for name in os.listdir(directory):
        if name.startswith((TEMPORARY_PREFIX, ".lock-")) and _abandoned(os.path.join(directory, name), now):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass
    root, current = os.path.split(os.path.normpath(directory))
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if (name != current and not name.startswith(".") and not os.path.islink(path) and os.path.isdir(path)
                and _old_epoch(path, now)):
            shutil.rmtree(path, ignore_errors=True)


# A base per kind: the lookup's generation file (sitealert.feed.lookup) and the private lookup's
# sorted hashes (sitealert.feed.private), each a file of the list at one version named <kind>-<version><suffix>.
BASE_SUFFIXES = {"lookup": ".gen", "hashes": ".sha256"}


def base_path(directory, kind, version):
    return os.path.join(directory, f"{kind}-{version}{BASE_SUFFIXES[kind]}")


def base_versions(directory, kind):
    """The versions whose base of `kind` is on disk (whole: a base is renamed into place complete)."""
    prefix, suffix = kind + "-", BASE_SUFFIXES[kind]
    return [int(number) for name in os.listdir(directory)
            if name.startswith(prefix) and name.endswith(suffix)
            and (number := name[len(prefix):-len(suffix)]).isdigit()]


def store_base(directory, kind, version, fill):
    """Write `version`'s base of `kind` with fill(file) (a file open for reading and writing, which
    the generation writer maps back), fsynced, then renamed into place: whole or not at all."""
    with _atomic_file(base_path(directory, kind, version), "w+b") as f:
        fill(f)
        f.flush()
        os.fsync(f.fileno())


def prune_bases(directory, kind, version):
    """Remove the bases of `kind` older than `version` (a process that mapped one keeps its pages)."""
    for number in base_versions(directory, kind):
        if number < version:
            try:
                os.remove(base_path(directory, kind, number))
            except OSError:
                pass
    remove_debris(directory)


def _usable_base(directory, kind, version, pruned_through, max_changes):
    return max((base for base in base_versions(directory, kind)
                if pruned_through <= base <= version <= base + max_changes), default=None)


def mapped_base(directory, kind, version, pruned_through, max_changes, write, open_base, damaged):
    """(base version, open_base(path)) of the newest base of `kind` up to `version` whose changes
    since are retained (after `pruned_through`) and at most `max_changes`, else of one written
    now for `version` with write(file), one builder at a time; older bases are then pruned. A
    base that open_base refuses with `damaged` (an exception class) is removed and written again.
    Must run inside the consistent_read of `version`."""
    for _attempt in range(3):
        base_version = _usable_base(directory, kind, version, pruned_through, max_changes)
        if base_version is None:
            with lock(directory, kind):  # one builder; the others then find it written
                base_version = _usable_base(directory, kind, version, pruned_through, max_changes)
                if base_version is None:
                    store_base(directory, kind, version, write)
                    prune_bases(directory, kind, version)
                    base_version = version
        path = base_path(directory, kind, base_version)
        try:
            return base_version, open_base(path)
        except FileNotFoundError:  # pruned by a newer base between our look and our open
            continue
        except damaged:  # not ours to trust: written again under the lock
            with lock(directory, kind), suppress(FileNotFoundError):
                os.remove(path)
    raise RuntimeError(f"the {kind} base in {directory} kept disappearing before it could be opened")
