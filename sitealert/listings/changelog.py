"""The one writer of the change log.

Every service that changes listings calls `refresh_targets` inside its transaction. It recomputes
the aggregate of the active listings of each target, and where the aggregate differs from the
published entry it appends a change with the next sequence number and updates the entry.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from sitealert.core import bulk
from sitealert.core.conf import setting
from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.feed.state import published
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization

TOUCHED, MIXED = "sitealert_touched", "sitealert_mixed"


def lock_state():
    """Lock the feed state row for this transaction (PostgreSQL); create it on first use."""
    state = FeedState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        FeedState.objects.get_or_create(pk=1)
        state = FeedState.objects.select_for_update().get(pk=1)
    return state


@dataclass(frozen=True)
class Added:
    """Listings this transaction has just added for one contributor, described by a staging table.

    table: a temporary table with columns target (unique), kind, category, listed_at (NULL meaning
    the `now` given to refresh_targets) and status; country and contributor: the contributor's
    country and id.
    """

    table: str
    country: str
    contributor: int


def refresh_targets(targets=(), now=None, *, added=None):
    """Bring the aggregated list in line with the listings for `targets`; return the new version.

    `added` (an `Added`) passes a staging table of new listings without a round trip through
    Python. A target of it with no published entry had no active listing before this
    transaction — the entries are the aggregate of the active listings, and only this writer
    changes them — so its new entry is the added listing itself: a first import of a million
    targets becomes three statements. Every other target is recomputed from its listings.

    The work is set-based: a handful of statements join the targets with their active listings,
    compare the aggregate with the published entries, number the differences in code-point order
    of the targets and write changes and entries. Only targets listed by more than one
    contributor reach Python, to build their sorted lists of countries and categories. Values
    stay in the database's own representation throughout, so comparisons never depend on
    conversion.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("refresh_targets must run inside transaction.atomic()")
    now = now or timezone.now()
    db_now = bulk.db_datetime(now)
    state = lock_state()
    base = version = state.version
    q = connection.ops.quote_name
    entries, changes = q(FeedEntry._meta.db_table), q(Change._meta.db_table)
    created_at = bulk.cast_param(Change._meta.get_field("created_at"))
    first_listed_at = bulk.cast_param(Change._meta.get_field("first_listed_at"))
    with bulk.temporary_table(TOUCHED, [bulk.target_key()]) as touched, connection.cursor() as cursor:
        bulk.insert_rows(touched, ["target"], [(t,) for t in sorted(set(targets))])
        if added is not None:
            # One index probe per added target, whatever the size of the list: those already
            # published are recomputed with the other touched targets, the rest are new to it.
            # ON CONFLICT, not NOT EXISTS: a statement reading the table it fills rescans it.
            cursor.execute(
                f"INSERT INTO {touched} (target) SELECT s.target FROM {added.table} s "
                f"WHERE EXISTS (SELECT 1 FROM {entries} e WHERE e.target = s.target{bulk.probe()}) "
                f"ORDER BY s.target ON CONFLICT (target) DO NOTHING")
        cursor.execute(f"SELECT COUNT(*) FROM {touched}")
        size = cursor.fetchone()[0]
        if size:
            # Statistics of its last use (empty at commit) would plan it as empty.
            bulk.analyze(touched, size)
        if added is not None:
            cursor.execute(
                f"INSERT INTO {changes} (seq, target, kind, listed, countries, categories, contributors, "
                f"first_listed_at, created_at) SELECT %s + ROW_NUMBER() OVER (ORDER BY s.target{_collate()}), "
                f"s.target, s.kind, {bulk.true()}, %s, s.category, %s || s.category, "
                f"COALESCE(s.listed_at, {first_listed_at}), {created_at} "
                f"FROM {added.table} s WHERE s.status = 'active' "
                f"AND NOT EXISTS (SELECT 1 FROM {touched} t WHERE t.target = s.target)",
                [version, added.country, f"{added.contributor}:", db_now, db_now])
            version += max(cursor.rowcount, 0)
        recomputed = version
        if size:
            version = _recompute(touched, version, db_now)
        if version == base:
            return base
        # The entries of the recomputed targets are replaced (an upsert costs twice as much per
        # row); the targets taken as added have none.
        cursor.execute(f"DELETE FROM {entries} WHERE target IN (SELECT target FROM {changes} WHERE seq > %s)",
                       [recomputed])
        # No ORDER BY: the changes were just written in code-point order of their targets, which
        # is the order the entries' index takes them in fastest, and a scan finds them in the
        # order written; sorting a million of them again costs PostgreSQL 0.4 s.
        cursor.execute(
            f"INSERT INTO {entries} (target, kind, countries, categories, contributors, first_listed_at, version) "
            f"SELECT target, kind, countries, categories, contributors, first_listed_at, seq FROM {changes} "
            f"WHERE seq > %s AND listed", [base])
    FeedState.objects.filter(pk=1).update(version=version)
    published()
    bulk.refresh_statistics([Change, FeedEntry], version - base)
    return version


