"""The one writer of the audit log.

An event records who did what, when and from which address. An action on many objects at once
(an upload of a million listings, a bulk removal) is one event with one item per object, so the
log reads as what people did, and the who/when/where is written once.
"""

from django.utils import timezone

from sitealert.core.models import AuditEvent, AuditItem


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


def record_many(actor, action, items, *, object_repr="", detail=None):
    """Record one event with an item per (object_repr, detail) pair; nothing when there are none.

    The event's object is the single item's when there is one (a web form's removal reads like
    any other event), else `object_repr` (what the items have in common, e.g. their contributor).
    """
    items = list(items)
    if not items:
        return None
    event = record(actor, action, items[0][0] if len(items) == 1 else object_repr,
                   {"items": len(items), **(detail or {})})
    add_items(event, items)
    return event


def add_items(event, items):
    """Add (object_repr, detail) items to an event recorded in this transaction."""
    from sitealert.core.bulk import db_json, insert_rows

    return insert_rows(AuditItem._meta.db_table, ["event_id", "object_repr", "detail"],
                       [(event.pk, str(obj)[:300], db_json(detail or {})) for obj, detail in items])


def add_selected_items(event, table, object_column, detail):
    """Add an item per row of `table` (a staging table of the current transaction) to an event.

    detail: {key: column name, or a `Literal` constant}. The database builds each item's detail,
    so a million items never pass through Python one by one. Returns the number of items.
    """
    from django.db import connection

    from sitealert.core.bulk import cast_param

    q = connection.ops.quote_name
    postgresql = connection.vendor == "postgresql"
    # Keys and constants are parameters typed as text: PostgreSQL cannot infer a type for them
    # inside a variadic function.
    text = "CAST(%s AS text)" if postgresql else "%s"
    pairs, params = [], [event.pk]
    for key, value in detail.items():
        pairs.append(text)
        params.append(key)
        if isinstance(value, Literal):
            pairs.append(text)
            params.append(str(value))
        else:
            pairs.append(q(value))
    build = "jsonb_build_object" if postgresql else "json_object"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(AuditItem._meta.db_table)} (event_id, object_repr, detail) "
            f"SELECT {cast_param(AuditItem._meta.get_field('event'))}, SUBSTR({q(object_column)}, 1, 300), "
            f"{build}({', '.join(pairs)}) FROM {table} ORDER BY {q(object_column)}", params)
        return cursor.rowcount


class Literal(str):
    """A constant in `add_selected_items`'s detail, as opposed to a column name."""
