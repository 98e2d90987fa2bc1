"""Sliding-window rate limits, counted in the database that every web process shares.

A client's row under a limit holds its requests in the current fixed window and in the one
before; the limit applies to the weighted sum — the previous window's count times the share of
it that still lies within one window's length of now, plus the current count — so a client
cannot spend its limit at the end of one window and again at the start of the next.

Two ways to count a request:

- `hit`, for requests that write anyway (a sign-in, a second factor, a review request): one
  statement, an upsert that adds the request to its client's row (moving the windows on when time
  has) and returns both counts, atomically on SQLite and PostgreSQL alike, so concurrent requests of
  one client cannot both read the same count and slip past the limit together. Exact.
- `tally`, for reads (the public check, every call with a bearer token), which must not write:
  the request is counted in this process (`InProcessCounts`), and the process's counts reach the
  shared rows as sums at every flush (`core.tallies`, every TALLY_FLUSH_SECONDS). A process decides
  on the shared counts it last read or flushed (read again at a request once they are a flush
  interval old, so a process the client left for a while still learns what the others wrote) plus
  its own unflushed ones; what it cannot see are the requests other processes took since their
  last flush and within the last flush interval, so a client that
  spreads its requests over P processes gets at most the limit plus what it sends to the other
  P - 1 processes within two flush intervals, and never more than P times the limit in one window.
  Each process on its own holds the limit exactly.
"""

import ipaddress
import math
import threading
import time

from django.db import connection

from sitealert.core import metrics, tallies
from sitealert.core.conf import setting
from sitealert.core.models import RateLimitCount

ROWS_PER_STATEMENT = 500  # 5 parameters a row: well under SQLite's 32,766


def _table():
    return connection.ops.quote_name(RateLimitCount._meta.db_table)


def _key(scope, key):
    """The row of `key`'s requests under `scope` (cut to the column's size)."""
    return f"{scope}:{key}"[:320]


def _upsert_sql(table, rows):
    """Add (key, bucket, count, previous, expires) rows to the counts, merged as `merge` does; the
    statement returns each key's row after it. SET expressions read the row as it was before the
    update, on both databases."""
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * rows)
    return (
        f"INSERT INTO {table} (key, bucket, count, previous, expires) VALUES {values} "
        f"ON CONFLICT (key) DO UPDATE SET "
        f"previous = CASE WHEN {table}.bucket = excluded.bucket THEN {table}.previous + excluded.previous "
        f"WHEN {table}.bucket = excluded.bucket + 1 THEN {table}.previous + excluded.count "
        f"WHEN {table}.bucket > excluded.bucket + 1 THEN {table}.previous "
        f"WHEN {table}.bucket = excluded.bucket - 1 THEN {table}.count + excluded.previous "
        f"ELSE excluded.previous END, "
        f"count = CASE WHEN {table}.bucket = excluded.bucket THEN {table}.count + excluded.count "
        f"WHEN {table}.bucket > excluded.bucket THEN {table}.count ELSE excluded.count END, "
        f"bucket = CASE WHEN {table}.bucket > excluded.bucket THEN {table}.bucket ELSE excluded.bucket END, "
        f"expires = CASE WHEN {table}.bucket > excluded.bucket THEN {table}.expires ELSE excluded.expires END "
        f"RETURNING key, bucket, count, previous")


def merge(one, other):
    """Two (bucket, count, previous) tallies of one key as one: counts of the same window add up, the
    later window's previous takes in the other's current count, and older windows weigh nothing."""
    if one[0] < other[0]:
        one, other = other, one
    if one[0] == other[0]:
        return one[0], one[1] + other[1], one[2] + other[2]
    if one[0] == other[0] + 1:
        return one[0], one[1], one[2] + other[1]
    return one


def _decide(scope, now, limit, window, bucket, count, previous):
    elapsed = now - bucket * window
    if previous * (1 - elapsed / window) + count <= limit:
        return 0
    metrics.count_refusal(scope)
    return _wait(limit, window, count, previous, elapsed)


def hit(scope, key, limit, window):
    """Count one request in the shared rows now; return seconds to wait (0 when allowed)."""
    now = time.time()
    bucket = int(now // window)
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(_table(), 1), [_key(scope, key), bucket, 1, 0, (bucket + 2) * window])
        _key_, _bucket, count, previous = cursor.fetchone()
    return _decide(scope, now, limit, window, bucket, count, previous)


