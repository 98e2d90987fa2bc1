"""The aggregated list as documents: the full feed (JSON, txt, csv), changes since N, the checksum.

A full document is built once per version and format and kept on disk under
FEED_CACHE_DIR/<epoch>/ (see `cache`), beside its gzip twin, the txt document and the version's
checksum, so serving it again is reading a file; a changes document likewise, once per (since,
version). Every read runs in one snapshot of the database (`consistent_read`): the version, the
checksum and the entries of a document always agree, and readers never hold up writers.

A version is built from scratch by streaming: the database gives the entries in code-point order
(`ORDER BY target COLLATE "C"` on PostgreSQL, independent of the database's collation, read from
the primary key, which is in that order and covers every column a document needs: an index-only
scan, no sort; migration feed 0003), a thread reads the rows ahead a batch at a time, and each
chunk is rendered (render.DocumentChunks) and written to the document, its txt twin, its gzip twin
and the checksum at once, so memory holds a few chunks, never the document or all rows; the JSON
head, which carries the checksum, is written in place at the end. When an older version's
document is cached and its changes are still in the log, the version is spliced instead: a
million-entry list then costs a split and a join of bytes instead of rendering a million rows.
Both give the same bytes.
"""

import json
import os
import queue
import threading
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from itertools import islice
from operator import itemgetter

from django.db import connection, transaction

from sitealert.core.bulk import gc_paused
from sitealert.feed import cache, copy_out
from sitealert.feed.models import FeedState
from sitealert.feed.render import (
    CSV_HEADER,
    JSON_PREFIX,
    AmbiguousAttributes,
    DocumentChunks,
    QuotingNeeded,
    Renderer,
    checksum_of_pieces,
    entry_dict,
    json_header,
)

FORMATS = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
# Rows per fetch and per piece of a document: a chunk's rows stay in the CPU cache while they are
# taken apart (see render.SortedEntries).
CHUNK_ROWS = 1_000
# Rows per round trip of a build from scratch: fewer trips, each still small.
FETCH_ROWS = 10_000
# Beyond this many changes since the newest cached document, build from scratch.
SPLICE_MAX_CHANGES = 100_000


class ResyncRequired(Exception):
    """The client's version is older than the retained history."""


class FromTheFuture(Exception):
    """The client claims a version this server has not reached."""