def _collate():
    """Code-point order for ORDER BY on PostgreSQL, whatever the database's collation."""
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _recompute(touched, base, db_now):
    """Append changes for the touched targets whose aggregate differs from their entry; return the last seq."""
    q = connection.ops.quote_name
    listings, orgs = q(Listing._meta.db_table), q(Organization._meta.db_table)
    entries, changes = q(FeedEntry._meta.db_table), q(Change._meta.db_table)
    # SQLite plans without statistics: CROSS JOIN keeps the touched targets the outer loop, so
    # refreshing one target never scans the listings. PostgreSQL plans CROSS JOIN freely, and
    # would join a hundred thousand touched targets with ten million listings and entries by
    # hashing the whole tables: the listings and entries are looked up per touched target.
    with bulk.temporary_table(MIXED, [bulk.target_key(), "kind text", "countries text", "categories text",
                                      "contributors text", "first_listed_at timestamp with time zone"]) as mixed, \
            connection.cursor() as cursor:
        # Targets with several active listings: their aggregate (sorted lists) is built here.
        active = bulk.lookup_join(listings, "l", "l.target = t.target AND l.status = 'active'")
        cursor.execute(
            f"SELECT l.target, l.kind, o.country, l.category, l.contributor_id, l.listed_at FROM {touched} t {active} "
            f"JOIN {orgs} o ON o.id = l.contributor_id WHERE (SELECT COUNT(*) FROM {listings} l2 "
            f"WHERE l2.target = t.target AND l2.status = 'active') > 1")
        aggregates = _aggregate(cursor.fetchall())
        bulk.insert_rows(mixed, ["target", "kind", "countries", "categories", "contributors", "first_listed_at"],
                         [(target, *values) for target, values in aggregates.items()])
        listed = bulk.lookup_join(listings, "l", "m.target IS NULL AND l.target = t.target AND l.status = 'active'")
        published = bulk.lookup_join(entries, "e", "e.target = a.target")
        # Every other target has at most one active listing: its aggregate is that listing.
        # Changes are what differs from the published entries, numbered in code-point order.
        cursor.execute(
            f"INSERT INTO {changes} (seq, target, kind, listed, countries, categories, contributors, first_listed_at, "
            f"created_at) SELECT %s + ROW_NUMBER() OVER (ORDER BY a.target{_collate()}), a.target, "
            f"COALESCE(a.kind, e.kind), a.kind IS NOT NULL, COALESCE(a.countries, ''), COALESCE(a.categories, ''), "
            f"COALESCE(a.contributors, ''), a.first_listed_at, "
            f"{bulk.cast_param(Change._meta.get_field('created_at'))} FROM ("
            f"SELECT t.target, COALESCE(m.kind, l.kind) AS kind, COALESCE(m.countries, o.country) AS countries, "
            f"COALESCE(m.categories, l.category) AS categories, "
            f"COALESCE(m.contributors, {contributor_key('l')}) AS contributors, "
            f"COALESCE(m.first_listed_at, l.listed_at) AS first_listed_at FROM {touched} t "
            f"LEFT JOIN {mixed} m ON m.target = t.target "
            f"{listed} "
            f"LEFT JOIN {orgs} o ON o.id = l.contributor_id) a "
            f"{published} "
            f"WHERE (a.kind IS NULL AND e.target IS NOT NULL) OR (a.kind IS NOT NULL AND (e.target IS NULL "
            f"OR e.kind <> a.kind OR e.countries <> a.countries OR e.categories <> a.categories "
            f"OR e.contributors <> a.contributors OR e.first_listed_at <> a.first_listed_at))",
            [base, db_now])
        return base + max(cursor.rowcount, 0)


def contributor_key(alias):
    """SQL for a listing's "<contributor id>:<category>", one item of an aggregate's contributors."""
    return f"CAST({alias}.contributor_id AS text) || ':' || {alias}.category"


def joined_contributors(pairs):
    """An aggregate's contributors from its listings' (contributor id, category) pairs: the distinct
    "<id>:<category>" sorted as strings, comma-joined. The data migration that filled the column
    (feed 0004) keeps a frozen copy of this rule: change one, change both."""
    return ",".join(sorted({f"{contributor}:{category}" for contributor, category in pairs}))


def _aggregate(rows):
    """{target: (kind, countries, categories, contributors, first listed)} from
    (target, kind, country, category, contributor id, listed_at)."""
    found = {}
    for target, kind, country, category, contributor, listed_at in rows:
        agg = found.get(target)
        if agg is None:
            found[target] = [kind, {country}, {category}, {(contributor, category)}, listed_at]
        else:
            agg[1].add(country)
            agg[2].add(category)
            agg[3].add((contributor, category))
            if listed_at < agg[4]:
                agg[4] = listed_at
    return {t: (kind, ",".join(sorted(c)), ",".join(sorted(cat)), joined_contributors(pairs), first)
            for t, (kind, c, cat, pairs, first) in found.items()}


def prune_expired_history(now=None):
    """Prune the changes older than TOMBSTONE_RETENTION_DAYS (the worker calls this daily).

    Returns the number of changes deleted. Clients whose version is older than the retained
    history get 410 resync_required from /api/v1/feed/changes and download the full list.
    """
    days = setting("TOMBSTONE_RETENTION_DAYS")
    return prune_history((now or timezone.now()) - timedelta(days=days))


def prune_history(before):
    """Forget changes made before `before`; clients older than that must resync in full."""
    with transaction.atomic():
        state = lock_state()
        last = (Change.objects.filter(created_at__lt=before).order_by("-seq")
                .values_list("seq", flat=True).first())
        if last is None:
            return 0
        deleted, _ = Change.objects.filter(seq__lte=last).delete()
        FeedState.objects.filter(pk=1).update(pruned_through=max(last, state.pruned_through))
        published()
        return deleted
