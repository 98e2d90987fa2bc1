"""The aggregated list as documents: the full feed (JSON, txt, csv), changes since N, the checksum.

A full document is built once per version and format and kept on disk under
FEED_CACHE_DIR/<epoch>/, beside its gzip twin and its checksum, so serving it again is reading a
file. Every read runs in one snapshot of the database (`consistent_read`): the version, the
checksum and the entries of a document always agree, and readers never hold up writers.

Building is the expensive part (a million entries are ~140 MB of JSON), so it avoids Python-level
loops over rows: entries are read in one table scan, sorted by code point in Python (independent of
any database collation), and rendered with C-level map/zip/str.__mod__ calls; the few distinct
(kind, countries, categories, first listing time) combinations are rendered once each.
"""

import csv
import gc
import hashlib
import io
import os
import tempfile
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring  # the C implementation
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

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
CHUNK_ROWS = 20_000
# Level 1 compresses these documents ~20x at hundreds of MB/s; higher levels save a little
# bandwidth for seconds of CPU on every new version of a large list.
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


def _fetch_chunks(sql):
    # A server-side cursor on PostgreSQL, so the driver never holds every row at once.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows


def _sorted_targets():
    targets = [t for rows in _fetch_chunks("SELECT target FROM feed_feedentry") for (t,) in rows]
    targets.sort()
    return targets


def _sorted_rows():
    """Every entry as (target, kind, countries, categories, first_listed_at text), by code point.

    One table scan and a sort here beat ORDER BY target: SQLite would fetch each row through the
    index in random order, and PostgreSQL's order depends on the collation.
    """
    if connection.vendor == "postgresql":
        first = """to_char(first_listed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    else:
        first = "CAST(first_listed_at AS TEXT)"  # skips the driver's datetime parsing
    rows = []
    for chunk in _fetch_chunks(f"SELECT target, kind, countries, categories, {first} FROM feed_feedentry"):
        rows.extend(chunk)
    rows.sort(key=itemgetter(0))
    return rows


def _iso_from_db(value):
    """SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC); PostgreSQL's query already formats it."""
    if value is None or value.endswith("Z"):
        return value
    if len(value) >= 19 and value[10] in " T" and value[4] == "-":
        return value[:10] + "T" + value[11:19] + "Z"
    return _iso(parse_datetime(value))


class _Memo(dict):
    """Computes each distinct key once: a list has few distinct entry attributes."""

    def __init__(self, compute):
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        value = self[key] = self.compute(*key) if isinstance(key, tuple) else self.compute(key)
        return value


def snapshot():
    """(version, rows) read consistently; rows are (target, kind, countries, categories,
    first_listed_at as ISO text), sorted by target."""
    with consistent_read() as (version, _), _gc_paused():
        rows = _sorted_rows()
    isos = _Memo(_iso_from_db)
    return version, [(t, k, c, cat, isos[first]) for t, k, c, cat, first in rows]


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


# --- Rendering ----------------------------------------------------------------------------------

