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


def record_many(actor, action, items):
    """Record one event per (object_repr, detail) pair in bulk."""
    from sitealert.core.bulk import db_datetime, db_json, insert_rows

    now = db_datetime(timezone.now())
    user_id = actor.user.pk if actor is not None and actor.user is not None else None
    org_id = actor.organization.pk if actor is not None and actor.organization is not None else None
    token_hint = actor.token.hint if actor is not None and actor.token is not None else ""
    via = actor.via if actor is not None else ""
    ip = actor.ip if actor is not None else None
    insert_rows(
        AuditEvent._meta.db_table,
        ["created_at", "user_id", "organization_id", "token_hint", "via", "ip_address", "action", "object_repr",
         "detail"],
        [(now, user_id, org_id, token_hint, via, ip, action, str(obj)[:300], db_json(detail or {}))
         for obj, detail in items],
    )
