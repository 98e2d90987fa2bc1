"""Fast inserts of many rows: COPY on PostgreSQL, one executemany on SQLite.

Services use this where a single submission can carry a million rows; the ORM's bulk_create
spends most of its time preparing values one field at a time.
"""

import json

from django.db import connection


def insert_rows(table, columns, rows):
    """Insert `rows` (tuples in `columns` order) into `table` on the default connection."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})", rows)
    return len(rows)


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


def max_params():
    """How many query parameters one statement may carry."""
    return 30000 if connection.vendor == "postgresql" else 30000