def feed_state():
    # A plain statement: the ORM's query took a third of a feed 304 and runs twice per changes request.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, version, pruned_through, epoch FROM feed_feedstate WHERE id = 1")
        row = cursor.fetchone()
    state = None if row is None else FeedState.from_db(connection.alias, ["id", "version", "pruned_through", "epoch"],
                                                       row)
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
    row keeps writers out until that transaction ends (documents cached from there must not
    come from writes that are later rolled back).
    """
    feed_state()  # make sure the row exists before the snapshot starts
    if (connection.in_atomic_block or not connection.get_autocommit()
            or (connection.vendor == "sqlite" and connection.connection.in_transaction)):
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


def _first_listed_sql():
    """first_listed_at as text in UTC, 'YYYY-MM-DD HH:MM:SS[.ffffff]' as SQLite stores it, which skips
    the driver's datetime parsing; render.iso_from_db formats it once per distinct value. (On
    PostgreSQL a cast, in the ISO DateStyle the driver needs anyway, costs a third of to_char.)"""
    if connection.vendor == "postgresql":
        return "CAST(first_listed_at AT TIME ZONE 'UTC' AS TEXT)"
    return "CAST(first_listed_at AS TEXT)"


def _fetch_chunks(sql, params=None):
    # A server-side cursor on PostgreSQL, so the driver never holds every row at once.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows


def _entries_sql(joined=True):
    """Every entry as (target, attributes, first_listed_at as text), the attributes kind, countries
    and categories joined by tabs in the database (one string to fetch and look up instead of
    three), or, `joined=False`, as three columns: for when one of them holds a tab."""
    tab = "chr(9)" if connection.vendor == "postgresql" else "char(9)"
    attributes = f"kind || {tab} || countries || {tab} || categories" if joined else "kind, countries, categories"
    return f"SELECT target, {attributes}, {_first_listed_sql()} FROM feed_feedentry"


def _read_ahead(fetch, depth=2):
    """What fetch() returns, until it returns nothing; a thread fetches the next batches while the
    caller works on this one (the database driver lets go of the GIL while it waits), so the
    database and the caller work at the same time. It is joined before this generator ends."""
    batches, stop = queue.Queue(depth), threading.Event()

    def produce():
        try:
            while not stop.is_set():
                batch = fetch()
                batches.put(batch)
                if not batch:
                    return
        except BaseException as exc:  # handed to the caller's thread, raised there
            batches.put(exc)

    thread = threading.Thread(target=produce, name="feed-read-ahead", daemon=True)
    thread.start()
    try:
        while (batch := batches.get()):
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        stop.set()
        while thread.is_alive():  # let a blocked put through
            with suppress(queue.Empty):
                batches.get_nowait()
            thread.join(0.01)


def _sorted_chunks(fmt, joined=True):
    """Chunks of every entry's row, sorted by target in code point order by the database (bytes
    of UTF-8 in PostgreSQL's "C" collation and SQLite's BINARY one, whatever the database's own
    collation; PostgreSQL reads them in that order from the covering primary key; SQLite's sorter
    took 0.6-0.8 times as long as reading the rows through the primary key's index at a million
    rows), as `render.DocumentChunks` takes them, CHUNK_ROWS at a time."""
    with closing(streamed_batches(_sorted_sql(fmt, joined))) as batches:
        for batch in batches:
            for start in range(0, len(batch), CHUNK_ROWS):
                yield batch[start:start + CHUNK_ROWS]


def streamed_batches(sql, params=None):
    """The rows of `sql`, FETCH_ROWS at a time, read ahead by a thread while the caller works on
    the batch at hand: on PostgreSQL libpq's chunked rows, not a server-side cursor (no FETCH round
    trips, and the database may sort in parallel, which it never does for a cursor). Must run in a
    transaction (a consistent_read) on PostgreSQL, and nothing else may use the connection until
    the generator is closed."""
    with ExitStack() as stack:
        if connection.vendor == "postgresql":
            cursor = stack.enter_context(connection.cursor())
            _without_jit(cursor)
            if connection.queries_logged:  # as Django's debug cursor does: tests see the query
                connection.queries_log.append({"sql": sql, "time": "0.000"})
            rows = stack.enter_context(closing(cursor.cursor.stream(sql, params, size=FETCH_ROWS)))
            fetch = partial(_batch, rows, FETCH_ROWS)
        else:
            cursor = stack.enter_context(connection.chunked_cursor())
            cursor.execute(sql, params)
            fetch = partial(cursor.fetchmany, FETCH_ROWS)
        yield from stack.enter_context(closing(_read_ahead(fetch)))  # its thread ends before the cursor


def _sorted_sql(fmt, joined=True):
    """The query of `_sorted_chunks`."""
    if connection.vendor == "postgresql":
        order = 'target COLLATE "C"'
    else:  # txt reads the primary key's index; the other columns sort faster (+: not through the index)
        order = "target" if fmt == "txt" else "+target"
    sql = "SELECT target FROM feed_feedentry" if fmt == "txt" else _entries_sql(joined)
    return f"{sql} ORDER BY {order}"


def _without_jit(cursor):
    if connection.in_atomic_block:
        # The plan is an index-only scan (migration feed 0003), costed high enough at ten million
        # rows that PostgreSQL's JIT compiler spent 0.6-0.8 s on it before the first row.
        cursor.execute("SET LOCAL jit = off")


def _copied_pieces(stack, fmt, document):
    """The pieces of `fmt`'s document rendered in C from a binary COPY of the sorted rows
    (`copy_out`; PostgreSQL with the C accelerator): the same bytes as
    `document.pieces(_sorted_chunks(fmt))`, without a Python object per row."""
    with connection.cursor() as cursor:
        _without_jit(cursor)
    columns = "target" if fmt == "txt" else "target, kind, countries, categories, first_listed_at"
    sql = f'SELECT {columns} FROM feed_feedentry ORDER BY target COLLATE "C"'
    read = stack.enter_context(copy_out.rendered(sql, document.copy_parts()))
    return document.framed(stack.enter_context(closing(_read_ahead(read))))  # its thread ends before the COPY


def _batch(rows, size):
    with connection.wrap_database_errors:
        return list(islice(rows, size))


def _write_from_scratch(directory, fmt, version, gzipped):
    """Stream `version`'s document of `fmt` (and txt, and gzip if wanted) from the database to
    disk, a chunk of rows at a time; return the checksum. Must run inside the consistent_read of
    `version`."""
    joined, quoted, copied = True, False, copy_out.available()
    head = (lambda checksum: json_header(version, checksum).encode()) if fmt == "json" else None
    while True:
        try:
            with ExitStack() as stack:
                document = DocumentChunks(fmt, Renderer(), quoted)
                if copied and joined and not quoted:
                    pieces = _copied_pieces(stack, fmt, document)
                else:
                    pieces = document.pieces(stack.enter_context(closing(_sorted_chunks(fmt, joined))))
                return cache.store_stream(directory, version, fmt, pieces, gzipped, head)
        except AmbiguousAttributes:  # an attribute holds a tab: fetch them apart
            joined = False
        except QuotingNeeded:  # a csv target needs quoting: then every line goes through the csv module
            quoted = True


def sorted_targets():
    """Lists of every entry's target, a chunk at a time, in code point order, read as the txt
    document's are (streamed, read ahead; never the whole list). Must run inside a consistent_read."""
    with closing(_sorted_chunks("txt")) as chunks:
        for rows in chunks:
            yield [row[0] for row in rows]


