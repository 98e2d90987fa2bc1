"""A cold build's rows from PostgreSQL as a binary COPY, rendered in C straight from libpq.

psycopg turns each value of a fetched row into a Python string (about 4 s of a ten-million-entry
build), and its COPY hands over one Python object per row (0.85 us each). The C accelerator
(`_documents.CopyRenderer`) instead calls libpq's PQgetCopyData on the connection psycopg holds —
the very libpq psycopg loaded, found among the process's mapped files and checked against
psycopg's own version and the connection's server process — and renders each row with the
pieces `render.DocumentChunks` gives it (a record's middle and end, rendered once per distinct
value by the same Python code, and the escaping of a target that is not canonical), so the bytes
are the ones the Python path writes. Without the accelerator (or with SITEALERT_PURE_PYTHON=1), on an
operating system without /proc or with another libpq than psycopg's, `available()` is false and
the builder reads rows through psycopg.
"""

import ctypes
import os
from contextlib import contextmanager
from functools import cache

import psycopg
from django.db import connection

try:
    from sitealert.feed._documents import CopyRenderer
except ImportError:  # built without a C compiler: rows go through psycopg
    CopyRenderer = None
# SITEALERT_PURE_PYTHON=1 rules the accelerator out here too, as in sitealert.matcher.core.
ACCELERATED = CopyRenderer is not None and os.environ.get("SITEALERT_PURE_PYTHON", "") in ("", "0")

# Bytes of document per piece handed to the writer.
CHUNK_BYTES = 1 << 19


@cache
def _libpq():
    """The libpq that psycopg uses, loaded by ctypes (the same mapped library), or None."""
    if not ACCELERATED:
        return None
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[5].strip() for line in maps if line.count(" ") >= 5 and "/libpq" in line}
    except OSError:
        return None
    paths = {path for path in paths if os.path.basename(path).startswith("libpq")}
    if len(paths) != 1:
        return None
    try:
        library = ctypes.CDLL(paths.pop())
        library.PQlibVersion.restype = ctypes.c_int
        library.PQbackendPID.argtypes = [ctypes.c_void_p]
        library.PQbackendPID.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return library if library.PQlibVersion() == psycopg.pq.version() else None


def available():
    """Whether this connection's rows can be rendered by the C accelerator."""
    if connection.vendor != "postgresql":
        return False
    connection.ensure_connection()
    library = _libpq()
    pgconn = connection.connection.pgconn
    return library is not None and library.PQbackendPID(pgconn.pgconn_ptr) == pgconn.backend_pid


def _address(function):
    return ctypes.cast(function, ctypes.c_void_p).value


@contextmanager
def rendered(sql, parts):
    """A function that returns the next (document bytes, txt bytes) of the rows of `sql` (the
    target, or the target, its attributes joined by tabs and its date), rendered with `parts`
    (`DocumentChunks.copy_parts`), and None after the last. Must run in the caller's transaction
    on PostgreSQL, when `available()`."""
    library = _libpq()
    copy_sql = f"COPY ({sql}) TO STDOUT (FORMAT binary)"
    if connection.queries_logged:  # as Django's debug cursor does: tests see the query
        connection.queries_log.append({"sql": copy_sql, "time": "0.000"})
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
        renderer = CopyRenderer(connection.connection.pgconn.pgconn_ptr, _address(library.PQgetCopyData),
                                _address(library.PQfreemem), chunk=CHUNK_BYTES, **parts)
        try:
            yield renderer.read
        finally:
            # Whatever was left unread (a target that needs quoting, attributes to fetch apart): read
            # and dropped, so the COPY ends as usual instead of a cancel aborting the transaction.
            renderer.drain()
            if copy.read():
                raise psycopg.InterfaceError("rows after the end of a binary COPY")