def checksum_of(targets):
    digest = hashlib.sha256()
    for target in targets:
        digest.update(target.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def _checksum_of_sorted(targets):
    digest = hashlib.sha256()
    for start in range(0, len(targets), CHUNK_ROWS):
        digest.update(("\n".join(targets[start:start + CHUNK_ROWS]) + "\n").encode("utf-8"))
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


def _json_attributes(kind, countries, categories):
    def array(joined):
        return "[" + ",".join(encode_basestring(v) for v in _split(joined)) + "]"

    return f'"kind":{encode_basestring(kind)},"countries":{array(countries)},"categories":{array(categories)}'


def _csv_attributes(kind, countries, categories):
    return f"{kind},{countries.replace(',', ' ')},{categories.replace(',', ' ')}"


class _Renderer:
    """Renders sorted entry rows chunk by chunk. The per-row work is C-level map/zip/str.__mod__
    calls; the few distinct attribute combinations and dates are rendered once each."""

    def __init__(self):
        self.json_attributes = _Memo(_json_attributes)
        self.csv_attributes = _Memo(_csv_attributes)
        self.isos = _Memo(_iso_from_db)

    def json(self, rows):
        targets, kinds, countries, categories, firsts = zip(*rows)
        joined = "\n".join(targets)
        if joined.isascii() and joined.replace("\n", "").isprintable() and '"' not in joined and "\\" not in joined:
            quoted = map('"%s"'.__mod__, targets)  # canonical targets need no escaping
        else:
            quoted = map(encode_basestring, targets)
        return ",".join(map('{"target":%s,%s,"first_listed_at":"%s"}'.__mod__, zip(
            quoted, map(self.json_attributes.__getitem__, zip(kinds, countries, categories)),
            map(self.isos.__getitem__, firsts))))

    def csv(self, rows):
        targets, kinds, countries, categories, firsts = zip(*rows)
        attributes = map(self.csv_attributes.__getitem__, zip(kinds, countries, categories))
        isos = map(self.isos.__getitem__, firsts)
        joined = "\n".join(targets)
        if '"' in joined or "," in joined or "\r" in joined or joined.count("\n") != len(targets) - 1:
            out = io.StringIO()  # a target that needs quoting is not canonical, but stay correct
            csv.writer(out, lineterminator="\n").writerows(
                (t, *a.split(","), d) for t, a, d in zip(targets, attributes, isos))
            return out.getvalue()
        return "".join(map("%s,%s,%s\n".__mod__, zip(targets, attributes, isos)))


def _render(fmt, version, checksum, rows):
    """The document's text, piece by piece, from sorted rows (or sorted targets for txt)."""
    renderer = _Renderer()
    if fmt == "json":
        yield f'{{"version":{int(version)},"checksum":"{checksum}","entries":['
    elif fmt == "csv":
        yield CSV_HEADER
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        if fmt == "json":
            yield ("," if start else "") + renderer.json(chunk)
        elif fmt == "csv":
            yield renderer.csv(chunk)
        else:
            yield "\n".join(chunk) + "\n"
    if fmt == "json":
        yield "]}"


class _GzipWriter:
    """Compresses on a second thread while the caller renders the next piece (zlib drops the GIL)."""

    def __init__(self, out):
        self.out = out
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        self.pool = ThreadPoolExecutor(1)
        self.pending = deque()

    def write(self, data):
        self.pending.append(self.pool.submit(self.compressor.compress, data))
        while len(self.pending) > 2:
            self.out.write(self.pending.popleft().result())

    def close(self):
        while self.pending:
            self.out.write(self.pending.popleft().result())
        self.out.write(self.compressor.flush())
        self.pool.shutdown()


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
    """(document, its gzip twin, the version's checksum)."""
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


def _open_cached(epoch, directory, version, fmt, gzipped):
    plain, packed, checksum_path = _paths(directory, version, fmt)
    checksum = _read_text(checksum_path)
    if checksum is None:
        return None
    try:
        f = open(packed if gzipped else plain, "rb")
    except FileNotFoundError:
        return None
    return FeedFile(epoch=epoch, version=version, checksum=checksum, fmt=fmt, gzipped=gzipped,
                    file=f, size=os.fstat(f.fileno()).st_size)


def _compress_file(source, target):
    with open(source, "rb") as src, _atomic_file(target) as out:
        writer = _GzipWriter(out)
        while block := src.read(4 << 20):
            writer.write(block)
        writer.close()


def _write_documents(directory, version, fmt, gzipped, rows):
    """Write `fmt` (and its gzip twin) from sorted rows, plus the txt document, which comes free."""
    plain, packed, checksum_path = _paths(directory, version, fmt)
    targets = rows if fmt == "txt" else list(map(itemgetter(0), rows))
    checksum = _checksum_of_sorted(targets)
    with ExitStack() as files:
        out = files.enter_context(_atomic_file(plain))
        gz = _GzipWriter(files.enter_context(_atomic_file(packed))) if gzipped else None
        for piece in _render(fmt, version, checksum, rows):
            data = piece.encode("utf-8")
            out.write(data)
            if gz is not None:
                gz.write(data)
        if gz is not None:
            gz.close()
        if fmt != "txt":
            with _atomic_file(_paths(directory, version, "txt")[0]) as txt:
                for piece in _render("txt", version, checksum, targets):
                    txt.write(piece.encode("utf-8"))
    _write_atomic(checksum_path, checksum.encode())


def _build(directory, fmt, gzipped):
    """Write the current version's document (and its gzip twin when wanted); return the version."""
    with _gc_paused():
        with consistent_read() as (version, _):
            plain, packed, checksum_path = _paths(directory, version, fmt)
            if os.path.exists(plain) and _read_text(checksum_path):
                return version
            rows = _sorted_targets() if fmt == "txt" else _sorted_rows()
        _write_documents(directory, version, fmt, gzipped, rows)
        del rows
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
        if found is None:
            plain, packed, _ = _paths(directory, version, fmt)
            if gzipped and os.path.exists(plain):
                _compress_file(plain, packed)
            else:
                version = _build(directory, fmt, gzipped)
                plain, packed, _ = _paths(directory, version, fmt)
                if gzipped and not os.path.exists(packed):
                    _compress_file(plain, packed)
            found = _open_cached(state.epoch, directory, version, fmt, gzipped)
    if found is None:  # pruned by a newer build between ours and our open: serve that one
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


def warm(formats=("json", "txt")):
    """Build the current version's documents, plain and gzip, before the first client asks."""
    for fmt in formats:
        for gzipped in (False, True):
            open_feed(fmt, gzipped).file.close()


# --- Checksums and changes ----------------------------------------------------------------------

def _checksum(directory, version):
    """The checksum of `version`, which must be the version of the enclosing consistent_read."""
    path = _paths(directory, version, "txt")[2]
    checksum = _read_text(path)
    if checksum is None:
        with _gc_paused():
            checksum = _checksum_of_sorted(_sorted_targets())
        _write_atomic(path, checksum.encode())
    return checksum


def cached_checksum(state):
    """The checksum of `state.version` if a document of that version was built, else None."""
    return _read_text(_paths(_cache_dir(state.epoch), state.version, "txt")[2])


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
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
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
