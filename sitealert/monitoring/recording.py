"""Write probe results: current status, the status history, redirect edges and hopping candidates."""

import random
from datetime import timedelta

from django.db import transaction
from django.db.models import F

from sitealert.core.bulk import db_datetime, db_json, update_rows
from sitealert.feed.models import FeedEntry
from sitealert.hosts import covering_targets, registrable_domain
from sitealert.listings.models import Listing
from sitealert.monitoring.models import HoppingCandidate, ProbeTarget, RedirectEdge, Status, StatusPeriod
from sitealert.monitoring.probe import site_of
from sitealert.monitoring.schedule import next_probe_time, release

TARGET_COLUMNS = ("status", "failure", "status_since", "last_checked_at", "last_online_at", "consecutive_failures",
                  "last_result", "current_period", "next_probe_at", "claimed_by", "claimed_until")
CHUNK = 900


def record_results(worker_id, items, config, now, rng=random):
    """items: [(claim, ProbeResult)] where claim is a row from `claim_due`. Returns how many were written.

    Results of targets whose claim this worker no longer holds are dropped: another worker owns them.
    """
    if not items:
        return 0
    with transaction.atomic():
        ids = [claim["pk"] for claim, _ in items]
        held = set()
        for start in range(0, len(ids), CHUNK):
            held.update(ProbeTarget.objects.select_for_update()
                        .filter(pk__in=ids[start:start + CHUNK], claimed_by=worker_id).values_list("pk", flat=True))
        items = [(claim, result) for claim, result in items if claim["pk"] in held]
        deferred = [(claim, result) for claim, result in items if result.defer > 0]
        probed = [(claim, result) for claim, result in items if result.defer <= 0]
        for claim, result in deferred:
            release(worker_id, [claim["pk"]], now + timedelta(seconds=result.defer + rng.uniform(0, 1)))
        _write_status(probed, config, now, rng)
        _write_edges(probed, now)
    return len(probed)


def _write_status(items, config, now, rng):
    new_periods, extended, rows = [], [], []
    for claim, result in items:
        status = Status.ONLINE if result.online else Status.OFFLINE
        if claim["current_period"] and (claim["status"], claim["failure"]) == (status, result.failure):
            extended.append(claim["current_period"])
        else:
            new_periods.append((claim, StatusPeriod(probe_target_id=claim["pk"], status=status, failure=result.failure,
                                                    started_at=now, ended_at=now)))
    StatusPeriod.objects.bulk_create([period for _, period in new_periods])
    period_of = {claim["pk"]: period.pk for claim, period in new_periods}
    for start in range(0, len(extended), CHUNK):
        StatusPeriod.objects.filter(pk__in=extended[start:start + CHUNK]).update(ended_at=now, probes=F("probes") + 1)
    for claim, result in items:
        online = result.online
        status = Status.ONLINE if online else Status.OFFLINE
        failures = 0 if online else claim["consecutive_failures"] + 1
        since = claim["status_since"] if claim["status"] == status else now
        rows.append((
            status, result.failure, db_datetime(since), db_datetime(now),
            db_datetime(now if online else claim["last_online_at"]), failures, db_json(result.as_record()),
            period_of.get(claim["pk"], claim["current_period"]),
            db_datetime(next_probe_time(now, online, failures, config, rng)), "", None, claim["pk"],
        ))
    update_rows(ProbeTarget._meta.db_table, TARGET_COLUMNS, "id", rows)


def _write_edges(items, now):
    seen = {}
    for claim, result in items:
        for source, destination in result.domain_hops():
            seen[(claim["pk"], source, destination)] = (claim, result.hops)
    if not seen:
        return
    target_ids = {key[0] for key in seen}
    existing = {(e.probe_target_id, e.from_host, e.to_host): e
                for e in RedirectEdge.objects.filter(probe_target_id__in=target_ids)}
    created, updated = [], []
    for key, (_claim, hops) in seen.items():
        edge = existing.get(key)
        if edge is None:
            created.append(RedirectEdge(probe_target_id=key[0], from_host=key[1], to_host=key[2],
                                        from_site=site_of(key[1]), to_site=site_of(key[2]), first_seen=now,
                                        last_seen=now, count=1, chain=hops))
        else:
            edge.last_seen, edge.count, edge.chain = now, edge.count + 1, hops
            updated.append(edge)
    RedirectEdge.objects.bulk_create(created)
    RedirectEdge.objects.bulk_update(updated, ["last_seen", "count", "chain"])
    _write_candidates([(claim, key[2]) for key, (claim, _) in seen.items()], now)


def _write_candidates(redirects, now):
    """A redirect to a domain outside the aggregated list is a candidate for each contributor listing the source."""
    wanted = {}
    for claim, destination in redirects:
        site = registrable_domain(destination)
        if site is None:
            continue  # an address or a public suffix: nothing a contributor could list
        wanted.setdefault((claim["pk"], claim["target"]), {})[site] = destination
    if not wanted:
        return
    covering = {d: covering_targets(d) for sites in wanted.values() for d in sites.values()}
    names = {name for names in covering.values() for name in names}
    published = set(FeedEntry.objects.filter(target__in=names).values_list("target", flat=True))
    sources = {target: pk for pk, target in wanted}
    listers = {}
    for target, contributor_id in Listing.objects.filter(target__in=sources, status=Listing.Status.ACTIVE) \
            .values_list("target", "contributor_id"):
        listers.setdefault(target, []).append(contributor_id)
    pending = set(Listing.objects.filter(target__in=names, status=Listing.Status.HELD)
                  .values_list("contributor_id", "target"))
    for (pk, source), sites in wanted.items():
        for site, destination in sites.items():
            if published.intersection(covering[destination]):
                continue
            for contributor_id in listers.get(source, []):
                if any((contributor_id, name) in pending for name in covering[destination]):
                    continue
                candidate, made = HoppingCandidate.objects.get_or_create(
                    contributor_id=contributor_id, target=site,
                    defaults={"destination": destination, "source_id": pk, "first_seen": now, "last_seen": now})
                if not made and candidate.state == HoppingCandidate.State.OPEN:
                    HoppingCandidate.objects.filter(pk=candidate.pk).update(
                        destination=destination, source_id=pk, last_seen=now)
