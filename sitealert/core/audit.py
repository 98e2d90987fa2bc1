"""The one writer of the audit log.

An event records who did what, when and from which address. An action on many objects at once
(an upload of a million listings, a bulk removal) is one event with one item per object it
changed, so the log reads as what people did, and the who/when/where is written once. Objects an
event creates need no item: they keep a reference to the event (Listing.creation_event) and are
themselves the record of what it created.

An action that happens on a read (a feed download) is not written by the request: `count` adds
it up in the process, and every flush of `core.tallies` writes one event per actor, action,
object and detail with how many times it happened since the last flush (`count`, and `last_at`,
the time of the last one, when there were several; the event's time is the first one's).
"""

import json
import threading

from django.db import transaction
from django.utils import timezone

from sitealert.core import tallies
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


class InProcessEvents:
    """The events `count` has added up in this process since the last flush."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}  # (who..., action, object, detail as JSON) -> [count, first time, last time]

    def count(self, actor, action, object_repr, detail):
        now = timezone.now()
        event = _event(actor, action, object_repr, detail, now)
        key = (event.user_id, event.organization_id, event.token_hint, event.via, event.ip_address, action,
               event.object_repr, json.dumps(event.detail, sort_keys=True))
        with self.lock:
            counted = self.counts.get(key)
            if counted is None:
                self.counts[key] = [1, now, now]
            else:
                counted[0] += 1
                counted[2] = now
        tallies.wake()

    def flush(self):
        with self.lock:
            counts, self.counts = self.counts, {}
        if not counts:
            return
        events = [AuditEvent(user_id=user, organization_id=org, token_hint=hint, via=via, ip_address=ip,
                             action=action, object_repr=object_repr, created_at=first,
                             detail={**json.loads(detail), "count": n,
                                     **({"last_at": last.isoformat()} if n > 1 else {})})
                  for (user, org, hint, via, ip, action, object_repr, detail), (n, first, last) in counts.items()]
        try:
            with transaction.atomic():
                AuditEvent.objects.bulk_create(events, batch_size=500)
        except Exception:
            with self.lock:
                for key, (n, first, last) in counts.items():
                    counted = self.counts.setdefault(key, [0, first, last])
                    counted[0] += n
                    counted[1] = min(counted[1], first)
            raise

    def clear(self):
        with self.lock:
            self.counts = {}


_in_process = InProcessEvents()
tallies.register(_in_process.flush, _in_process.clear)


def count(actor, action, object_repr="", detail=None):
    """Record an event of a read without writing now: written at the next flush, one event with a
    count for all the identical ones of the flush's interval."""
    _in_process.count(actor, action, object_repr, detail)


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
