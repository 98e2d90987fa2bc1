"""No probe ever connects to a private, loopback, link-local, multicast or reserved address.

The harness's sites listen on 127.0.0.2, which these tests allowlist
(MONITOR_ALLOW_NETWORKS=127.0.0.2/32); a trap listens on 127.0.0.1 on the same ports
and the `harness` fixture fails any test after which the trap saw a connection.
"""

import ipaddress

import pytest
from django.utils import timezone

from sitealert.monitoring.models import ProbeTarget
from sitealert.monitoring.probe import AddressPolicy, PinnedBackend, ProbeFailure
from tests.monitoring import harness as sites

ALLOW_TEST_SITES = (ipaddress.ip_network("127.0.0.2/32"),)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0", "224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    # Ranges that Python 3.11's ipaddress calls global: the IPv4 dummy address (RFC 7600) and the
    # 2024 IPv6 documentation prefix (RFC 9637), both in IANA's special-purpose registries.
    "192.0.0.8", "192.0.0.170", "3fff::1", "3fff:fff:ffff::1", "5f00::1", "100:0:0:1::1", "64:ff9b:1::1",
    "198.51.100.7", "203.0.113.9", "192.88.99.1", "2001:2::1", "fec0::1", "::192.0.2.1", "4000::1",
])
def test_policy_refuses_non_public_addresses(address):
    assert not AddressPolicy(ALLOW_TEST_SITES).allows(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "127.0.0.2",
                                     "3000::1", "2a00:1450:4001::1", "192.0.1.1", "192.31.196.1",
                                     "::ffff:127.0.0.2"])
def test_policy_allows_public_and_allowlisted_addresses(address):
    assert AddressPolicy(ALLOW_TEST_SITES).allows(address)


def test_empty_allowlist_refuses_all_of_loopback():
    policy = AddressPolicy(())
    assert not any(policy.allows(a) for a in ("127.0.0.1", "127.0.0.2", "127.1.2.3", "::1"))


def test_connection_layer_refuses_unchecked_and_refused_addresses():
    backend = PinnedBackend({"evil.test": "127.0.0.1"}, AddressPolicy(ALLOW_TEST_SITES), {})
    for host in ("evil.test", "unresolved.test"):
        with pytest.raises(ProbeFailure) as caught:
            backend.connect_tcp(host, 80)
        assert caught.value.kind == "blocked_address"


def test_redirects_to_loopback_and_metadata_addresses_are_refused(italy, list_targets, run_worker, probe_target,
                                                                  harness, network_guard):
    harness.http.sites.update({
        "to-loopback.test": sites.redirect("http://127.0.0.1/admin"),
        "to-metadata.test": sites.redirect("http://169.254.169.254/latest/meta-data/"),
        "to-ipv6-loopback.test": sites.redirect("http://[::1]/"),
        "to-private-name.test": sites.redirect("http://internal.test/"),
    })
    harness.dns.add("internal.test", a=["10.1.2.3"])
    targets = ["to-loopback.test", "to-metadata.test", "to-ipv6-loopback.test", "to-private-name.test"]
    list_targets(italy, targets)
    run_worker()
    for name in targets:
        target = probe_target(name)
        assert (target.status, target.failure) == ("offline", "blocked_address"), name
        first, refused = target.last_result["hops"]
        assert first["status"] == 301 and refused["address"] is None and refused["error"] == "blocked_address"
    assert probe_target("to-metadata.test").last_result["hops"][1]["refused"] == ["169.254.169.254"]
    assert probe_target("to-private-name.test").last_result["hops"][1]["refused"] == ["10.1.2.3"]
    assert network_guard.refused == [], "no connection to 169.254.169.254 or 10.1.2.3 was even attempted"
    assert harness.trapped == []


def test_names_that_resolve_to_refused_addresses_are_never_contacted(italy, list_targets, run_worker, probe_target,
                                                                      harness, network_guard):
    harness.dns.add("a-loopback.test", a=["127.0.0.1"])
    harness.dns.add("a-metadata.test", a=["169.254.169.254"])
    harness.dns.add("aaaa-loopback.test", aaaa=["::1"])
    harness.dns.add("aaaa-mapped.test", aaaa=["::ffff:127.0.0.1"])
    harness.dns.add("aaaa-metadata.test", aaaa=["::ffff:169.254.169.254"])
    targets = ["a-loopback.test", "a-metadata.test", "aaaa-loopback.test", "aaaa-mapped.test", "aaaa-metadata.test"]
    list_targets(italy, targets)
    run_worker()
    assert {t: probe_target(t).failure for t in targets} == dict.fromkeys(targets, "blocked_address")
    assert harness.http.requests == [] and harness.trapped == [] and network_guard.refused == []


def test_without_the_allowlist_even_the_test_sites_are_refused(italy, list_targets, run_worker, probe_target,
                                                                harness):
    list_targets(italy, ["films.test"])
    run_worker(ALLOW_NETWORKS=())
    target = probe_target("films.test")
    assert (target.status, target.failure) == ("offline", "blocked_address")
    assert target.last_result["hops"][0]["refused"] == ["127.0.0.2"]
    assert harness.http.requests == []


def test_dns_rebinding_cannot_redirect_the_connection(italy, list_targets, run_worker, probe_target, harness):
    """The name answers an allowed address first and a loopback one afterwards; each probe resolves
    once and connects to the address it checked, at every hop."""
    harness.dns.add_dynamic("rebind.test", lambda rdtype, n: (["127.0.0.2"] if n == 1 else ["127.0.0.1"])
                            if rdtype == "A" else [])
    harness.http.sites["rebind.test"] = lambda handler: (
        sites.redirect("/next", 302)(handler) if handler.path == "/" else sites.ok()(handler))
    list_targets(italy, ["rebind.test"])
    run_worker()
    target = probe_target("rebind.test")
    assert target.status == "online"
    assert [(h["url"], h["address"]) for h in target.last_result["hops"]] == [
        ("http://rebind.test/", "127.0.0.2"), ("http://rebind.test/next", "127.0.0.2")]
    assert harness.dns.queries[("rebind.test", "A")] == 1

    ProbeTarget.objects.filter(target="rebind.test").update(next_probe_at=timezone.now())
    run_worker()
    target = probe_target("rebind.test")
    assert (target.status, target.failure) == ("offline", "blocked_address")
    assert harness.dns.queries[("rebind.test", "A")] == 2
    assert len(harness.http.hits("rebind.test")) == 2 and harness.trapped == []