class InProcessCounts:
    """One process's requests under the limits counted by `tally`, written to the shared rows as sums.

    `shared` holds each key's row as this process last read it (at a request) or wrote it (a flush
    returns the rows it changed), `learned` when; `pending` the requests counted since the last
    flush, `flushing` those being written now. All three are (bucket, count, previous) tallies.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.shared, self.learned, self.pending, self.flushing, self.windows = {}, {}, {}, {}, {}

    def hit(self, scope, key, limit, window):
        """Count one request; return seconds to wait (0 when allowed). Reads the shared row when a
        key comes up in this process for the first time or what it knows of it is a flush interval
        old (at most one statement per key and interval, however many requests); never writes."""
        now = time.time()
        bucket = int(now // window)
        row_key = _key(scope, key)
        read = row_key not in self.shared or now - self.learned[row_key] >= setting("TALLY_FLUSH_SECONDS")
        if read:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT bucket, count, previous FROM {_table()} WHERE key = %s", [row_key])
                row = cursor.fetchone()
        this = (bucket, 1, 0)
        with self.lock:
            # A flush that ended while the row was read knows better (the row may predate its write).
            if read and (row_key not in self.shared or self.learned[row_key] <= now):
                self.shared[row_key] = tuple(row) if row else (bucket, 0, 0)
                self.learned[row_key] = now
            counted = self.pending.get(row_key)
            self.pending[row_key] = this if counted is None else merge(counted, this)
            self.windows[row_key] = window
            known = merge(self.shared[row_key], self.pending[row_key])
            if row_key in self.flushing:
                known = merge(known, self.flushing[row_key])
        tallies.wake()
        _bucket, count, previous = merge(known, (bucket, 0, 0))
        return _decide(scope, now, limit, window, bucket, count, previous)

    def flush(self):
        """Write the counts taken since the last flush as one upsert per few hundred keys, and learn
        the shared counts of those keys (every process's flushed requests) from what it returns."""
        with self.lock:
            if not self.pending:
                self._forget_old()
                return
            self.flushing, self.pending = self.pending, {}
            batch = [(key, bucket, count, previous, (bucket + 2) * self.windows[key])
                     for key, (bucket, count, previous) in self.flushing.items()]
        try:
            returned = []
            with connection.cursor() as cursor:
                for start in range(0, len(batch), ROWS_PER_STATEMENT):
                    rows = batch[start:start + ROWS_PER_STATEMENT]
                    cursor.execute(_upsert_sql(_table(), len(rows)), [value for row in rows for value in row])
                    returned.extend(cursor.fetchall())
        except Exception:
            with self.lock:
                for key, counts in self.flushing.items():
                    self.pending[key] = merge(self.pending[key], counts) if key in self.pending else counts
                self.flushing = {}
            raise
        with self.lock:
            learned = time.time()
            for key, bucket, count, previous in returned:
                self.shared[key] = (bucket, count, previous)
                self.learned[key] = learned
            self.flushing = {}
            self._forget_old()

    def _forget_old(self):
        """Drop the keys whose counts no longer weigh on their limit (two windows on)."""
        now = time.time()
        for key in [key for key, (bucket, _c, _p) in self.shared.items()
                    if key not in self.pending and bucket + 2 <= now // self.windows.get(key, 1)]:
            del self.shared[key]
            del self.learned[key]
            self.windows.pop(key, None)

    def clear(self):
        with self.lock:
            self.shared, self.learned, self.pending, self.flushing, self.windows = {}, {}, {}, {}, {}


_in_process = InProcessCounts()
tallies.register(_in_process.flush, _in_process.clear)


def tally(scope, key, limit, window):
    """Count one request of a read in this process (see the module's docstring for how far the limit
    can be exceeded across processes); return seconds to wait (0 when allowed)."""
    return _in_process.hit(scope, key, limit, window)


def _wait(limit, window, count, previous, elapsed):
    """Whole seconds until one more request would be within the limit."""
    room = limit - count - 1
    if room >= 0 and previous:
        # Still in this window, once enough of the previous one has slid out.
        return max(1, math.ceil(window * (1 - room / previous) - elapsed))
    # In the next window, once enough of this one has slid out.
    share_left = max(limit - 1, 0) / count
    return max(1, math.ceil(window - elapsed + window * (1 - share_left)))


def refund(scope, key, window):
    """Give back one request counted by `hit` in the current window (a sign-in that succeeded).

    Once the window has turned over there is nothing left to give back.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET count = count - 1 WHERE key = %s AND bucket = %s AND count > 0",
                       [_key(scope, key), int(time.time() // window)])


def purge_expired(now=None):
    """Delete the rows whose counts no longer weigh on any limit; returns how many."""
    now = int(time.time()) if now is None else int(now)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE expires <= %s", [now])
        return cursor.rowcount


def client_key(ip):
    """The rate-limit key of a client address: IPv6 clients by their /64, which one subscriber holds whole."""
    if not ip:
        return "-"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return str(ip)[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
