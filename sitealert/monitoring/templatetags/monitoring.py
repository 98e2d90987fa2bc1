"""{% load monitoring %}: monitoring status badges for any page that shows listings.

    {% monitor_status listing.target %}             one query per call
    {% monitor_status listing.target statuses %}    statuses = metadata.target_statuses(targets), no query
    {% monitor_badge status failure since %}        from values you already have
    {{ kind|failure_label }}                        a failure kind in words
"""

from django import template

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


@register.filter
def failure_label(kind):
    return FAILURE_LABELS.get(kind, kind)
