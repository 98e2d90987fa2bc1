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


def record_many(actor, action, items, batch_size=2000):
    """Record one event per (object_repr, detail) pair in bulk."""
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        (_event(actor, action, obj, detail, now) for obj, detail in items), batch_size=batch_size
    )
