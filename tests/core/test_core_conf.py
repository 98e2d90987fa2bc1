"""Settings come from the environment once, in settings.py; code reads them through `setting`."""

import ipaddress
import os
import runpy
from pathlib import Path

import pytest

from sitealert.core.conf import ConfigurationError, setting

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "sitealert" / "settings.py"


@pytest.fixture
def read_settings(monkeypatch, tmp_path):
    """SITEALERT as settings.py builds it from these SITEALERT_* variables (and none of the others)."""

    def read(**variables):
        for name in [n for n in os.environ if n.startswith("SITEALERT_")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SITEALERT_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SITEALERT_SECRET_KEY", "not-a-secret")
        for name, value in variables.items():
            monkeypatch.setenv("SITEALERT_" + name, value)
        return runpy.run_path(str(SETTINGS_FILE))["SITEALERT"]

    return read


def test_setting_reads_settings_sitealert(settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_RATE": 7}
    assert setting("API_RATE") == 7


def test_an_unknown_setting_is_a_clear_error():
    with pytest.raises(LookupError, match="'API_RAET' is not a SiteAlert setting"):
        setting("API_RAET")


def test_the_environment_sets_the_values(read_settings):
    values = read_settings(API_RATE=" 12 ", MONITOR_RESOLVERS="9.9.9.9, 127.0.0.1:5353,[2620:fe::fe]:53",
                           MONITOR_SCHEMES="HTTP", MONITOR_ALLOW_NETWORKS="127.0.0.2", MONITOR_USER_AGENT=" ")
    assert values["API_RATE"] == 12
    assert values["MONITOR_RESOLVERS"] == [("9.9.9.9", None), ("127.0.0.1", 5353), ("2620:fe::fe", 53)]
    assert values["MONITOR_SCHEMES"] == ("http",)
    assert values["MONITOR_ALLOW_NETWORKS"] == (ipaddress.ip_network("127.0.0.2/32"),)
    assert values["MONITOR_USER_AGENT"] == "SiteAlert-Monitor/1.0", "blank means the default"


@pytest.mark.parametrize("variable, value, message", [
    ("API_RATE", "many", "SITEALERT_API_RATE='many' is not a number"),
    ("MONITOR_DNS_PORT", "fifty", "SITEALERT_MONITOR_DNS_PORT='fifty' is not a number"),
    ("MONITOR_MAX_HOPS", "0", "SITEALERT_MONITOR_MAX_HOPS must be at least 1"),
    ("MONITOR_DNS_TIMEOUT", "0.01", "SITEALERT_MONITOR_DNS_TIMEOUT must be at least 0.1"),
    ("MONITOR_JITTER", "-1", "SITEALERT_MONITOR_JITTER must be at least 0"),
    ("MONITOR_SCHEMES", "https,ftp", "SITEALERT_MONITOR_SCHEMES may name only http and https"),
    ("MONITOR_RESOLVERS", "dns.example", "SITEALERT_MONITOR_RESOLVERS: 'dns.example' is not an address or "
                                         "address:port"),
    ("MONITOR_ALLOW_NETWORKS", "10.0.0.300/8", "SITEALERT_MONITOR_ALLOW_NETWORKS: "),
    ("THREADS", "0", "SITEALERT_THREADS must be at least 1"),
    ("WORKER_TIMEOUT", "0", "SITEALERT_WORKER_TIMEOUT must be at least 1"),
    ("ACCEL_REDIRECT", "internal/feed", "SITEALERT_ACCEL_REDIRECT='internal/feed' must be a URL path"),
    ("ACCEL_REDIRECT", "/internal/../feed/", "SITEALERT_ACCEL_REDIRECT='/internal/../feed/' must be a URL path"),
    ("ACCEL_REDIRECT", "/", "SITEALERT_ACCEL_REDIRECT='/' must be a URL path"),
    ("ACCEL_REDIRECT", "https://proxy/feed/", "SITEALERT_ACCEL_REDIRECT='https://proxy/feed/' must be a URL path"),
])
def test_a_bad_value_names_its_variable(read_settings, variable, value, message):
    with pytest.raises(ConfigurationError) as raised:
        read_settings(**{variable: value})
    assert str(raised.value).startswith(message)




@pytest.mark.parametrize("value, prefix", [("", ""), ("/_sitealert/feed-cache", "/_sitealert/feed-cache/"),
                                           (" /internal/feed.cache/ ", "/internal/feed.cache/")])
def test_the_accel_redirect_prefix_ends_with_a_slash(read_settings, value, prefix):
    assert read_settings(ACCEL_REDIRECT=value)["ACCEL_REDIRECT"] == prefix


@pytest.mark.parametrize("url", ["", "postgresql://u:p@db.example/sitealert"])
def test_database_connections_persist_on_sqlite_and_postgresql(monkeypatch, tmp_path, url):
    """A web process keeps its connection (health-checked) instead of opening one per request."""
    for name in [n for n in os.environ if n.startswith("SITEALERT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SITEALERT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SITEALERT_SECRET_KEY", "not-a-secret")
    if url:
        monkeypatch.setenv("SITEALERT_DATABASE_URL", url)
    database = runpy.run_path(str(SETTINGS_FILE))["DATABASES"]["default"]
    assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True
    monkeypatch.setenv("SITEALERT_DB_CONN_MAX_AGE", "-1")
    with pytest.raises(ConfigurationError, match="SITEALERT_DB_CONN_MAX_AGE must be at least 0"):
        runpy.run_path(str(SETTINGS_FILE))


def test_read_counts_and_token_cache_times_are_checked(read_settings):
    assert read_settings()["TALLY_FLUSH_SECONDS"] == 2.0 and read_settings()["TOKEN_CACHE_SECONDS"] == 5.0
    assert read_settings(TOKEN_CACHE_SECONDS="0")["TOKEN_CACHE_SECONDS"] == 0
    with pytest.raises(ConfigurationError, match="SITEALERT_TALLY_FLUSH_SECONDS must be at least 0.1"):
        read_settings(TALLY_FLUSH_SECONDS="0")
    with pytest.raises(ConfigurationError, match="SITEALERT_TOKEN_CACHE_SECONDS=.*is not a number"):
        read_settings(TOKEN_CACHE_SECONDS="soon")
