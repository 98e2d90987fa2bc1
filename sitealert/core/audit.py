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

    detail: {key: text column name, or a `Literal` constant}; each value becomes a JSON string.
    The database builds each item's detail, so a million items never pass through Python one by
    one. Returns the number of items.
    """
    from django.db import connection

    from sitealert.core.bulk import cast_param

    q = connection.ops.quote_name
    postgresql = connection.vendor == "postgresql"
    # Constants are parameters typed as text: PostgreSQL cannot infer a type for them otherwise.
    text = "CAST(%s AS text)" if postgresql else "%s"
    values, constants = [], []
    for value in detail.values():
        if isinstance(value, Literal):
            values.append(text)
            constants.append(str(value))
        else:
            values.append(q(value))
    if postgresql:
        # jsonb_object(keys, values) takes two text arrays; jsonb_build_object's variadic
        # arguments cost a million-row upload 0.4 s more.
        build, params = f"jsonb_object(CAST(%s AS text[]), ARRAY[{', '.join(values)}])", [list(detail), *constants]
    else:
        # json_object(key, value, …): each key is a parameter, ahead of its constant if it has one.
        build, params, constants = f"json_object({', '.join(f'%s, {v}' for v in values)})", [], iter(constants)
        for key, value in detail.items():
            params += [key, next(constants)] if isinstance(value, Literal) else [key]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(AuditItem._meta.db_table)} (event_id, object_repr, detail) "
            f"SELECT {cast_param(AuditItem._meta.get_field('event'))}, SUBSTR({q(object_column)}, 1, 300), "
            f"{build} FROM {table} ORDER BY {q(object_column)}", [event.pk, *params])
        return cursor.rowcount


class Literal(str):
    """A constant in `add_selected_items`'s detail, as opposed to a column name."""
