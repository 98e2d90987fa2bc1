"""What this process counts for /metrics: listings submitted and removed, rate-limit refusals,
request latency by route. Any app counts through these functions; sitealert.operations exposes them.

These are Prometheus counters and a histogram (prometheus-client), kept per process. `sitealert
serve` runs several gunicorn processes: it points PROMETHEUS_MULTIPROC_DIR at a directory before
the first metric exists, each process then keeps its values in a file there, and /metrics adds
them up. That is why prometheus_client is imported only when the first metric is made: the
variable must be in the environment before the library chooses where values live.
"""

import os
import shutil
import sys
import threading

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the default buckets of prometheus-client stop at 10 s, and a full download may take longer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_lock = threading.Lock()
_metrics = None
# Gauges of the apps above operations (federation's sources), read when /metrics is scraped: objects
# with a prometheus `collect()`, added in their AppConfig.ready() (see add_collector).
COLLECTORS = []


def add_collector(collector):
    """Have /metrics include `collector`'s metrics; it imports prometheus_client only in collect()."""
    COLLECTORS.append(collector)


def multiprocess_directory():
    """The directory the processes of `sitealert serve` share their values in, or None."""
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def share_between_processes(directory):
    """Make this process and the processes it forks keep their values in `directory`, emptied first
    (the values of a previous run are gone with its processes). Call before any metric is made."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was loaded before the multiprocess directory was chosen")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ[MULTIPROCESS_VARIABLE] = str(directory)


def _made():
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                import prometheus_client  # the multiprocess variable must be set before this import

                prometheus_client.disable_created_metrics()  # a _created series per counter doubles the document
                registry = prometheus_client.CollectorRegistry(auto_describe=True)
                _metrics = {
                    "registry": registry,
                    "listings": prometheus_client.Counter(
                        "sitealert_listings_changed", "Listings accepted (added or updated) or removed by "
                        "contributors' submissions, by what happened and the way they came (web, api, cli).",
                        ["change", "via"], registry=registry),
                    "refusals": prometheus_client.Counter(
                        "sitealert_rate_limit_refusals", "Requests refused by a rate limit, by limit.",
                        ["scope"], registry=registry),
                    "latency": prometheus_client.Histogram(
                        "sitealert_request_duration_seconds", "Time to answer a request, by route (the URL "
                        "pattern, not the path) and method.", ["route", "method"], buckets=LATENCY_BUCKETS,
                        registry=registry),
                }
    return _metrics


def registry():
    """This process's own metrics (single-process mode: what /metrics shows of the counters)."""
    return _made()["registry"]


def count_listings(change, via, amount):
    """`amount` listings were accepted (`change="accepted"`) or removed (`"removed"`) by a submission."""
    if amount:
        _made()["listings"].labels(change=change, via=via).inc(amount)


def count_refusal(scope):
    _made()["refusals"].labels(scope=scope).inc()


def observe_request(route, method, seconds):
    _made()["latency"].labels(route=route, method=method).observe(seconds)
