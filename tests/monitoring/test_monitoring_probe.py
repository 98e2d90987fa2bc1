"""What one probe finds, end to end: listed domain -> worker -> loopback DNS and HTTP -> status."""

import socket
import time

from django.utils import timezone

from sitealert.monitoring.models import ProbeTarget, StatusPeriod
from tests.monitoring import harness as sites


def _closed_port():
    sock = socket.socket()
    sock.bind((sites.SITE_ADDRESS, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _make_due(*targets):
    ProbeTarget.objects.filter(target__in=targets).update(next_probe_at=timezone.now())


def test_online_site_is_recorded_with_its_chain(italy, list_targets, run_worker, probe_target, harness):
    list_targets(italy, ["films.test"])
    stats = run_worker(USER_AGENT="ExampleMonitor/2.0 (+https://sitealert.example/bot)")
    assert stats["probes"] == 1
    target = probe_target("films.test")
    assert (target.status, target.failure) == ("online", "")
    assert target.last_result["status_code"] == 200
    assert target.last_result["hops"] == [{"url": "http://films.test/", "status": 200, "address": "127.0.0.2"}]
    assert target.claimed_by == "" and target.claimed_until is None
    assert target.next_probe_at > target.last_checked_at
    [request] = harness.http.requests
    assert (request.host, request.path) == ("films.test", "/")
    assert request.user_agent == "ExampleMonitor/2.0 (+https://sitealert.example/bot)"


def test_each_way_of_being_offline_has_its_failure_kind(italy, list_targets, run_worker, probe_target, harness):
    closed = _closed_port()
    harness.http.sites.update({
        "slow.test": sites.slow(30),
        "reset.test": sites.reset(),
        "broken.test": sites.status(503),
        "notfound.test": sites.status(404),
        "refusing.test": sites.redirect(f"http://refusing.test:{closed}/"),
        "badredirect.test": sites.redirect("ftp://files.test/"),
    })
    harness.dns.nxdomain("gone.test")
    harness.dns.drop("silent-dns.test")
    harness.dns.add("noaddress.test")
    expected = {
        "slow.test": "timeout",
        "reset.test": "connection_reset",
        "broken.test": "http_error",
        "refusing.test": "connect_refused",
        "badredirect.test": "redirect_invalid",
        "gone.test": "dns_nxdomain",
        "silent-dns.test": "dns_error",
        "noaddress.test": "dns_no_address",
    }
    list_targets(italy, [*expected, "notfound.test"])
    started = time.monotonic()
    run_worker(TOTAL_TIMEOUT=1.5, DNS_TIMEOUT=0.5)
    assert time.monotonic() - started < 5, "probes run concurrently and within their time limits"
    found = {t: probe_target(t) for t in expected}
    assert {t: (p.status, p.failure) for t, p in found.items()} == {t: ("offline", k) for t, k in expected.items()}
    # A 404 is an answer: the site is online.
    assert probe_target("notfound.test").status == "online"
    assert found["broken.test"].last_result["status_code"] == 503
    assert found["slow.test"].last_result["hops"][0]["error"] == "timeout"


def test_redirect_loop_stops_at_the_hop_limit(italy, list_targets, run_worker, probe_target, harness):
    harness.http.sites["loop.test"] = sites.redirect_loop()
    list_targets(italy, ["loop.test"])
    run_worker(MAX_HOPS=4)
    target = probe_target("loop.test")
    assert (target.status, target.failure) == ("offline", "redirect_limit")
    assert [h["url"] for h in target.last_result["hops"]] == [
        "http://loop.test/", "http://loop.test/loop/1", "http://loop.test/loop/2", "http://loop.test/loop/3",
        "http://loop.test/loop/4"]
    assert len(harness.http.hits("loop.test")) == 5


def test_huge_body_is_cut_at_the_byte_limit(italy, list_targets, run_worker, probe_target, harness):
    harness.http.sites["huge.test"] = sites.huge(total=512 * 1024 * 1024)
    list_targets(italy, ["huge.test"])
    started = time.monotonic()
    run_worker(MAX_BYTES=100000)
    assert time.monotonic() - started < 3
    target = probe_target("huge.test")
    assert target.status == "online"
    assert target.last_result["bytes"] == 100000 and target.last_result["truncated"] is True
    assert harness.http.body_bytes["huge.test"] < 64 * 1024 * 1024, "the probe hung up early"


def test_tls_failure_is_recorded_not_fatal(italy, list_targets, run_worker, probe_target, harness):
    list_targets(italy, ["tls.test"])
    run_worker(SCHEMES=("https",))
    target = probe_target("tls.test")
    assert (target.status, target.failure) == ("offline", "tls_error")
    assert "CERTIFICATE_VERIFY_FAILED" in target.last_result["detail"]

    _make_due("tls.test")
    run_worker(SCHEMES=("https", "http"))
    target = probe_target("tls.test")
    assert target.status == "online"
    assert target.last_result["attempts"][0]["url"] == "https://tls.test/"
    assert target.last_result["attempts"][0]["failure"] == "tls_error"
    assert target.last_result["final_url"] == "http://tls.test/"


def test_history_is_kept_as_periods_and_offline_targets_back_off(italy, list_targets, run_worker, probe_target,
                                                                 harness):
    list_targets(italy, ["flaky.test"])
    run_worker()
    _make_due("flaky.test")
    run_worker()
    harness.http.sites["flaky.test"] = sites.status(502)
    delays = []
    for _ in range(3):
        _make_due("flaky.test")
        before = timezone.now()
        run_worker(RETRY=600.0, BACKOFF_MAX=86400.0, JITTER=0.0)
        delays.append((probe_target("flaky.test").next_probe_at - before).total_seconds())
    target = probe_target("flaky.test")
    assert (target.status, target.failure, target.consecutive_failures) == ("offline", "http_error", 3)
    assert target.last_online_at is not None and target.status_since > target.last_online_at
    periods = list(StatusPeriod.objects.filter(probe_target=target).order_by("started_at")
                   .values_list("status", "failure", "probes"))
    assert periods == [("online", "", 2), ("offline", "http_error", 3)]
    assert [round(d / 600) for d in delays] == [1, 2, 4], "exponential backoff from RETRY"
