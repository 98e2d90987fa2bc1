"""The aggregated list as documents: the full feed (JSON, txt, csv), changes since N, the checksum.

A full document is built once per version and format and kept on disk under
FEED_CACHE_DIR/<epoch>/, beside its gzip twin and its checksum, so serving it again is reading a
file. Every read runs in one snapshot of the database (`consistent_read`): the version, the
checksum and the entries of a document always agree, and readers never hold up writers.
"""

import csv
import gc
import hashlib
import io
import os
import tempfile
import zlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring  # the C implementation

from django.conf import settings
from django.db import connection, transaction

from sitealert.feed.models import Change, FeedState

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: concurrent builds are only wasteful, not wrong
    fcntl = None

FORMATS = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
CSV_HEADER = "target,kind,countries,categories,first_listed_at\n"
FETCH_ROWS = 20_000
# Level 1 compresses this repetitive text ~20x at several hundred MB/s; higher levels save a
# little bandwidth for seconds of CPU on every new version of a large list.
GZIP_LEVEL = 1


class ResyncRequired(Exception):
    """The client's version is older than the retained history."""


class FromTheFuture(Exception):
    """The client claims a version this server has not reached."""


def feed_state():
    state = FeedState.objects.filter(pk=1).first()
    if state is None:
        state, _ = FeedState.objects.get_or_create(pk=1)
    return state


def current_version():
    return feed_state().version


# --- Consistent reads ---------------------------------------------------------------------------

@contextmanager
def consistent_read():
    """Yield (version, pruned_through); every read inside the block sees exactly that version.

    Writers change the feed state and the entries in one transaction, so one snapshot is enough:
    REPEATABLE READ on PostgreSQL, a deferred transaction (one WAL snapshot) on SQLite. Inside a
    caller's transaction the caller's view applies, and on PostgreSQL a shared lock on the state
    row keeps writers out until that transaction ends.
    """
    feed_state()  # make sure the row exists before the snapshot starts
    if connection.in_atomic_block or not connection.get_autocommit():
        yield _read_state(lock=connection.vendor == "postgresql")
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _read_state()
    else:
        # atomic() would BEGIN IMMEDIATE (see settings) and take SQLite's write lock.
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield _read_state()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")


def _read_state(lock=False):
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, pruned_through FROM feed_feedstate WHERE id = 1"
                       + (" FOR SHARE" if lock else ""))
        row = cursor.fetchone()
    return tuple(row) if row else (0, 0)


