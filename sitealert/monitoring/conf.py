"""Monitoring settings, read from SITEALERT_MONITOR_* environment variables (docs/monitoring.md).

`load()` reads the environment each time it is called, so a worker picks up its configuration
when it starts and tests can point it at their loopback servers with plain environment variables.
"""

import ipaddress
import os
from dataclasses import dataclass, field

PREFIX = "SITEALERT_MONITOR_"


class ConfigurationError(ValueError):
    pass


def _raw(environ, name):
    value = environ.get(PREFIX + name)
    return value.strip() if value is not None and value.strip() != "" else None


def _number(environ, name, default, kind=float, minimum=0):
    value = _raw(environ, name)
    if value is None:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise ConfigurationError(f"{PREFIX}{name}={value!r} is not a number") from None
    if number < minimum:
        raise ConfigurationError(f"{PREFIX}{name} must be at least {minimum}")
    return number


def _list(environ, name):
    value = _raw(environ, name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def _resolvers(entries, default_port):
    """["9.9.9.9", "127.0.0.1:5353", "[2620:fe::fe]:53"] -> [(address, port)]."""
    result = []
    for entry in entries:
        host, port = entry, default_port
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":"):
                port = rest[1:]
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        try:
            result.append((str(ipaddress.ip_address(host)), int(port)))
        except ValueError:
            raise ConfigurationError(f"{PREFIX}RESOLVERS: {entry!r} is not an address or address:port") from None
    return result


def _networks(entries):
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ConfigurationError(f"{PREFIX}ALLOW_NETWORKS: {exc}") from None


@dataclass(frozen=True)
class MonitorConfig:
    resolvers: list = field(default_factory=list)  # [(address, port)]; empty: the system's resolvers
    dns_timeout: float = 3.0
    connect_timeout: float = 5.0
    total_timeout: float = 20.0
    max_hops: int = 10
    max_bytes: int = 256 * 1024
    user_agent: str = "SiteAlert-Monitor/1.0"
    schemes: tuple = ("https", "http")
    http_port: int = 80
    https_port: int = 443
    politeness_delay: float = 1.0
    interval: float = 6 * 3600.0
    retry: float = 15 * 60.0
    backoff_max: float = 24 * 3600.0
    jitter: float = 0.1
    concurrency: int = 32
    claim_seconds: float = 300.0
    idle_seconds: float = 10.0
    stale_days: int = 90
    allow_networks: tuple = ()


def load(environ=None):
    environ = os.environ if environ is None else environ
    dns_port = _number(environ, "DNS_PORT", 53, int, 1)
    schemes = tuple(s.lower() for s in _list(environ, "SCHEMES")) or ("https", "http")
    if any(s not in ("http", "https") for s in schemes):
        raise ConfigurationError(f"{PREFIX}SCHEMES may name only http and https")
    total_timeout = _number(environ, "TOTAL_TIMEOUT", 20.0, minimum=0.1)
    config = MonitorConfig(
        resolvers=_resolvers(_list(environ, "RESOLVERS"), dns_port),
        dns_timeout=_number(environ, "DNS_TIMEOUT", 3.0, minimum=0.1),
        connect_timeout=_number(environ, "CONNECT_TIMEOUT", 5.0, minimum=0.1),
        total_timeout=total_timeout,
        max_hops=_number(environ, "MAX_HOPS", 10, int, 1),
        max_bytes=_number(environ, "MAX_BYTES", 256 * 1024, int, 1),
        user_agent=_raw(environ, "USER_AGENT") or "SiteAlert-Monitor/1.0",
        schemes=schemes,
        http_port=_number(environ, "HTTP_PORT", 80, int, 1),
        https_port=_number(environ, "HTTPS_PORT", 443, int, 1),
        politeness_delay=_number(environ, "POLITENESS_DELAY", 1.0),
        interval=_number(environ, "INTERVAL", 6 * 3600.0, minimum=1),
        retry=_number(environ, "RETRY", 15 * 60.0, minimum=1),
        backoff_max=_number(environ, "BACKOFF_MAX", 24 * 3600.0, minimum=1),
        jitter=min(_number(environ, "JITTER", 0.1), 0.9),
        concurrency=_number(environ, "CONCURRENCY", 32, int, 1),
        # A claim must outlive the longest probe, or a second worker could take the target over.
        claim_seconds=max(_number(environ, "CLAIM_SECONDS", 300.0, minimum=1), 4 * total_timeout),
        idle_seconds=_number(environ, "IDLE_SECONDS", 10.0, minimum=0.1),
        stale_days=_number(environ, "STALE_DAYS", 90, int, 1),
        allow_networks=_networks(_list(environ, "ALLOW_NETWORKS")),
    )
    return config
