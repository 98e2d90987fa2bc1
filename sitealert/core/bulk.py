"""Fast inserts of many rows: COPY on PostgreSQL, one executemany on SQLite.

Services use this where a single submission can carry a million rows; the ORM's bulk_create
spends most of its time preparing values one field at a time.
"""

import gc
import json
from contextlib import contextmanager
from functools import partial

from django.db import connection, transaction

from sitealert.core.after_response import after_response


def insert_rows(table, columns, rows):
    """Insert `rows` (tuples in `columns` order) into `table` on the default connection."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for start in range(0, len(rows), 10000):
                    copy.write(_copy_text(rows[start:start + 10000]))
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})", rows)
    return len(rows)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(rows):
    """Rows in COPY's text format; psycopg's write_row costs several microseconds a row.

    Rows of plain strings — the usual staged upload — are joined in C and checked as a whole:
    no backslash or carriage return, and exactly the tabs and newlines of the separators, means
    no value needed an escape. Anything else is escaped value by value.
    """
    try:
        text = "\n".join(map("\t".join, rows)) + "\n"
    except TypeError:  # a value that is not a string: None, a number, a date
        pass
    else:
        if ("\\" not in text and "\r" not in text and text.count("\n") == len(rows)
                and text.count("\t") == (len(rows[0]) - 1) * len(rows)):
            return text
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows)


def update_rows(table, columns, key, rows):
    """UPDATE table SET columns… WHERE key = …, for rows of (values…, key_value)."""
    if not rows:
        return 0
    q = connection.ops.quote_name
    assignments = ", ".join(f"{q(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {q(table)} SET {assignments} WHERE {q(key)} = %s", rows)
    return len(rows)


def db_datetime(value):
    """A datetime as the backend stores it (ISO text on SQLite, the value itself on PostgreSQL)."""
    return connection.ops.adapt_datetimefield_value(value) if value is not None else None


def db_date(value):
    return connection.ops.adapt_datefield_value(value) if value is not None else None


def db_json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def true():
    """The literal true in SQL (SQLite before 3.23 knows no TRUE)."""
    return "TRUE" if connection.vendor == "postgresql" else "1"


def target_key():
    """A staging table's key column of targets, in code-point order: the order of the listings' and
    the entries' targets on PostgreSQL (collation "C"; SQLite's text compares that way already)."""
    return 'target text COLLATE "C" PRIMARY KEY' if connection.vendor == "postgresql" else "target text PRIMARY KEY"


def cast_param(field):
    """A placeholder typed as `field`'s column, for parameters in a SELECT list feeding an INSERT."""
    if connection.vendor == "postgresql":
        return f"CAST(%s AS {field.db_type(connection)})"
    return "%s"


def probe():
    """The end of an EXISTS subquery that PostgreSQL should answer by an index lookup per outer row.

    Planned as a join, the semi- or anti-join of a staged upload with a large table reads all of
    the table (a hash of ten million feed entries for a file of a few hundred thousand rows),
    so an upload's cost grows with the list. OFFSET 0 keeps the planner from turning the
    subquery into a join: it stays a lookup per staged row, in number the size of the upload.
    SQLite runs a correlated subquery that way already.
    """
    return " OFFSET 0" if connection.vendor == "postgresql" else ""


def lookup_join(table, alias, condition):
    """LEFT JOIN `table` AS `alias` ON `condition`, answered by index lookups per outer row.

    As with `probe`: PostgreSQL would join many staged rows with a large table by hashing all of
    it; a LATERAL subquery that it may not flatten (OFFSET 0) is run once per outer row instead.
    The rows are those of the plain LEFT JOIN, which SQLite runs as lookups already.
    """
    if connection.vendor == "postgresql":
        return f"LEFT JOIN LATERAL (SELECT * FROM {table} {alias} WHERE {condition} OFFSET 0) {alias} ON TRUE"
    return f"LEFT JOIN {table} {alias} ON {condition}"


@contextmanager
def temporary_table(name, columns):
    """A temporary table, empty, for the duration of the block inside the caller's transaction.

    columns: "name type" definitions in PostgreSQL's types (SQLite accepts any type name).
    Set-based statements then do per-row work in the database instead of in Python. The table
    is created once per database connection and emptied after each use: creating a table costs
    PostgreSQL ~8 ms of catalog work, more than a one-row submission itself. On PostgreSQL its
    rows go at commit (ON COMMIT DELETE ROWS, a truncation); on SQLite they are deleted at the
    end of the block. A rollback takes them too.
    """
    quoted = connection.ops.quote_name(name)
    if connection.vendor == "postgresql":
        suffix = " ON COMMIT DELETE ROWS"
    else:
        # A table keyed by its primary key is one B-tree instead of two (rows plus the key's
        # index), and a scan comes out in key order, so ORDER BY the key needs no sort.
        suffix = " WITHOUT ROWID" if any("PRIMARY KEY" in c for c in columns) else ""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quoted} ({', '.join(columns)}){suffix}")
        cursor.execute(f"DELETE FROM {quoted}")  # rows of an earlier use in this transaction (PostgreSQL)
    yield quoted
    if connection.vendor != "postgresql" and not connection.needs_rollback:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {quoted}")


def analyze(table, rows):
    """Prepare PostgreSQL for set-based statements over a freshly filled temporary table of `rows` rows.

    The planner gets the table's statistics — always, since the table outlives its rows and stale
    figures from a million-row upload would send a one-row submission through hash joins over
    whole tables — and a large batch gets memory to sort and hash in (for the rest of the
    transaction) instead of spilling to disk; JIT compilation is left out, as it costs more than
    it saves on these single-pass statements.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        if rows > 50_000:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")


def refresh_statistics(models, rows):
    """After a bulk write of `rows` rows, give PostgreSQL's planner fresh statistics of the tables
    it changed by a tenth or more — once the transaction has committed and, in a web request,
    once its answer has gone out (`after_response`).

    Autovacuum would get there within minutes; until then, plans made for the tables' old sizes
    turn the next one-row submission into scans of a million rows. A write that adds less than a
    tenth to a table leaves its plans as they were (the planner scales the row count to the
    table's size on disk), as autovacuum's own threshold does: sampling ten million rows again
    would make every upload into a large list pay for the size of the list. Only the following
    requests' plans need the statistics, so the upload does not wait for them: `ANALYZE` of the
    change log and the entries took up to 2.7 s of a 666,667-row file's 13 s at ten million
    listings inside its transaction (docs/benchmarks.md). A write that rolls back analyzes nothing.
    """
    if connection.vendor != "postgresql" or rows < 10_000:
        return
    tables = [m._meta.db_table for m in models]
    transaction.on_commit(partial(after_response, partial(_analyze_grown, tables, rows)))


def _analyze_grown(tables, rows):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE oid = ANY(CAST(%s AS regclass[]))", [tables])
        known = dict(cursor.fetchall())
        stale = [t for t in tables if rows * 10 >= known.get(t, 0)]
        if stale:
            cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(t) for t in stale)}")


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a bulk operation allocates millions of objects.

    They are tuples, strings and small records without reference cycles, so the collector finds
    nothing; left running, its full collections rescan every live object again and again and cost
    more than the work itself (a third of a million-row import).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