def _entry_chunks():
    """Lists of (target, kind, countries, categories, first_listed_at ISO text), by code point.

    Targets are ASCII (A-labels, app ids), so the database's byte order is code-point order.
    """
    if connection.vendor == "postgresql":
        order = 'target COLLATE "C"'
        first = """to_char(first_listed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    else:
        order = "target"
        first = "strftime('%Y-%m-%dT%H:%M:%SZ', first_listed_at)"
    # A server-side cursor on PostgreSQL: a million rows never sit in memory twice.
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT target, kind, countries, categories, {first} FROM feed_feedentry ORDER BY {order}")
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield rows


def snapshot():
    """(version, rows) read consistently; rows as in `_entry_chunks`."""
    with consistent_read() as (version, _):
        return version, [row for chunk in _entry_chunks() for row in chunk]


# --- Rendering ----------------------------------------------------------------------------------

def checksum_of(targets):
    digest = hashlib.sha256()
    for target in targets:
        digest.update(target.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def _split(joined):
    return joined.split(",") if joined else []


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def entry_dict(target, kind, countries, categories, first_listed_at):
    """One entry of the JSON documents; first_listed_at is a datetime or ISO text."""
    return {
        "target": target,
        "kind": kind,
        "countries": _split(countries),
        "categories": _split(categories),
        "first_listed_at": first_listed_at if isinstance(first_listed_at, str) or first_listed_at is None
        else _iso(first_listed_at),
    }


class _Memo(dict):
    """Renders each distinct (kind, countries, categories) once: a list has few of them."""

    def __init__(self, render):
        super().__init__()
        self.render = render

    def __missing__(self, key):
        value = self[key] = self.render(*key)
        return value


def _json_middle(kind, countries, categories):
    def array(joined):
        return "[" + ",".join(encode_basestring(v) for v in _split(joined)) + "]"

    return f'"kind":{encode_basestring(kind)},"countries":{array(countries)},"categories":{array(categories)}'


def _csv_middle(kind, countries, categories):
    return f"{kind},{countries.replace(',', ' ')},{categories.replace(',', ' ')}"


class _Renderer:
    """Turns chunks of entry rows into document text while hashing the targets.

    The per-row work is a handful of C calls (zip, map, str.__mod__): Python-level loops over a
    million rows would cost seconds.
    """

    def __init__(self, fmt):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.fmt = fmt
        self.digest = hashlib.sha256()
        self.json_middle = _Memo(_json_middle)
        self.csv_middle = _Memo(_csv_middle)

    @property
    def checksum(self):
        return "sha256:" + self.digest.hexdigest()

    def chunk(self, rows):
        targets, kinds, countries, categories, firsts = zip(*rows)
        lines = "\n".join(targets) + "\n"
        self.digest.update(lines.encode("utf-8"))
        if self.fmt == "txt":
            return lines
        keys = zip(kinds, countries, categories)
        if self.fmt == "json":
            return ",".join(map('{"target":%s,%s,"first_listed_at":"%s"}'.__mod__,
                                zip(map(encode_basestring, targets), map(self.json_middle.__getitem__, keys),
                                    firsts)))
        if '"' in lines or "," in lines or "\r" in lines or lines.count("\n") != len(targets):
            out = io.StringIO()  # a target that needs quoting: not canonical, but stay correct
            csv.writer(out, lineterminator="\n").writerows(
                (t, *self.csv_middle[k].split(","), f) for t, k, f in zip(targets, keys, firsts))
            return out.getvalue()
        return "".join(map("%s,%s,%s\n".__mod__, zip(targets, map(self.csv_middle.__getitem__, keys), firsts)))

    def document(self, version, chunks):
        """The document's pieces of text, in order."""
        if self.fmt == "json":
            pieces = [f'{{"version":{int(version)},"checksum":"{self.checksum}","entries":[']
            for i, chunk in enumerate(chunks):
                if i:
                    pieces.append(",")
                pieces.append(chunk)
            pieces.append("]}")
            return pieces
        if self.fmt == "csv":
            return [CSV_HEADER, *chunks]
        return chunks


@contextmanager
def _gc_paused():
    """A million short-lived tuples would trigger full collections over everything alive."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- The on-disk cache --------------------------------------------------------------------------

@dataclass
class FeedFile:
    """A full document on disk, open for reading; the caller closes `file`."""

    epoch: str
    version: int
    checksum: str
    fmt: str
    gzipped: bool
    file: object
    size: int

    @property
    def etag(self):
        return etag(self, self.fmt, self.gzipped)

    @property
    def content_type(self):
        return FORMATS[self.fmt]


def etag(state, fmt, gzipped=False):
    """The entity tag of a document: anything with `epoch` and `version` (a FeedState, a FeedFile)."""
    return f'"{state.epoch[:12]}-{state.version}-{fmt}{"-gz" if gzipped else ""}"'


def _cache_dir(epoch):
    path = os.path.join(settings.SITEALERT["FEED_CACHE_DIR"], epoch)
    os.makedirs(path, exist_ok=True)
    return path


def _paths(directory, version, fmt):
    stem = os.path.join(directory, f"feed-{version}.{fmt}")
    return stem, stem + ".gz", os.path.join(directory, f"checksum-{version}")


@contextmanager
def _atomic_file(path):
    """A file object whose content replaces `path` in one step, or not at all."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_atomic(path, data):
    with _atomic_file(path) as f:
        f.write(data)


def _read_text(path):
    try:
        with open(path) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


@contextmanager
def _lock(directory, name):
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


def _open_cached(state_epoch, directory, version, fmt, gzipped):
    plain, packed, checksum_path = _paths(directory, version, fmt)
    checksum = _read_text(checksum_path)
    if checksum is None:
        return None
    try:
        f = open(packed if gzipped else plain, "rb")
    except FileNotFoundError:
        return None
    return FeedFile(epoch=state_epoch, version=version, checksum=checksum, fmt=fmt, gzipped=gzipped,
                    file=f, size=os.fstat(f.fileno()).st_size)


def _compress_file(source, target):
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    with open(source, "rb") as src, _atomic_file(target) as out:
        while block := src.read(1 << 20):
            out.write(compressor.compress(block))
        out.write(compressor.flush())


