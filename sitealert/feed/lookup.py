"""Bulk lookups against the aggregated list, with the subdomain semantics of SPEC §2.

Lookups are answered from this process's own `sitealert.matcher.Matcher` of the current version
(`current_matcher`), the matcher the client SDK uses: a request costs one query (the version) and
no database lookup per item. The base is the list at one version; a later version is the base
plus the targets changed since (read from the change log, in one snapshot), until more than
OVERLAY_MAX_CHANGES have changed or the history the base needs is pruned: then a newer base is
needed. The first lookup after a version pays for it.

With the C accelerator the base is a generation file, FEED_CACHE_DIR/<epoch>/lookup-<version>.gen
(`sitealert.matcher.generation`), written once for the whole machine from one sorted scan of the
list (streamed a chunk at a time, one builder at a time under `cache.lock`, renamed into place
whole) and mapped read-only by every process: the workers share one copy of its pages, and a
process that starts maps the newest usable base instead of building its own. Without the
accelerator (SITEALERT_PURE_PYTHON=1) each process builds an in-memory Matcher from one scan.
"""

import functools
import json
import math
import threading

from django.db import connection
from django.utils.translation import gettext as _

from sitealert.core.target_messages import translated_reason
from sitealert.feed import cache
from sitealert.feed.builder import consistent_read, feed_state, sorted_targets
from sitealert.feed.state import PerVersion, current_state
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target
from sitealert.matcher import ACCELERATED, Matcher, generation
from sitealert.matcher.suffix_rules import rule_parents

FETCH_ROWS = 10_000
# Changes since the base beyond which the base is built again: the overlay is a small matcher
# built at each version, and a set the base's answers are checked against.
OVERLAY_MAX_CHANGES = 10_000
# Longer than any address browsers and ad servers pass around; normalizing 10,000 items of
# megabytes each would let one request hold a worker for seconds.
MAX_ITEM_LENGTH = 4096
# Items seen again (ad servers look up the same sites all day) skip normalization, about 8 us an
# item and most of a 1,000-item lookup. Only short items are kept (a host is at most 253
# characters): the cache holds at most about 20,000 x 300 bytes, ~6 MB, per process.
NORMALIZED_CACHE_ITEMS = 20_000
NORMALIZED_CACHE_LENGTH = 256


def _normalize(item):
    """normalize_target(item), or the InvalidTarget it raised (translated per request by the caller)."""
    try:
        return normalize_target(item)
    except InvalidTarget as exc:
        return exc


_normalized_short = functools.lru_cache(maxsize=NORMALIZED_CACHE_ITEMS)(_normalize)


def _normalized(item):
    return _normalized_short(item) if len(item) <= NORMALIZED_CACHE_LENGTH else _normalize(item)


class Overlaid:
    """The aggregated list at one version as a base (a file or a structure of the list at
    `base_version`) plus the targets listed since (`added`) and those no longer listed (`removed`).
    Subclasses take the same constructor arguments."""

    def __init__(self, epoch, base_version, base, version=None, added=frozenset(), removed=frozenset()):
        self.epoch, self.base_version, self.base = epoch, base_version, base
        self.version = base_version if version is None else version
        self.added, self.removed = added, removed

    def after(self, changes, version):
        """This list with the (target, listed) changes up to `version` applied, in order."""
        added, removed = set(self.added), set(self.removed)
        for target, listed in changes:
            (added if listed else removed).add(target)
            (removed if listed else added).discard(target)
        return type(self)(self.epoch, self.base_version, self.base, version, frozenset(added), frozenset(removed))


class CurrentList:
    """This process's Overlaid of the current version, brought up to date at each request: the
    changes since are applied to the one it holds while its base can take them (same epoch,
    history retained, at most OVERLAY_MAX_CHANGES since the base), else `_base` gives a new one."""

    def __init__(self, current):
        self.lock = threading.Lock()
        self.current = current

    def get(self):
        """The Overlaid of the current version."""
        state = current_state()
        if state != (self.current.epoch, self.current.version):
            with self.lock:
                if state != (self.current.epoch, self.current.version):
                    self.current = self._update(self.current)
        return self.current

    def _update(self, current):
        with consistent_read() as (version, pruned_through):
            epoch = feed_state().epoch
            if (epoch == current.epoch and current.version >= pruned_through
                    and current.version <= version <= current.base_version + OVERLAY_MAX_CHANGES):
                return current.after(changed_targets(current.version, version), version)
            base = self._base(epoch, version, pruned_through)
            return base if base.version == version else base.after(changed_targets(base.version, version), version)

    def _base(self, epoch, version, pruned_through):
        """The Overlaid of a base at or below `version` (its own version), inside its consistent_read."""
        raise NotImplementedError


