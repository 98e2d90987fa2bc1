"""Bulk lookups against the aggregated list, with the subdomain semantics of SPEC §2.

Lookups are answered from this process's own `sitealert.matcher.Matcher` of the current version
(`current_matcher`), the matcher the client SDK uses: a request costs one query (the version) and
no database lookup per item. The matcher is built once per version, from one scan of the
aggregated list read in one snapshot; the first lookup after a new version pays for it.
"""

import threading

from django.db import connection
from django.utils.translation import gettext as _

from sitealert.core.target_messages import translated_reason
from sitealert.feed.builder import consistent_read, feed_state
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.matcher import Matcher

FETCH_ROWS = 10_000
# Longer than any address browsers and ad servers pass around; normalizing 10,000 items of
# megabytes each would let one request hold a worker for seconds.
MAX_ITEM_LENGTH = 4096


class CurrentMatcher:
    """This process's matcher of the aggregated list, rebuilt when the version (or, after a restore,
    the epoch) changes. A memory-mapped replica generation could later take the place of `_build`:
    the answers come from whatever `Matcher` `get` returns."""

    def __init__(self):
        self.lock = threading.Lock()
        self.key, self.version, self.matcher = None, 0, Matcher()

    def get(self):
        """(version, matcher) of the current version."""
        with connection.cursor() as cursor:  # a statement, not the ORM: it runs at every lookup
            cursor.execute("SELECT epoch, version FROM feed_feedstate WHERE id = 1")
            row = cursor.fetchone()
        key = tuple(row) if row else None  # None: no version yet, the empty matcher answers
        if key != self.key:
            with self.lock:
                if key != self.key:
                    self.key, self.version, self.matcher = self._build()
        return self.version, self.matcher

    @staticmethod
    def _build():
        with consistent_read() as (version, _pruned):
            epoch = feed_state().epoch
            targets = []
            with connection.chunked_cursor() as cursor:
                cursor.execute("SELECT target FROM feed_feedentry")
                while rows := cursor.fetchmany(FETCH_ROWS):
                    targets.extend(row[0] for row in rows)
        return (epoch, version), version, Matcher(targets)


current_matcher = CurrentMatcher()


def lookup(items):
    """{"version", "results"}: for each raw item its target and the most specific listed target
    covering it (a listed domain covers its subdomains, an app only itself)."""
    version, matcher = current_matcher.get()
    results, targets = [], []
    for item in items:
        if len(item) > MAX_ITEM_LENGTH:
            results.append({"item": item, "target": None, "listed": False, "matched": None, "error": _(
                "This item is longer than %(n)d characters; no web address or app id is that long.") % {
                "n": MAX_ITEM_LENGTH}})
            continue
        try:
            target = normalize_target(item)
        except InvalidTarget as exc:
            results.append({"item": item, "target": None, "listed": False, "matched": None,
                            "error": translated_reason(exc)})
            continue
        results.append({"item": item, "target": target})
        targets.append(target)
    # Canonical targets in one call of the matcher (its C table, when built, walks the parents).
    matches = iter(matcher.check_many(targets))
    for result in results:
        if "error" not in result:
            match = next(matches)
            result["listed"], result["matched"] = match is not None, None if match is None else match.target
    return {"version": version, "results": results}
