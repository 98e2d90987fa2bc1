"""The one writer of the change log.

Every service that changes listings calls `refresh_targets` inside its transaction. It recomputes
the aggregate of the active listings of each target, and where the aggregate differs from the
published entry it appends a change with the next sequence number and updates the entry.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sitealert.core import bulk
from sitealert.feed.models import Change, FeedEntry, FeedState

CHUNK = 5000  # targets per query; well under SQLite's 32,766 parameters


def lock_state():
    """Lock the feed state row for this transaction (PostgreSQL); create it on first use."""
    state = FeedState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        FeedState.objects.get_or_create(pk=1)
        state = FeedState.objects.select_for_update().get(pk=1)
    return state


def _aggregate(rows):
    """rows: (target, kind, country, category, listed_at) of active listings."""
    result = {}
    for target, kind, country, category, listed_at in rows:
        agg = result.get(target)
        if agg is None:
            result[target] = [kind, {country}, {category}, listed_at]
        else:
            agg[1].add(country)
            agg[2].add(category)
            if listed_at < agg[3]:
                agg[3] = listed_at
    return {
        t: (kind, ",".join(sorted(c)), ",".join(sorted(cat)), first)
        for t, (kind, c, cat, first) in result.items()
    }


def _select(sql, chunk):
    condition, params = bulk.in_clause("target", chunk)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(condition=condition), params)
        return cursor.fetchall()


def refresh_targets(targets, now=None):
    """Bring the aggregated list in line with the listings for `targets`; return the new version.

    Values are read and written in the database's own representation (raw cursor), so that
    comparing the published entry with the recomputed one never depends on type conversion.
    """
    from sitealert.listings.models import Listing
    from sitealert.organizations.models import Organization

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("refresh_targets must run inside transaction.atomic()")
    now = now or timezone.now()
    db_now = bulk.db_datetime(now)
    state = lock_state()
    seq = state.version
    q = connection.ops.quote_name
    listings_sql = (
        f"SELECT l.target, l.kind, o.country, l.category, CAST(l.listed_at AS text) FROM {q(Listing._meta.db_table)} l "
        f"JOIN {q(Organization._meta.db_table)} o ON o.id = l.contributor_id "
        f"WHERE l.status = 'active' AND l.{{condition}}"
    )
    entries_sql = (f"SELECT target, kind, countries, categories, CAST(first_listed_at AS text) FROM {q(FeedEntry._meta.db_table)} "
                   f"WHERE {{condition}}")
    targets = sorted(set(targets))
    for start in range(0, len(targets), CHUNK):
        chunk = targets[start:start + CHUNK]
        wanted = _aggregate(_select(listings_sql, chunk))
        current = {row[0]: row[1:] for row in _select(entries_sql, chunk)}
        changes, inserts, updates, deletions = [], [], [], []
        for target in chunk:
            want = wanted.get(target)
            have = current.get(target)
            if want is None:
                if have is None:
                    continue
                seq += 1
                changes.append((seq, target, have[0], False, "", "", None, db_now))
                deletions.append(target)
                continue
            if have == want:
                continue
            kind, countries, categories, first = want
            seq += 1
            changes.append((seq, target, kind, True, countries, categories, first, db_now))
            if have is None:
                inserts.append((target, kind, countries, categories, first, seq))
            else:
                updates.append((kind, countries, categories, first, seq, target))
        bulk.insert_rows(Change._meta.db_table, CHANGE_COLUMNS, changes)
        bulk.insert_rows(FeedEntry._meta.db_table, ENTRY_COLUMNS, inserts)
        bulk.update_rows(FeedEntry._meta.db_table, ENTRY_COLUMNS[1:], "target", updates)
        if deletions:
            FeedEntry.objects.filter(target__in=deletions).delete()
    if seq != state.version:
        FeedState.objects.filter(pk=1).update(version=seq)
    return seq


CHANGE_COLUMNS = ["seq", "target", "kind", "listed", "countries", "categories", "first_listed_at", "created_at"]
ENTRY_COLUMNS = ["target", "kind", "countries", "categories", "first_listed_at", "version"]


def prune_expired_history(now=None):
    """Prune the changes older than TOMBSTONE_RETENTION_DAYS (the worker calls this daily).

    Returns the number of changes deleted. Clients whose version is older than the retained
    history get 410 resync_required from /api/v1/feed/changes and download the full list.
    """
    days = settings.SITEALERT["TOMBSTONE_RETENTION_DAYS"]
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
        return deleted
