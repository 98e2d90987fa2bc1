"""/metrics: the installation's state as gauges, the processes' counters, and who may read them."""

from datetime import timedelta
from ipaddress import ip_network

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sitealert.feed import builder
from sitealert.listings.models import ProtectedTarget
from sitealert.listings.services import remove_listings
from sitealert.monitoring.models import ProbeTarget
from sitealert.reviews.models import ReviewCase

pytestmark = pytest.mark.django_db


def samples(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0)


def test_gauges_show_the_list_held_listings_overdue_cases_and_probe_outcomes(client, italy, italy_case,
                                                                            list_targets):
    ProtectedTarget.objects.create(target="bigvideo.example")
    list_targets(italy, ["a.example", "b.example"])
    list_targets(italy, ["x.bigvideo.example"])  # held, not published
    ReviewCase.objects.update(due_at=timezone.now() - timedelta(days=1))
    ProbeTarget.objects.create(target="a.example", status="online")
    ProbeTarget.objects.create(target="b.example", status="offline", failure="dns-nxdomain")
    ProbeTarget.objects.create(target="gone.example", status="offline", active=False)
    found = samples(client)
    version = builder.current_version()
    assert value(found, "sitealert_list_version") == version == 3  # pirate.test, a.example, b.example
    assert 0 <= value(found, "sitealert_list_version_age_seconds") < 60
    assert value(found, "sitealert_listings_held") == 1
    assert value(found, "sitealert_review_cases_overdue") == 1
    assert value(found, "sitealert_monitored_domains", outcome="online") == 1
    assert value(found, "sitealert_monitored_domains", outcome="dns-nxdomain") == 1
    assert value(found, "sitealert_monitored_domains", outcome="offline") == 0  # retired targets do not count
    assert value(found, "sitealert_feed_cache_behind_versions") == version

    builder.warm()  # what the worker does every minute
    found = samples(client)
    assert value(found, "sitealert_feed_cache_version") == version
    assert value(found, "sitealert_feed_cache_behind_versions") == 0
    assert value(found, "sitealert_feed_cache_behind_seconds") == 0


def test_counters_count_submissions_removals_refusals_and_requests_by_route(client, italy, list_targets,
                                                                           as_actor, settings):
    before = samples(client)
    list_targets(italy, ["a.example", "b.example", "c.example"])
    remove_listings(italy, ["a.example"], "Court order annulled", actor=as_actor(italy))
    settings.SITEALERT = {**settings.SITEALERT, "PUBLIC_CHECK_RATE": 1, "PUBLIC_CHECK_WINDOW": 3600}
    for query in ("one.example", "two.example", "three.example"):
        client.get("/api/v1/check", {"q": query})
    after = samples(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("sitealert_listings_changed_total", change="accepted", via="api") == 3
    assert grew("sitealert_listings_changed_total", change="removed", via="api") == 1
    assert grew("sitealert_rate_limit_refusals_total", scope="public-check") == 2
    # The route is the URL pattern, never the path with its query: a bounded set of series.
    assert grew("sitealert_request_duration_seconds_count", route="api/v1/check", method="GET") == 3
    assert grew("sitealert_request_duration_seconds_count", route="metrics", method="GET") == 1
    assert not [key for key in after if "one.example" in str(key)]


def test_an_unknown_path_is_one_route(client):
    before = samples(client)
    client.get("/no/such/page-1")
    client.get("/no/such/page-2")
    after = samples(client)
    key = ("sitealert_request_duration_seconds_count", (("method", "GET"), ("route", "unmatched")))
    assert after[key] - before.get(key, 0) == 2


def test_only_loopback_may_read_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert b"SITEALERT_METRICS_ALLOW" in refused.content
    assert b"sitealert_" not in refused.content


def test_allowed_networks_come_from_the_setting(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "METRICS_ALLOW": (ip_network("10.1.0.0/16"),)}
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "METRICS_TOKEN": "scrape-secret-2026"}
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-2026", **outside).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-2027", **outside).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-2026", **outside).status_code == 403
    assert client.get("/metrics", **outside).status_code == 403


def test_no_token_configured_means_no_token_opens_it(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "METRICS_TOKEN": ""}
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_a_proxied_client_is_judged_by_its_own_address(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "TRUSTED_PROXY_COUNT": 1}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_the_operations_endpoints_never_write(client, path, italy, list_targets):
    list_targets(italy, ["a.example"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE", "CREATE",
                                                                           "DROP", "ALTER", "REPLACE")]
    assert writes == []


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_only_reads_are_answered(client, path):
    assert client.post(path).status_code == 405


def test_openmetrics_when_asked(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")
