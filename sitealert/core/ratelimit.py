"""Fixed-window rate limits, counted in the database that every web process shares.

One statement per request: an upsert that adds the request to its client's row for the
current window and returns the count, atomically on SQLite and PostgreSQL alike, so concurrent
requests of one client cannot both read the same count and slip past the limit together.
"""

import ipaddress
import time

from django.db import connection

from sitealert.core import metrics
from sitealert.core.models import RateLimitCount


def _table():
    return connection.ops.quote_name(RateLimitCount._meta.db_table)


def _key(scope, key, bucket):
    """The row of `key`'s requests under `scope` in window number `bucket` (cut to the column's size)."""
    return f"{scope}:{key}:{bucket}"[:320]


def hit(scope, key, limit, window):
    """Count one request; return seconds to wait (0 when allowed)."""
    now = int(time.time())
    bucket = now // window
    table = _table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, count, expires) VALUES (%s, 1, %s) "
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [_key(scope, key, bucket), (bucket + 1) * window])
        count = cursor.fetchone()[0]
    if count > limit:
        metrics.count_refusal(scope)
        return (bucket + 1) * window - now
    return 0


def refund(scope, key, window):
    """Give back one request counted by `hit` in the current window (a sign-in that succeeded).

    Once the window has turned over there is nothing left to give back.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET count = count - 1 WHERE key = %s AND count > 0",
                       [_key(scope, key, int(time.time()) // window)])


def purge_expired(now=None):
    """Delete the counts of windows that are over; returns how many."""
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
