"""The one writer of the change log.

Every service that changes listings calls `refresh_targets` inside its transaction. It recomputes
the aggregate of the active listings of each target, and where the aggregate differs from the
published entry it appends a change with the next sequence number and updates the entry.
"""

from django.db import transaction
from django.utils import timezone

from sitealert.feed.models import Change, FeedEntry, FeedState

CHUNK = 900  # below SQLite's default limit on query parameters


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


def refresh_targets(targets, now=None):
    """Bring the aggregated list in line with the listings for `targets`; return the new version."""
    from sitealert.listings.models import Listing

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("refresh_targets must run inside transaction.atomic()")
    now = now or timezone.now()
    state = lock_state()
    seq = state.version
    targets = sorted(set(targets))
    for start in range(0, len(targets), CHUNK):
        chunk = targets[start:start + CHUNK]
        wanted = _aggregate(
            Listing.objects.filter(target__in=chunk, status=Listing.Status.ACTIVE)
            .values_list("target", "kind", "contributor__country", "category", "listed_at")
        )
        current = {
            e.target: e for e in FeedEntry.objects.filter(target__in=chunk)
        }
        changes, upserts, deletions = [], [], []
        for target in chunk:
            want = wanted.get(target)
            have = current.get(target)
            if want is None and have is None:
                continue
            if want is None:
                seq += 1
                changes.append(Change(seq=seq, target=target, kind=have.kind, listed=False, created_at=now))
                deletions.append(target)
                continue
            kind, countries, categories, first = want
            if have is not None and (have.kind, have.countries, have.categories, have.first_listed_at) == want:
                continue
            seq += 1
            changes.append(Change(seq=seq, target=target, kind=kind, listed=True, countries=countries,
                                  categories=categories, first_listed_at=first, created_at=now))
            upserts.append(FeedEntry(target=target, kind=kind, countries=countries, categories=categories,
                                     first_listed_at=first, version=seq))
        if changes:
            Change.objects.bulk_create(changes)
        if upserts:
            FeedEntry.objects.bulk_create(
                upserts, update_conflicts=True, unique_fields=["target"],
                update_fields=["kind", "countries", "categories", "first_listed_at", "version"],
            )
        if deletions:
            FeedEntry.objects.filter(target__in=deletions).delete()
    if seq != state.version:
        FeedState.objects.filter(pk=1).update(version=seq)
    return seq


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
