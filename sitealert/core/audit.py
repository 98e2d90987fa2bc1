"""The one writer of the audit log."""

from django.utils import timezone

from sitealert.core.models import AuditEvent


def _event(actor, action, object_repr, detail, now):
    return AuditEvent(
        created_at=now,
        user=actor.user if actor is not None else None,
        organization=actor.organization if actor is not None else None,
        token_hint=actor.token.hint if actor is not None and actor.token is not None else "",
        via=actor.via if actor is not None else "",
        ip_address=actor.ip if actor is not None else None,
        action=action,
        object_repr=str(object_repr)[:300],
        detail=detail or {},
    )


def record(actor, action, object_repr="", detail=None):
    event = _event(actor, action, object_repr, detail, timezone.now())
    event.save()
    return event


WHO_COLUMNS = ["created_at", "user_id", "organization_id", "token_hint", "via", "ip_address", "action"]


def _who(actor, action):
    """The columns every event of one bulk record shares, in WHO_COLUMNS order."""
    from sitealert.core.bulk import db_datetime

    return (
        db_datetime(timezone.now()),
        actor.user.pk if actor is not None and actor.user is not None else None,
        actor.organization.pk if actor is not None and actor.organization is not None else None,
        actor.token.hint if actor is not None and actor.token is not None else "",
        actor.via if actor is not None else "",
        actor.ip if actor is not None else None,
        action,
    )


def record_many(actor, action, items):
    """Record one event per (object_repr, detail) pair in bulk."""
    from sitealert.core.bulk import db_json, insert_rows

    who = _who(actor, action)
    insert_rows(AuditEvent._meta.db_table, WHO_COLUMNS + ["object_repr", "detail"],
                [(*who, str(obj)[:300], db_json(detail or {})) for obj, detail in items])


def record_selected(actor, action, table, object_column, detail):
    """Record one event per row of `table` (a staging table of the current transaction).

    detail: {key: column name, or a str subclass `Literal` for a constant} — the event's detail
    is built by the database, so a million events never pass through Python one by one.
    """
    from django.db import connection

    from sitealert.core.bulk import cast_param

    who = _who(actor, action)
    casts = ", ".join(cast_param(AuditEvent._meta.get_field(c.removesuffix("_id"))) for c in WHO_COLUMNS)
    pairs, params = [], list(who)
    for key, value in detail.items():
        pairs.append("%s")
        params.append(key)
        if isinstance(value, Literal):
            pairs.append("%s")
            params.append(str(value))
        else:
            pairs.append(connection.ops.quote_name(value))
    build = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    # Keys and constants are parameters typed as text: PostgreSQL cannot infer a type for them
    # inside a variadic function.
    if connection.vendor == "postgresql":
        pairs = [p if p != "%s" else "CAST(%s AS text)" for p in pairs]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(AuditEvent._meta.db_table)} ({', '.join(q(c) for c in WHO_COLUMNS)}, object_repr, detail) "
            f"SELECT {casts}, SUBSTR({q(object_column)}, 1, 300), {build}({', '.join(pairs)}) FROM {table}",
            params)
        return cursor.rowcount


class Literal(str):
    """A constant in `record_selected`'s detail, as opposed to a column name."""