class ListMatcher(Overlaid):
    """The aggregated list at one version: a base matcher, the targets listed since (`added`, with
    their own matcher) and those no longer listed (`removed`)."""

    def __init__(self, epoch, base_version, base, version=None, added=frozenset(), removed=frozenset()):
        super().__init__(epoch, base_version, base, version, added, removed)
        self.overlay = Matcher(list(added)) if added else None

    def matched(self, targets):
        """For each canonical target the most specific listed target covering it, or None."""
        answers = self.base.check_many(targets)
        if self.overlay is None and not self.removed:
            return [None if match is None else match.target for match in answers]
        overlay = self.overlay.check_many(targets) if self.overlay is not None else [None] * len(targets)
        results = []
        for target, base, added in zip(targets, answers, overlay):
            if base is not None and base.target in self.removed:
                results.append(self._walk(target))
            else:
                found = [match.target for match in (base, added) if match is not None]
                results.append(max(found, key=len) if found else None)  # on one chain: the longer is nearer
        return results

    def _walk(self, target):
        for candidate in covering_targets(target):
            if candidate not in self.removed and (candidate in self.added or candidate in self.base):
                return candidate
        return None


class CurrentMatcher(CurrentList):
    """This process's ListMatcher of the current version, brought up to date at each lookup.
    `mapped`: whether the base is a shared generation file (the default with the C accelerator)
    or an in-memory Matcher built by this process."""

    def __init__(self, mapped=None):
        super().__init__(ListMatcher(None, 0, Matcher()))
        self.mapped = ACCELERATED if mapped is None else mapped

    def _base(self, epoch, version, pruned_through):
        if not self.mapped:
            targets = []
            with connection.chunked_cursor() as cursor:
                cursor.execute("SELECT target FROM feed_feedentry")
                while rows := cursor.fetchmany(FETCH_ROWS):
                    targets.extend(row[0] for row in rows)
            return ListMatcher(epoch, version, Matcher(targets))
        base_version, base = cache.mapped_base(
            cache.epoch_directory(epoch), "lookup", version, pruned_through, OVERLAY_MAX_CHANGES, _write_base,
            lambda path: Matcher.over(generation.open_file(path)), generation.GenerationError)
        return ListMatcher(epoch, base_version, base)


def changed_targets(since, version):
    """(target, listed) of each change after `since` up to `version`, in order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT target, listed FROM feed_change WHERE seq > %s AND seq <= %s ORDER BY seq",
                       [since, version])
        return [(target, bool(listed)) for target, listed in cursor.fetchall()]


def _write_base(file):
    """The list at the enclosing consistent_read's version as a generation file (base), streamed
    from the database's sorted scan a chunk at a time; the RISKY flag as Matcher gives it."""
    parents = rule_parents()
    writer = generation.Writer(file)
    for targets in sorted_targets():
        writer.add_entries(targets, [generation.RISKY if target in parents and ":" not in target else 0
                                     for target in targets], [0] * len(targets))
    writer.finish([("", (), ())], generation.UNKNOWN_CHECKSUM)


current_matcher = CurrentMatcher()


ANSWER_CACHE_ITEMS = 20_000
# The JSON answers of one version of the list, by item: an item looked up again at that version costs
# a dictionary lookup, not normalization, matching and encoding (most of a 1,000-item lookup).
# Answers with an error are not kept (they are in the caller's language); nor are items longer than
# NORMALIZED_CACHE_LENGTH. At most ANSWER_CACHE_ITEMS answers, about 20,000 x 400 bytes, ~8 MB, per
# process; nothing in them changes without a new version.
_answers = PerVersion(max_items=ANSWER_CACHE_ITEMS, max_seconds=math.inf)


def lookup_document(items):
    """The lookup's JSON document {"version", "results"} (compact, UTF-8): for each raw item its
    target and the most specific listed target covering it (a listed domain covers its
    subdomains, an app only itself)."""
    current = current_matcher.get()
    known = _answers.items(current)
    missing = [item for item in dict.fromkeys(items) if item not in known]
    fresh = {}
    for result in _results(current, missing) if missing else ():
        item = result["item"]
        fresh[item] = answer = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        if "error" not in result and len(item) <= NORMALIZED_CACHE_LENGTH:
            _answers.keep(known, item, answer)
    results = ",".join([known.get(item) or fresh[item] for item in items])
    return f'{{"version":{current.version},"results":[{results}]}}'.encode()


def _results(current, items):
    results, targets = [], []
    for item in items:
        if len(item) > MAX_ITEM_LENGTH:
            results.append({"item": item, "target": None, "listed": False, "matched": None, "error": _(
                "This item is longer than %(n)d characters; no web address or app id is that long.") % {
                "n": MAX_ITEM_LENGTH}})
            continue
        target = _normalized(item)
        if target.__class__ is not str:
            results.append({"item": item, "target": None, "listed": False, "matched": None,
                            "error": translated_reason(target)})
            continue
        results.append({"item": item, "target": target})
        targets.append(target)
    # Canonical targets in one call of the matcher (its C table, when built, walks the parents).
    matches = iter(current.matched(targets))
    for result in results:
        if "error" not in result:
            matched = next(matches)
            result["listed"], result["matched"] = matched is not None, matched
    return results
