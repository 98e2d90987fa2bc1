"""What a contributor does with monitoring: review stale listings, act on hopping candidates,
read a target's redirect family. Each function checks its permission itself."""

from datetime import timedelta

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from sitealert.core import audit
from sitealert.core.conf import setting
from sitealert.feed.models import FeedEntry
from sitealert.hosts import covering_targets
from sitealert.listings import services as listing_services
from sitealert.listings.models import Kind, Listing
from sitealert.monitoring.models import HoppingCandidate, ProbeTarget, RedirectEdge, StaleConfirmation, Status
from sitealert.monitoring.probe import site_of
from sitealert.organizations import permissions

FAMILY_MAX_EDGES = 200
FAMILY_MAX_DEPTH = 4


class CandidateGone(LookupError):
    """The hopping candidate is not this contributor's, or was already dealt with."""


def require_contributor(actor, contributor):
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))


def _probe_field(name):
    return Subquery(ProbeTarget.objects.filter(target=OuterRef("target")).values(name)[:1])


def monitored_listings(contributor, status=None):
    """The contributor's current listings with their monitoring status (`monitor_*` attributes)."""
    listings = (Listing.objects.filter(contributor=contributor).exclude(status=Listing.Status.REMOVED)
                .annotate(monitor_status=_probe_field("status"), monitor_failure=_probe_field("failure"),
                          monitor_since=_probe_field("status_since"), monitor_checked=_probe_field("last_checked_at"))
                .order_by("target"))
    if status == Status.UNKNOWN:
        return listings.filter(Q(monitor_status=Status.UNKNOWN) | Q(monitor_status__isnull=True))
    if status:
        return listings.filter(monitor_status=status)
    return listings


def status_counts(contributor):
    counts = dict.fromkeys(Status.values, 0)
    for row in monitored_listings(contributor).values_list("monitor_status", flat=True):
        counts[row or Status.UNKNOWN] += 1
    return counts


def stale_listings(contributor, now=None, days=None):
    """Active domain listings offline for `days` (SITEALERT_MONITOR_STALE_DAYS) and not confirmed since."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days or setting("MONITOR_STALE_DAYS"))
    offline = ProbeTarget.objects.filter(active=True, status=Status.OFFLINE, status_since__lte=cutoff)
    return (Listing.objects.filter(contributor=contributor, status=Listing.Status.ACTIVE, kind=Kind.DOMAIN,
                                   target__in=offline.values("target"))
            .exclude(stale_confirmation__confirmed_at__gt=cutoff)
            .annotate(offline_since=_probe_field("status_since"), monitor_failure=_probe_field("failure"),
                      monitor_checked=_probe_field("last_checked_at"))
            .order_by("offline_since", "target"))


def confirm_stale(contributor, listing_ids, *, actor, now=None):
    """Keep the chosen stale listings: they leave the review until they have been offline another period."""
    require_contributor(actor, contributor)
    now = now or timezone.now()
    with transaction.atomic():
        chosen = list(stale_listings(contributor, now).filter(pk__in=listing_ids))
        for listing in chosen:
            StaleConfirmation.objects.update_or_create(
                listing=listing, defaults={"confirmed_at": now, "confirmed_by": actor.user})
        audit.record_many(actor, "monitoring.stale_confirm",
                          [(l.target, {"offline_since": l.offline_since.isoformat()}) for l in chosen],
                          object_repr=contributor.slug)
    return len(chosen)


def remove_stale(contributor, listing_ids, reason, *, actor):
    """Remove the chosen stale listings with a reason, through the listing service."""
    require_contributor(actor, contributor)
    targets = list(stale_listings(contributor).filter(pk__in=listing_ids).values_list("target", flat=True))
    return listing_services.remove_listings(contributor, targets, reason, actor=actor, accept_valid_rows=True)


def _published(targets):
    names = {name for t in targets for name in covering_targets(t)}
    return set(FeedEntry.objects.filter(target__in=names).values_list("target", flat=True))


def open_candidates(contributor):
    """Open hopping candidates whose domain is still not on the aggregated list."""
    candidates = list(HoppingCandidate.objects.filter(contributor=contributor, state=HoppingCandidate.State.OPEN)
                      .select_related("source"))
    published = _published([c.destination for c in candidates])
    return [c for c in candidates if not published.intersection(covering_targets(c.destination))]


def _open_candidate(contributor, candidate_id):
    candidate = (HoppingCandidate.objects.select_for_update().select_related("source")
                 .filter(pk=candidate_id, contributor=contributor, state=HoppingCandidate.State.OPEN).first())
    if candidate is None:
        raise CandidateGone(candidate_id)
    return candidate


def source_category(candidate):
    listing = Listing.objects.filter(contributor_id=candidate.contributor_id, target=candidate.source.target).first()
    return listing.category if listing is not None else ""


def list_candidate(contributor, candidate_id, *, reference, category, actor):
    """List a hopping candidate in one action; returns the listing service's report."""
    require_contributor(actor, contributor)
    with transaction.atomic():
        candidate = _open_candidate(contributor, candidate_id)
        note = _("Hopping: %(source)s redirected to %(destination)s (first seen %(date)s).") % {
            "source": candidate.source.target, "destination": candidate.destination,
            "date": candidate.first_seen.date().isoformat()}
        entry = listing_services.EntryInput(target=candidate.target, category=category, reference=reference,
                                            note=note)
        report = listing_services.submit_entries(contributor, [entry], actor=actor)
        if report.rows[0].status == listing_services.REJECTED:
            return report
        HoppingCandidate.objects.filter(pk=candidate.pk).update(
            state=HoppingCandidate.State.LISTED, reference=reference.strip(), resolved_at=timezone.now(),
            resolved_by=actor.user)
        audit.record(actor, "monitoring.candidate_list", candidate.target,
                     {"source": candidate.source.target, "destination": candidate.destination,
                      "status": report.rows[0].status})
    return report


