"""Bulk lookups against the aggregated list, with the subdomain semantics of SPEC §2."""

from django.utils.translation import gettext as _

from sitealert.core.target_messages import translated_reason
from sitealert.feed.builder import consistent_read
from sitealert.feed.models import FeedEntry
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target

QUERY_CHUNK = 5000  # targets per IN (…) query; well under SQLite's 32,766 parameters
# Longer than any address browsers and ad servers pass around; normalizing 10,000 items of
# megabytes each would let one request hold a worker for seconds.
MAX_ITEM_LENGTH = 4096


def lookup(items):
    """{"version", "results"}: for each raw item its target and the most specific listed target
    covering it (a listed domain covers its subdomains, an app only itself)."""
    parsed, wanted = [], set()
    for item in items:
        if len(item) > MAX_ITEM_LENGTH:
            parsed.append((item, None, _("This item is longer than %(n)d characters; no web address or app id is "
                                         "that long.") % {"n": MAX_ITEM_LENGTH}))
            continue
        try:
            target = normalize_target(item)
        except InvalidTarget as exc:
            parsed.append((item, None, translated_reason(exc)))
            continue
        covering = covering_targets(target)
        wanted.update(covering)
        parsed.append((item, target, covering))
    wanted = sorted(wanted)
    listed = set()
    with consistent_read() as (version, _checksum):
        for start in range(0, len(wanted), QUERY_CHUNK):
            listed.update(FeedEntry.objects.filter(target__in=wanted[start:start + QUERY_CHUNK])
                          .values_list("target", flat=True))
    results = []
    for item, target, covering in parsed:
        if target is None:
            results.append({"item": item, "target": None, "listed": False, "matched": None, "error": covering})
            continue
        matched = next((t for t in covering if t in listed), None)
        results.append({"item": item, "target": target, "listed": matched is not None, "matched": matched})
    return {"version": version, "results": results}
