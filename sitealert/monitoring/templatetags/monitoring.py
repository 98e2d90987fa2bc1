"""{% load monitoring %}: monitoring status badges for any page that shows listings.

    {% monitor_status listing.target %}             one query per call
    {% listing_statuses listings as statuses %}     one query for the listings of a page
    {% monitor_status listing.target statuses %}    from those statuses, no query
    {% monitor_badge status failure since %}        from values you already have
    {{ kind|failure_label }}                        a failure kind in words
"""

from django import template

from sitealert.monitoring.metadata import target_statuses
from sitealert.monitoring.models import Failure, ProbeTarget, Status

register = template.Library()

STATUS_LABELS = dict(Status.choices)
FAILURE_LABELS = dict(Failure.choices)


@register.inclusion_tag("monitoring/status_badge.html")
def monitor_badge(status, failure="", since=None, checked=None):
    status = status or Status.UNKNOWN
    return {"status": status, "label": STATUS_LABELS.get(status, status),
            "failure": failure_label(failure) if status == Status.OFFLINE else "",
            "since": since, "checked": checked}


@register.inclusion_tag("monitoring/status_badge.html")
def monitor_status(target, statuses=None):
    if statuses is None:
        probe = ProbeTarget.objects.filter(target=target).defer("last_result").first()
    else:
        probe = statuses.get(target)
    if probe is None:
        return monitor_badge(Status.UNKNOWN)
    return monitor_badge(probe.status, probe.failure, probe.status_since, probe.last_checked_at)


@register.simple_tag
def listing_statuses(listings):
    """The monitoring status of each listing's target: the listings page shows them without
    importing monitoring, which sits above listings."""
    return target_statuses([listing.target for listing in listings])


@register.filter
def failure_label(kind):
    return FAILURE_LABELS.get(kind, kind)