def dismiss_candidate(contributor, candidate_id, *, actor):
    require_contributor(actor, contributor)
    with transaction.atomic():
        candidate = _open_candidate(contributor, candidate_id)
        HoppingCandidate.objects.filter(pk=candidate.pk).update(
            state=HoppingCandidate.State.DISMISSED, resolved_at=timezone.now(), resolved_by=actor.user)
        audit.record(actor, "monitoring.candidate_dismiss", candidate.target, {"source": candidate.source.target})


def redirect_family(target, *, actor):
    """The redirect edges connected to the target's registrable domain, a few steps out, for the
    operator and the contributors that list the target.

    Returns (nodes, edges): nodes maps host -> {"listed", "status"}; edges are RedirectEdge rows.
    """
    permissions.require(permissions.can_see_redirects(actor, Listing.objects.filter(target=target)),
                        _("Only the operator and the contributors that list %(target)s can see its redirects.")
                        % {"target": target})
    sites, frontier, edges = {site_of(target)}, {site_of(target)}, {}
    for _depth in range(FAMILY_MAX_DEPTH):
        if not frontier or len(edges) >= FAMILY_MAX_EDGES:
            break
        found = (RedirectEdge.objects.filter(Q(from_site__in=frontier) | Q(to_site__in=frontier))
                 .select_related("probe_target").order_by("-last_seen")[:FAMILY_MAX_EDGES])
        frontier = set()
        for edge in found:
            if edge.pk in edges or len(edges) >= FAMILY_MAX_EDGES:
                continue
            edges[edge.pk] = edge
            frontier.update({edge.from_site, edge.to_site} - sites)
        sites |= frontier
    # One edge per (from, to): the same redirect seen while probing several listed names.
    merged = {}
    for edge in sorted(edges.values(), key=lambda e: e.first_seen):
        key = (edge.from_host, edge.to_host)
        if key in merged:
            kept = merged[key]
            kept.count += edge.count
            kept.last_seen = max(kept.last_seen, edge.last_seen)
        else:
            merged[key] = edge
    hosts = [target] + [h for e in merged.values() for h in (e.from_host, e.to_host)]
    hosts = list(dict.fromkeys(hosts))
    published = _published(hosts)
    statuses = dict(ProbeTarget.objects.filter(target__in=hosts).values_list("target", "status"))
    nodes = {h: {"listed": bool(published.intersection(covering_targets(h))), "status": statuses.get(h)}
             for h in hosts}
    return nodes, sorted(merged.values(), key=lambda e: (e.from_host, e.to_host))


def history_summary(probe_target, days=30, now=None):
    """Share of probes that found the site online over the last `days`, and the periods behind it."""
    since = (now or timezone.now()) - timedelta(days=days)
    periods = list(probe_target.periods.filter(ended_at__gte=since).order_by("-started_at"))
    probes = sum(p.probes for p in periods)
    online = sum(p.probes for p in periods if p.status == Status.ONLINE)
    return {"days": days, "probes": probes, "online_percent": round(100 * online / probes) if probes else None,
            "changes": max(len(periods) - 1, 0), "periods": periods[:20]}
