"""A worker's monitoring settings as one object, made of the MONITOR_* product settings.

settings.py reads and validates the SITEALERT_MONITOR_* environment variables when the process
starts (docs/monitoring.md has their meaning and defaults); tests point the monitor at their
loopback servers with the `settings` fixture.
"""

from dataclasses import dataclass

from sitealert.core.conf import setting


@dataclass(frozen=True)
class MonitorConfig:
    resolvers: list  # [(address, port)]; empty: the system's resolvers
    dns_timeout: float
    connect_timeout: float
    total_timeout: float
    max_hops: int
    max_bytes: int
    user_agent: str
    schemes: tuple
    http_port: int
    https_port: int
    politeness_delay: float
    interval: float
    retry: float
    backoff_max: float
    jitter: float
    concurrency: int
    claim_seconds: float
    idle_seconds: float
    allow_networks: tuple


def load():
    dns_port = setting("MONITOR_DNS_PORT")
    total_timeout = setting("MONITOR_TOTAL_TIMEOUT")
    return MonitorConfig(
        resolvers=[(address, port or dns_port) for address, port in setting("MONITOR_RESOLVERS")],
        dns_timeout=setting("MONITOR_DNS_TIMEOUT"),
        connect_timeout=setting("MONITOR_CONNECT_TIMEOUT"),
        total_timeout=total_timeout,
        max_hops=setting("MONITOR_MAX_HOPS"),
        max_bytes=setting("MONITOR_MAX_BYTES"),
        user_agent=setting("MONITOR_USER_AGENT"),
        schemes=setting("MONITOR_SCHEMES"),
        http_port=setting("MONITOR_HTTP_PORT"),
        https_port=setting("MONITOR_HTTPS_PORT"),
        politeness_delay=setting("MONITOR_POLITENESS_DELAY"),
        interval=setting("MONITOR_INTERVAL"),
        retry=setting("MONITOR_RETRY"),
        backoff_max=setting("MONITOR_BACKOFF_MAX"),
        jitter=min(setting("MONITOR_JITTER"), 0.9),
        concurrency=setting("MONITOR_CONCURRENCY"),
        # A claim must outlive the longest probe, or a second worker could take the target over.
        claim_seconds=max(setting("MONITOR_CLAIM_SECONDS"), 4 * total_timeout),
        idle_seconds=setting("MONITOR_IDLE_SECONDS"),
        allow_networks=setting("MONITOR_ALLOW_NETWORKS"),
    )