def _sorted_rows():
    """Every entry as (target, kind, countries, categories, first_listed_at text), by code point.

    One table scan and a sort here beat ORDER BY target: SQLite would fetch each row through the
    index in random order, and PostgreSQL's order depends on the collation.
    """
    rows = []
    sql = f"SELECT target, kind, countries, categories, {_first_listed_sql()} FROM feed_feedentry"
    for chunk in _fetch_chunks(sql):
        rows.extend(chunk)
    rows.sort(key=itemgetter(0))
    return rows


def snapshot():
    """(version, rows) read consistently; rows are (target, kind, countries, categories,
    first_listed_at as ISO text), sorted by target."""
    with consistent_read() as (version, _), gc_paused():
        rows = _sorted_rows()
    isos = Renderer().isos
    return version, [(t, k, c, cat, isos[first]) for t, k, c, cat, first in rows]


# --- Splicing changes into an older document ------------------------------------------------------
#
# A document is a header, sorted records joined by a separator, and a footer: JSON entries without
# their braces joined by '},{"target":', csv and txt lines joined by newlines. Records are found
# by target with a binary search on the bytes, without splitting the document: a JSON record
# starts '"<target>",', a csv line '<target>,', and '"', ',' and the newline sort below every
# character of a canonical target, so byte order is target order. A document with an escaped
# (JSON) or quoted (csv) target is never spliced: it is built from scratch.

