"""Which domains are probed, when, and by which worker.

Targets follow the aggregated list: `sync_targets` reads the change log since the last sync (all
of it only when the history was pruned past that point). Workers take due targets with a
conditional UPDATE and own only the rows that UPDATE changed, the same on SQLite and PostgreSQL
(where READ COMMITTED re-checks the WHERE clause on rows another worker updated first).
"""

import random
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.monitoring.models import MonitorState, ProbeTarget

CHUNK = 900


def _feed_position():
    row = FeedState.objects.filter(pk=1).values_list("version", "pruned_through").first()
    return row or (0, 0)


def sync_targets(now=None):
    """Bring the probe targets in line with the domains of the aggregated list; return how many changed."""
    now = now or timezone.now()
    version, _ = _feed_position()
    if MonitorState.objects.filter(pk=1, synced_version=version).exists():
        return 0
    with transaction.atomic():
        MonitorState.objects.get_or_create(pk=1)
        state = MonitorState.objects.select_for_update().get(pk=1)
        version, pruned_through = _feed_position()
        if state.synced_version == version:
            return 0
        if state.synced_version < 0 or pruned_through > state.synced_version or state.synced_version > version:
            listed = set(FeedEntry.objects.filter(kind="domain").values_list("target", flat=True))
            unlisted = set(ProbeTarget.objects.filter(active=True).values_list("target", flat=True)) - listed
        else:
            latest = {}
            changes = (Change.objects.filter(seq__gt=state.synced_version, seq__lte=version, kind="domain")
                       .order_by("seq").values_list("target", "listed"))
            for target, is_listed in changes:
                latest[target] = is_listed
            listed = {t for t, is_listed in latest.items() if is_listed}
            unlisted = {t for t, is_listed in latest.items() if not is_listed}
        changed = _apply(listed, unlisted, now)
        MonitorState.objects.filter(pk=1).update(synced_version=version)
    return changed


def _apply(listed, unlisted, now):
    changed = 0
    listed = sorted(listed)
    for start in range(0, len(listed), CHUNK):
        chunk = listed[start:start + CHUNK]
        known = dict(ProbeTarget.objects.filter(target__in=chunk).values_list("target", "active"))
        ProbeTarget.objects.bulk_create(
            [ProbeTarget(target=t, next_probe_at=now, created_at=now) for t in chunk if t not in known],
            ignore_conflicts=True)
        back = [t for t, active in known.items() if not active]
        ProbeTarget.objects.filter(target__in=back).update(active=True, retired_at=None, next_probe_at=now)
        changed += len(chunk) - len(known) + len(back)
    unlisted = sorted(unlisted)
    for start in range(0, len(unlisted), CHUNK):
        changed += ProbeTarget.objects.filter(target__in=unlisted[start:start + CHUNK], active=True).update(
            active=False, retired_at=now)
    return changed


def _unclaimed(now):
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def claim_due(worker_id, limit, lease_seconds, now=None):
    """Claim up to `limit` due targets for `worker_id`; return the claimed rows as dicts."""
    now = now or timezone.now()
    due = ProbeTarget.objects.filter(_unclaimed(now), active=True, next_probe_at__lte=now)
    ids = list(due.order_by("next_probe_at").values_list("pk", flat=True)[:limit * 3])
    if not ids:
        return []
    if len(ids) > limit:
        # Workers that look at the same moment then mostly ask for different rows.
        ids = random.sample(ids, limit)
    until = now + timedelta(seconds=lease_seconds)
    if not due.filter(pk__in=ids).update(claimed_by=worker_id, claimed_until=until):
        return []
    # This round's rows: ours, with this round's lease.
    return list(ProbeTarget.objects.filter(pk__in=ids, claimed_by=worker_id, claimed_until=until).values(
        "pk", "target", "status", "failure", "status_since", "last_online_at", "consecutive_failures",
        "current_period"))


def release(worker_id, ids, next_probe_at=None):
    """Give claimed targets back, optionally for later."""
    if not ids:
        return 0
    fields = {"claimed_by": "", "claimed_until": None}
    if next_probe_at is not None:
        fields["next_probe_at"] = next_probe_at
    return ProbeTarget.objects.filter(pk__in=ids, claimed_by=worker_id).update(**fields)


def next_probe_time(now, online, consecutive_failures, config, rng=random):
    """Online: every `interval`; offline: `retry`, doubling per failure up to `backoff_max`; both with jitter."""
    if online:
        base = config.interval
    else:
        base = min(config.retry * 2 ** max(consecutive_failures - 1, 0), config.backoff_max)
    return now + timedelta(seconds=base * (1 + config.jitter * rng.uniform(-1, 1)))


def seconds_until_due(now=None):
    """Seconds until the next active target is due (None when there is none)."""
    now = now or timezone.now()
    first = (ProbeTarget.objects.filter(active=True).order_by("next_probe_at")
             .values_list("next_probe_at", flat=True).first())
    return None if first is None else max((first - now).total_seconds(), 0.0)
