"""Sliding-window rate limits, counted in the database that every web process shares.

A client's row under a limit holds its requests in the current fixed window and in the one
before; the limit applies to the weighted sum — the previous window's count times the share of
it that still lies within one window's length of now, plus the current count — so a client
cannot spend its limit at the end of one window and again at the start of the next.

One statement per request: an upsert that adds the request to its client's row (moving the
windows on when time has) and returns both counts, atomically on SQLite and PostgreSQL alike, so
concurrent requests of one client cannot both read the same count and slip past the limit together.
"""

import ipaddress
import math
import time

from django.db import connection

from sitealert.core import metrics
from sitealert.core.models import RateLimitCount


def _table():
    return connection.ops.quote_name(RateLimitCount._meta.db_table)


def _key(scope, key):
    """The row of `key`'s requests under `scope` (cut to the column's size)."""
    return f"{scope}:{key}"[:320]


def hit(scope, key, limit, window):
    """Count one request; return seconds to wait (0 when allowed)."""
    now = time.time()
    bucket = int(now // window)
    table = _table()
    # SET expressions read the row as it was before the update, on both databases.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, bucket, count, previous, expires) VALUES (%s, %s, 1, 0, %s) "
            f"ON CONFLICT (key) DO UPDATE SET "
            f"previous = CASE WHEN {table}.bucket = excluded.bucket THEN {table}.previous "
            f"WHEN {table}.bucket = excluded.bucket - 1 THEN {table}.count ELSE 0 END, "
            f"count = CASE WHEN {table}.bucket = excluded.bucket THEN {table}.count + 1 ELSE 1 END, "
            f"bucket = excluded.bucket, expires = excluded.expires "
            f"RETURNING count, previous",
            [_key(scope, key), bucket, (bucket + 2) * window])
        count, previous = cursor.fetchone()
    elapsed = now - bucket * window
    if previous * (1 - elapsed / window) + count <= limit:
        return 0
    metrics.count_refusal(scope)
    return _wait(limit, window, count, previous, elapsed)


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