class SortedRecords:
    """Records sorted by target in a document's bytes `data` (bytes, or an mmap), from `lo` to `hi`,
    joined by `separator`: a record starts with `opening + target + closing`, and with that and
    `follows` when it is the target's own. Federation documents are spliced with it too."""

    def __init__(self, data, lo, hi, separator, opening=b"", closing=b"", follows=b"", escape=None):
        self.data, self.view, self.lo, self.hi, self.separator = data, memoryview(data), lo, hi, separator
        self.opening, self.closing, self.follows, self.escape = opening, closing, follows, escape
        self.matched = 0  # changes of the last splice whose target had a record

    @property
    def spliceable(self):
        """Whether no target is escaped (or quoted): otherwise bytes do not sort as targets do."""
        return self.escape is None or self.data.find(self.escape, self.lo, self.hi) == -1

    def key(self, target):
        return self.opening + target + self.closing

    def _record_after(self, offset):
        """The first record start after `offset`, or hi."""
        at = self.data.find(self.separator, offset, self.hi)
        return self.hi if at == -1 else at + len(self.separator)

    def seek(self, lo, key):
        """The start of the first record at or after `lo` (a record start) that is >= key, or hi.
        Changes come in order and are usually close together: gallop, then bisect."""
        data, hi, width, step = self.data, self.hi, len(key), 4096
        while lo + step < hi:
            probe = self._record_after(lo + step)
            if probe < hi and data[probe:probe + width] < key:
                lo, step = probe, step * 2
            else:
                hi = probe
                break
        while lo < hi:
            start = self._record_after((lo + hi) // 2)
            if start >= hi:  # no record starts in the upper half: step through the few left
                while lo < hi and data[lo:lo + width] < key:
                    lo = self._record_after(lo)
                return min(lo, hi)
            if data[start:start + width] < key:
                lo = start
            else:
                hi = start
        return lo

    def splice(self, changes):
        """The records with each (target, record or None) change applied, as byte runs, each one
        or more whole records, to be joined by the separator."""
        view, separator, runs, position = self.view, self.separator, [], self.lo
        self.matched = 0
        for target, record in changes:
            key = self.key(target)
            i = self.seek(position, key)
            if i > position:
                runs.append(view[position:i - len(separator) if i < self.hi else self.hi])
            position = i
            exact = key + self.follows
            if i < self.hi and self.data[i:i + len(exact)] == exact:
                end = self.data.find(separator, i, self.hi)
                position = self.hi if end == -1 else end + len(separator)
                self.matched += 1
            if record is not None:
                runs.append(record)
        if position < self.hi:
            runs.append(view[position:self.hi])
        return runs


def _document(fmt, data):
    """The records of a feed document of `fmt`: JSON entries without their braces joined by
    '},{"target":', csv and txt lines joined by newlines."""
    if fmt == "json":
        start = data.index(b'"entries":[') + 11
        lo, hi = (start, start) if len(data) - start == 2 else (start + len(JSON_PREFIX), len(data) - 3)
        return SortedRecords(data, lo, hi, b'},{"target":', b'"', b'"', b",", b"\\")
    lo = len(CSV_HEADER) if fmt == "csv" else 0
    if fmt == "csv":
        return SortedRecords(data, lo, max(lo, len(data) - 1), b"\n", closing=b",", escape=b'"')
    return SortedRecords(data, lo, max(lo, len(data) - 1), b"\n", follows=b"\n")


def splice_targets(data, changes):
    """Sorted targets, each followed by a newline (a txt document's bytes), with `changes` applied:
    sorted (target bytes, listed) pairs, a target added or kept when listed, removed if not. Returns
    the new bytes, in the same form; the unchanged runs are copied, not parsed."""
    runs = _document("txt", data).splice([(target, target if listed else None) for target, listed in changes])
    return b"\n".join(runs) + b"\n" if runs else b""


def _new_records(fmt, changes, renderer):
    """[(target bytes, record or None)] for the changed targets, or None if one needs escaping."""
    listed = [row for _, (is_listed, row) in changes if is_listed]
    if fmt == "json":
        rendered = iter(entry[len(JSON_PREFIX):-1].encode() for entry in renderer.json_entries(listed))
    elif fmt == "csv":
        rendered = iter(line[:-1].encode() for line in renderer.csv_lines(listed))
    else:
        rendered = iter(row[0].encode() for row in listed)
    result = [(target.encode(), next(rendered) if is_listed else None) for target, (is_listed, _) in changes]
    bad = b"\\" if fmt == "json" else b'"'
    return None if any(record is not None and bad in record for _, record in result) else result


def _pieces(fmt, runs, version, checksum):
    """The document's bytes from its runs of records, in pieces of at most 4 MB."""
    if fmt == "json":
        head = json_header(version, checksum).encode() + (JSON_PREFIX.encode() if runs else b"")
        return joined_pieces(head, runs, b'},{"target":', b"}]}" if runs else b"]}")
    return joined_pieces(CSV_HEADER.encode() if fmt == "csv" else b"", runs, b"\n", b"\n" if runs else b"")


def joined_pieces(head, runs, separator, tail):
    """`head`, the runs (bytes or memoryviews of records) joined by `separator`, and `tail`, in
    pieces of at most 4 MB: a large run is handed on in slices, never copied whole."""
    if head:
        yield head
    buffer = bytearray()
    for i, run in enumerate(runs):
        if i:
            buffer += separator
        if len(run) < 1 << 16:
            buffer += run
            continue
        if buffer:
            yield bytes(buffer)
            buffer.clear()
        for start in range(0, len(run), 4 << 20):
            yield run[start:start + (4 << 20)]
    buffer += tail
    if buffer:
        yield bytes(buffer)


def _changed_rows(since, version):
    """[(target, (listed, row))] of the targets changed in (since, version], sorted by target, from
    each one's last change; rows as in `_sorted_rows`."""
    return [(target, change) for target, _seq, change in _last_changes(since, version)]


def _last_changes(since, version):
    """[(target, seq of its last change, (listed, row))] of the targets changed in (since, version],
    sorted by target."""
    latest = {}
    sql = (f"SELECT seq, target, kind, listed, countries, categories, {_first_listed_sql()} FROM feed_change "
           "WHERE seq > %s AND seq <= %s ORDER BY seq")
    for rows in _fetch_chunks(sql, [since, version]):
        for seq, target, kind, listed, countries, categories, first in rows:
            latest[target] = (seq, (bool(listed), (target, kind, countries, categories, first)))
    return [(target, seq, change) for target, (seq, change) in sorted(latest.items())]


def _streamed_changed_rows(since, version):
    """What `_changed_rows` returns, streamed from the database a chunk at a time in target order:
    for deltas too large to hold."""
    columns = f"target, kind, listed, countries, categories, {_first_listed_sql()}"
    if connection.vendor == "postgresql":
        sql = (f'SELECT DISTINCT ON (target COLLATE "C") {columns} FROM feed_change WHERE seq > %s AND seq <= %s '
               'ORDER BY target COLLATE "C", seq DESC')
    else:  # SQLite takes the bare columns from the row of max(seq)
        sql = (f"SELECT {columns}, max(seq) FROM feed_change WHERE seq > %s AND seq <= %s "
               "GROUP BY target ORDER BY target")
    for rows in _fetch_chunks(sql, [since, version]):
        for target, kind, listed, countries, categories, first, *_ in rows:
            yield target, (bool(listed), (target, kind, countries, categories, first))


def _spliced(directory, fmt, version, pruned_through, changes):
    """The runs of records of `fmt` at `version`, from the newest cached document, or None. Must
    run inside the consistent_read of `version`; `changes` memoizes `_changed_rows` by base."""
    base = cache.previous_version(directory, fmt, version, pruned_through)
    if base is None or version - base > SPLICE_MAX_CHANGES:
        return None
    try:
        with open(cache.paths(directory, base, fmt)[0], "rb") as f:
            document = _document(fmt, f.read())
    except FileNotFoundError:  # pruned meanwhile
        return None
    if not document.spliceable:
        return None
    if base not in changes:
        changes[base] = _changed_rows(base, version)
    new = _new_records(fmt, changes[base], Renderer())
    return None if new is None else document.splice(new)


# --- Cached documents -----------------------------------------------------------------------------

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


def _write(directory, fmt, version, pruned_through, gzipped, changes=None):
    """Write `version`'s document of `fmt` (and txt, and gzip if wanted), spliced from cached
    documents or else streamed from the database; return the checksum. Must run inside the
    consistent_read of `version`; `changes` holds `_changed_rows(base, version)` already read, by base."""
    changes = {} if changes is None else changes
    records = _spliced(directory, fmt, version, pruned_through, changes)
    # Another format's build may have written this version's txt document and checksum already.
    known = None if records is None or fmt == "txt" else cached_checksum_of(directory, version)
    lines = records if fmt == "txt" or records is None or known else _spliced(
        directory, "txt", version, pruned_through, changes)
    if known:
        checksum = known
        cache.store(directory, version, fmt, checksum, _pieces(fmt, records, version, checksum), gzipped)
    elif lines is not None:
        checksum = checksum_of_pieces(_pieces("txt", lines, version, None))
        cache.store(directory, version, fmt, checksum, _pieces(fmt, records, version, checksum), gzipped,
                    txt=None if fmt == "txt" else _pieces("txt", lines, version, None))
    else:
        checksum = _write_from_scratch(directory, fmt, version, gzipped)
    cache.prune(directory, fmt, version)
    return checksum


def cached_checksum_of(directory, version):
    """The checksum of `version` if its txt document is on disk, else None."""
    return cache.read_text(cache.paths(directory, version, "txt")[2]) if cache.is_built(directory, version, "txt") \
        else None


def _build(directory, fmt, gzipped):
    """Write the current version's document (and its gzip twin when wanted); return the version."""
    with gc_paused(), consistent_read() as (version, pruned_through):
        if not cache.is_built(directory, version, fmt):
            _write(directory, fmt, version, pruned_through, gzipped)
    return version


def _open_document(document_class, plain, packed, checksum_path, gzipped, **fields):
    """The document at `plain` (or its gzip twin `packed`) open, as `document_class`, or None if it
    or its version's checksum is not on disk."""
    checksum = cache.read_text(checksum_path)
    if checksum is None:
        return None
    try:
        f = open(packed if gzipped else plain, "rb")
    except FileNotFoundError:
        return None
    return document_class(checksum=checksum, gzipped=gzipped, file=f, size=os.fstat(f.fileno()).st_size, **fields)


def _open_cached(epoch, directory, version, fmt, gzipped):
    return _open_document(FeedFile, *cache.paths(directory, version, fmt), gzipped, epoch=epoch, version=version,
                          fmt=fmt)


def open_feed(fmt, gzipped=False):
    """The current full document in `fmt` (gzip-compressed if asked), built if need be."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    state = feed_state()
    directory = cache.epoch_directory(state.epoch)
    found = _open_cached(state.epoch, directory, state.version, fmt, gzipped)
    if found is not None:
        return found
    with cache.lock(directory, fmt):
        version = current_version()
        found = _open_cached(state.epoch, directory, version, fmt, gzipped)
        if found is None:
            if not cache.is_built(directory, version, fmt):
                version = _build(directory, fmt, gzipped)
            plain, packed, _ = cache.paths(directory, version, fmt)
            if gzipped and not os.path.exists(packed):
                cache.compress_file(plain, packed)
            found = _open_cached(state.epoch, directory, version, fmt, gzipped)
    if found is None:  # pruned by a newer build between ours and our open: serve that one
        return open_feed(fmt, gzipped)
    return found


def cached_feed(fmt, gzipped=False):
    """(version, checksum, body) of the current version, built once per version and format."""
    document = open_feed(fmt, gzipped)
    with document.file as f:
        return document.version, document.checksum, f.read()


def warm(formats=("json", "txt")):
    """Build the current version's documents, plain and gzip, before the first client asks (gzip
    first: one build writes both, where plain first would compress the written document again)."""
    for fmt in formats:
        for gzipped in (True, False):
            open_feed(fmt, gzipped).file.close()


# --- Checksums and changes ----------------------------------------------------------------------

def _checksum(directory, version, pruned_through, changes=None):
    """The checksum of `version`, which must be the version of the enclosing consistent_read
    (computing it builds the txt document, which costs nothing more)."""
    checksum = cache.read_text(cache.paths(directory, version, "txt")[2])
    if checksum is None:
        with gc_paused():
            checksum = _write(directory, "txt", version, pruned_through, False, changes)
    return checksum


def cached_checksum(state):
    """The checksum of `state.version` if a document of that version was built, else None."""
    return cache.read_text(cache.paths(cache.epoch_directory(state.epoch), state.version, "txt")[2])


def current_checksum():
    """(version, checksum) of the current list, cached per version."""
    directory = cache.epoch_directory(feed_state().epoch)
    with consistent_read() as (version, pruned_through):
        return version, _checksum(directory, version, pruned_through)


def check_since(since, state):
    """Raise FromTheFuture or ResyncRequired unless a client at `since` can be sent the changes to
    `state` (a FeedState)."""
    _check_since(since, state.version, state.pruned_through)


def _check_since(since, version, pruned_through):
    if since > version:
        raise FromTheFuture(version)
    if since < pruned_through:
        raise ResyncRequired(pruned_through)


def _changes_dicts(changed):
    """The SPEC §4 change objects of `_changed_rows`, in order."""
    isos = Renderer().isos
    for _, (listed, (target, kind, countries, categories, first)) in changed:
        if listed:
            entry = entry_dict(target, kind, countries, categories, isos[first])
            entry["listed"] = True
        else:
            entry = {"target": target, "kind": kind, "listed": False}
        yield entry


def changes_since(since):
    """The SPEC §4 changes document for a client at version `since`, as a dict."""
    directory = cache.epoch_directory(feed_state().epoch)
    with consistent_read() as (version, pruned_through):
        _check_since(since, version, pruned_through)
        changed = _changed_rows(since, version)
        checksum = _checksum(directory, version, pruned_through, {since: changed})
    return {"since": since, "version": version, "checksum": checksum, "changes": list(_changes_dicts(changed)),
            "more": False}


def _changes_pieces(since, version, checksum, changed):
    """The bytes of `changes_since(since)` as the API renders it (compact JSON), piece by piece."""
    head = json.dumps({"since": since, "version": version, "checksum": checksum}, separators=(",", ":"))
    yield (head[:-1] + ',"changes":[').encode()
    entries = _changes_dicts(changed)
    separator = ""
    while chunk := list(islice(entries, CHUNK_ROWS)):
        yield (separator + json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))[1:-1]).encode()
        separator = ","
    yield b'],"more":false}'


def _rendered_changes_pieces(since, version, checksum, entries):
    """The bytes of `changes_since(since)` from its change objects already rendered as compact JSON
    (what `_changes_pieces` writes: a compact JSON list is its items joined by commas)."""
    head = json.dumps({"since": since, "version": version, "checksum": checksum}, separators=(",", ":"))
    yield (head[:-1] + ',"changes":[').encode()
    for start in range(0, len(entries), CHUNK_ROWS):
        yield (("," if start else "") + ",".join(entries[start:start + CHUNK_ROWS])).encode()
    yield b'],"more":false}'


def build_changes(sinces):
    """Write the changes documents for clients at each version of `sinces` at the current version
    into the feed cache, from one read of the change log in which each changed target's entry is
    rendered once (a delta from each of the last 100 versions would otherwise read and render the
    newest changes 100 times). Versions already built, pruned from the history or too far back to
    hold (SPLICE_MAX_CHANGES) are left to `open_changes`. Returns the version."""
    state = feed_state()
    directory = cache.epoch_directory(state.epoch)
    with cache.lock(directory, "changes"), gc_paused(), consistent_read() as (version, pruned_through):
        wanted = sorted(since for since in set(sinces) if pruned_through <= since < version
                        and version - since <= SPLICE_MAX_CHANGES
                        and not os.path.exists(cache.changes_paths(directory, since, version)[0]))
        if wanted:
            changed = _last_changes(wanted[0], version)
            checksum = _checksum(directory, version, pruned_through,
                                 {wanted[0]: [(target, change) for target, _seq, change in changed]})
            entries = _changes_dicts([(target, change) for target, _seq, change in changed])
            rendered = [(seq, json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
                        for (_target, seq, _change), entry in zip(changed, entries, strict=True)]
            for since in wanted:
                cache.store_changes(directory, since, version, _rendered_changes_pieces(
                    since, version, checksum, [text for seq, text in rendered if seq > since]))
    if wanted:
        cache.prune(directory, None, version)
    return version


@dataclass
class ChangesFile(FeedFile):
    """A changes document on disk, open for reading; the caller closes `file`."""

    since: int = 0

    @property
    def etag(self):
        return changes_etag(self, self.since, self.gzipped)


def changes_etag(state, since, gzipped=False):
    return etag(state, f"changes-{since}", gzipped)


def _open_cached_changes(epoch, directory, since, version, gzipped):
    return _open_document(ChangesFile, *cache.changes_paths(directory, since, version),
                          cache.paths(directory, version, "txt")[2], gzipped, epoch=epoch, version=version,
                          fmt="json", since=since)


def open_changes(since, gzipped=False):
    """The SPEC §4 changes document for a client at version `since` (gzip-compressed if asked): rendered
    once per (since, version) into the feed cache, beside its gzip twin, and read from there after.
    Raises FromTheFuture or ResyncRequired as `changes_since` does."""
    state = feed_state()
    check_since(since, state)
    directory = cache.epoch_directory(state.epoch)
    found = _open_cached_changes(state.epoch, directory, since, state.version, gzipped)
    if found is not None:
        return found
    with cache.lock(directory, f"changes-{since}"), gc_paused():
        found = _open_cached_changes(state.epoch, directory, since, current_version(), gzipped)
        if found is None:
            with consistent_read() as (version, pruned_through):
                _check_since(since, version, pruned_through)
                if version - since > SPLICE_MAX_CHANGES:  # too many to hold: stream them, in order
                    changed = _streamed_changed_rows(since, version)
                    checksum = _checksum(directory, version, pruned_through)
                else:
                    changed = _changed_rows(since, version)
                    checksum = _checksum(directory, version, pruned_through, {since: changed})
                cache.store_changes(directory, since, version, _changes_pieces(since, version, checksum, changed))
            cache.prune(directory, None, version)
            found = _open_cached_changes(state.epoch, directory, since, version, gzipped)
    if found is None:  # pruned by a newer build between ours and our open: serve that one
        return open_changes(since, gzipped)
    return found
