"""The one writer of the audit log.

An event records who did what, when and from which address. An action on many objects at once
(an upload of a million listings, a bulk removal) is one event with one item per object it
changed, so the log reads as what people did, and the who/when/where is written once. Objects an
event creates need no item: they keep a reference to the event (Listing.creation_event) and are
themselves the record of what it created.
"""

from django.utils import timezone

from sitealert.core.bulk import db_json, insert_rows
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
    return insert_rows(AuditItem._meta.db_table, ["event_id", "object_repr", "detail"],
                       [(event.pk, str(obj)[:300], db_json(detail or {})) for obj, detail in items])


# Searches other apps add to the audit log's: each takes the search term and returns a query of
# event ids (listings add the upload that created a matching listing, for instance).
SEARCHES = []


def register_search(search):
    """Let the audit log's search also find the events `search(term)` names (a queryset of event ids)."""
    SEARCHES.append(search)
    return search
