"""A worker's MonitorConfig is made of the MONITOR_* settings, with the rules that tie them together."""

from sitealert.monitoring.conf import load


def monitor(settings, **values):
    settings.SITEALERT = {**settings.SITEALERT, **{"MONITOR_" + name: value for name, value in values.items()}}
    return load()


def test_a_resolver_without_a_port_gets_the_dns_port(settings):
    config = monitor(settings, RESOLVERS=[("9.9.9.9", None), ("127.0.0.1", 5353)], DNS_PORT=5300)
    assert config.resolvers == [("9.9.9.9", 5300), ("127.0.0.1", 5353)]


def test_a_claim_outlives_the_longest_probe(settings):
    assert monitor(settings, CLAIM_SECONDS=60.0, TOTAL_TIMEOUT=30.0).claim_seconds == 120.0
    assert monitor(settings, CLAIM_SECONDS=600.0, TOTAL_TIMEOUT=30.0).claim_seconds == 600.0


def test_jitter_is_at_most_nine_tenths(settings):
    assert monitor(settings, JITTER=5.0).jitter == 0.9
