"""Bulk lookups against the aggregated list, with the subdomain semantics of SPEC §2."""

from sitealert.feed.builder import consistent_read
from sitealert.feed.models import FeedEntry
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target

QUERY_CHUNK = 5000  # targets per IN (…) query; well under SQLite's 32,766 parameters


def lookup(items):
    """{"version", "results"}: for each raw item its target and the most specific listed target
    covering it (a listed domain covers its subdomains, an app only itself)."""
    from sitealert.listings.target_messages import translated_reason

    parsed, wanted = [], set()
    for item in items:
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
    with consistent_read() as (version, _):
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