def _build(directory, fmt, gzipped):
    """Write the current version's document (and its gzip twin when wanted); return the version."""
    with consistent_read() as (version, _), _gc_paused():
        plain, packed, checksum_path = _paths(directory, version, fmt)
        if os.path.exists(plain) and _read_text(checksum_path):
            return version
        renderer = _Renderer(fmt)
        chunks = [renderer.chunk(rows) for rows in _entry_chunks()]
    with ExitStack() as files:
        out = files.enter_context(_atomic_file(plain))
        gz = files.enter_context(_atomic_file(packed)) if gzipped else None
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        for piece in renderer.document(version, chunks):
            data = piece.encode("utf-8")
            out.write(data)
            if gz is not None:
                gz.write(compressor.compress(data))
        if gz is not None:
            gz.write(compressor.flush())
    _write_atomic(checksum_path, renderer.checksum.encode())
    _prune(directory, version)
    return version


def open_feed(fmt, gzipped=False):
    """The current full document in `fmt` (gzip-compressed if asked), built if need be."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    state = feed_state()
    directory = _cache_dir(state.epoch)
    found = _open_cached(state.epoch, directory, state.version, fmt, gzipped)
    if found is not None:
        return found
    with _lock(directory, fmt):
        version = current_version()
        found = _open_cached(state.epoch, directory, version, fmt, gzipped)
        if found is not None:
            return found
        plain, packed, _ = _paths(directory, version, fmt)
        if gzipped and os.path.exists(plain):
            _compress_file(plain, packed)
        else:
            version = _build(directory, fmt, gzipped)
            if gzipped and not os.path.exists(_paths(directory, version, fmt)[1]):
                _compress_file(*_paths(directory, version, fmt)[:2])
        found = _open_cached(state.epoch, directory, version, fmt, gzipped)
    if found is None:  # pruned by a newer build between our build and our open: take that one
        return open_feed(fmt, gzipped)
    return found


def cached_feed(fmt, gzipped=False):
    """(version, checksum, body) of the current version, built once per version and format."""
    document = open_feed(fmt, gzipped)
    with document.file as f:
        return document.version, document.checksum, f.read()


def _prune(directory, keep_version):
    """Drop documents older than the previous version (open files stay readable)."""
    for name in os.listdir(directory):
        if name.startswith(("feed-", "checksum-")):
            version = name.split("-", 1)[1].split(".", 1)[0]
            if version.isdigit() and int(version) < keep_version - 1:
                try:
                    os.remove(os.path.join(directory, name))
                except OSError:
                    pass


# --- Checksums and changes ----------------------------------------------------------------------

def _checksum(directory, version):
    """The checksum of `version`, which must be the version of the enclosing consistent_read."""
    path = _paths(directory, version, "json")[2]
    checksum = _read_text(path)
    if checksum is None:
        with _gc_paused():
            renderer = _Renderer("txt")
            for rows in _entry_chunks():
                renderer.chunk(rows)
        checksum = renderer.checksum
        _write_atomic(path, checksum.encode())
    return checksum


def cached_checksum(state):
    """The checksum of `state.version` if some document of it was built, else None (no query)."""
    return _read_text(_paths(_cache_dir(state.epoch), state.version, "json")[2])


def current_checksum():
    """(version, checksum) of the current list, cached per version."""
    directory = _cache_dir(feed_state().epoch)
    with consistent_read() as (version, _):
        return version, _checksum(directory, version)


def changes_since(since):
    """The SPEC §4 changes document for a client at version `since`."""
    directory = _cache_dir(feed_state().epoch)
    with consistent_read() as (version, pruned_through):
        if since > version:
            raise FromTheFuture(version)
        if since < pruned_through:
            raise ResyncRequired(pruned_through)
        latest = {}
        rows = (Change.objects.filter(seq__gt=since, seq__lte=version).order_by("seq")
                .values_list("target", "kind", "listed", "countries", "categories", "first_listed_at"))
        for row in rows.iterator(chunk_size=FETCH_ROWS):
            latest[row[0]] = row
        checksum = _checksum(directory, version)
    changes = []
    for target in sorted(latest):
        _, kind, listed, countries, categories, first = latest[target]
        if listed:
            entry = entry_dict(target, kind, countries, categories, first)
            entry["listed"] = True
        else:
            entry = {"target": target, "kind": kind, "listed": False}
        changes.append(entry)
    return {"since": since, "version": version, "checksum": checksum, "changes": changes, "more": False}


def warm(formats=("json",)):
    """Build the current version's documents ahead of the first client (for the worker)."""
    for fmt in formats:
        open_feed(fmt).file.close()
        open_feed(fmt, gzipped=True).file.close()
