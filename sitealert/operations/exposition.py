"""The /metrics document: gauges read from the database at scrape time, and the counters of the
web processes (sitealert.core.metrics).

Gauges are computed when Prometheus asks, by a custom collector, with a handful of small queries:
the list's version and its age, how far this machine's feed cache is behind it, held listings,
review cases past their due date, and the monitored domains by the outcome of their last probe.
The counters are per process; under `sitealert serve` each gunicorn process writes them to the
shared multiprocess directory, and this document adds them up (prometheus_client's
MultiProcessCollector).
"""

from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from sitealert.core import metrics
from sitealert.feed.models import Change, FeedState
from sitealert.listings.models import Listing
from sitealert.monitoring.models import ProbeTarget, Status
from sitealert.operations.health import newest_cached_version
from sitealert.reviews.models import ReviewCase


def _changed_at(seq):
    """When change `seq` was made, or None when it was pruned (or the version came from a restore)."""
    return Change.objects.filter(seq=seq).values_list("created_at", flat=True).first()


def _gauge(name, documentation, value, labels=None):
    family = GaugeMetricFamily(name, documentation, labels=labels)
    if labels:
        for key, number in sorted(value.items()):
            family.add_metric([key], number)
    elif value is not None:
        family.add_metric([], value)
    return family


class DatabaseCollector:
    """Gauges of the installation's state, read when scraped."""

    def collect(self):
        now = timezone.now()
        state = FeedState.objects.filter(pk=1).first() or FeedState(version=0, epoch="")
        yield _gauge("sitealert_list_version", "Version of the aggregated list.", state.version)
        made = _changed_at(state.version) if state.version else None
        yield _gauge("sitealert_list_version_age_seconds",
                     "Seconds since the list reached its current version (absent when that change was pruned).",
                     (now - made).total_seconds() if made else None)
        cached = newest_cached_version(state.epoch) if state.epoch else None
        behind = state.version - (cached or 0)
        yield _gauge("sitealert_feed_cache_version",
                     "Newest version whose feed documents are built in this machine's feed cache (0: none).",
                     cached or 0)
        yield _gauge("sitealert_feed_cache_behind_versions",
                     "Versions of the list not yet built into feed documents on this machine.", max(behind, 0))
        waited = _changed_at((cached or 0) + 1) if behind > 0 else None
        yield _gauge("sitealert_feed_cache_behind_seconds",
                     "Seconds since the first version not yet built into feed documents was made (0: none waits).",
                     (now - waited).total_seconds() if waited else 0)
        yield _gauge("sitealert_listings_held", "Listings held for the operator's review.",
                     Listing.objects.filter(status=Listing.Status.HELD).count())
        yield _gauge("sitealert_review_cases_overdue", "Open review cases past their due date.",
                     ReviewCase.overdue(now).count())
        outcomes = {"online": 0, "offline": 0, "unknown": 0}
        rows = (ProbeTarget.objects.filter(active=True).values_list("status", "failure")
                .annotate(n=Count("id")).order_by())
        for status, failure, n in rows:
            key = failure if status == Status.OFFLINE and failure else status
            outcomes[key] = outcomes.get(key, 0) + n
        yield _gauge("sitealert_monitored_domains",
                     "Monitored domains by the outcome of their last probe: online, unknown (not probed yet), "
                     "or the failure that made them offline.", outcomes, labels=["outcome"])


class _ThisProcess:
    """The counters of this process, when there is no multiprocess directory (tests, `sitealert demo`)."""

    def collect(self):
        return metrics.registry().collect()


def render(accept=""):
    """(body, content type) of the metrics document in the format the scraper accepts."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    for collector in metrics.COLLECTORS:
        registry.register(collector)
    directory = metrics.multiprocess_directory()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ThisProcess())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
