"""Monitoring facts for other parts of SiteAlert: the feed's entry metadata and listing pages."""

from django.db import models

from sitealert.monitoring.models import ProbeTarget, Status
from sitealert.monitoring.probe import domain_hops

CHUNK = 900


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def target_statuses(targets):
    """{target: ProbeTarget} for the targets that are (or were) probed."""
    targets = sorted(set(targets))
    found = {}
    for start in range(0, len(targets), CHUNK):
        for row in ProbeTarget.objects.filter(target__in=targets[start:start + CHUNK]).defer("last_result"):
            found[row.target] = row
    return found


def entry_metadata(targets):
    """{target: {"status": "online|offline|unknown", "checked_at": ISO time or None, "redirects_to": [hosts]}}.

    `redirects_to` lists, in order, the hosts on other registrable domains that the last probe's
    redirect chain went to. Targets that are not probed (apps, new entries) are "unknown".
    """
    targets = list(targets)
    result = {t: {"status": Status.UNKNOWN.value, "checked_at": None, "redirects_to": []} for t in targets}
    wanted = sorted(set(targets))
    for start in range(0, len(wanted), CHUNK):
        rows = (ProbeTarget.objects.filter(target__in=wanted[start:start + CHUNK])
                .values_list("target", "status", "last_checked_at", "last_result"))
        for target, status, checked_at, last_result in rows:
            destinations = []
            for _, destination in domain_hops((last_result or {}).get("hops", [])):
                if destination not in destinations:
                    destinations.append(destination)
            result[target] = {"status": status, "checked_at": _iso(checked_at), "redirects_to": destinations}
    return result


def status_totals():
    """{"online": n, "offline": n, "unknown": n} over the domains of the aggregated list (statistics)."""
    totals = dict.fromkeys(Status.values, 0)
    for status, count in (ProbeTarget.objects.filter(active=True).values("status")
                          .annotate(count=models.Count("pk")).values_list("status", "count")):
        totals[status] = count
    return totals
