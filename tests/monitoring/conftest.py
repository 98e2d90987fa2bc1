"""Monitoring tests run real probes against real loopback servers (tests/monitoring/harness.py).

A process-wide audit hook refuses, while these tests run, every connection, datagram or name
lookup that is not for a loopback address: nothing here may reach the Internet, and a probe
that tried to would fail its test loudly.
"""

import ipaddress
import sys
from pathlib import Path

import pytest

from sitealert.monitoring.conf import load
from sitealert.monitoring.worker import Worker
from tests.monitoring.harness import Harness

DATA = Path(__file__).resolve().parent / "data"
CERTFILE, KEYFILE = DATA / "tls-test.crt", DATA / "tls-test.key"


class NetworkGuard:
    active = False
    refused = []

    @classmethod
    def hook(cls, event, args):
        if not cls.active or event not in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"):
            return
        if event == "socket.getaddrinfo":
            host = args[0]
        else:
            address = args[1]
            if not isinstance(address, tuple):
                return  # Unix sockets
            host = address[0]
        if host is None:
            return
        if isinstance(host, bytes):
            host = host.decode()
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            cls.refused.append((event, host))
            raise ConnectionRefusedError(f"test network guard: {event} to {host} refused")


_installed = False


@pytest.fixture(autouse=True)
def network_guard():
    global _installed
    if not _installed:
        sys.addaudithook(NetworkGuard.hook)
        _installed = True
    NetworkGuard.refused = []
    NetworkGuard.active = True
    yield NetworkGuard
    NetworkGuard.active = False
    assert NetworkGuard.refused == [], "a test tried to reach a non-loopback address"


@pytest.fixture
def harness():
    with Harness(certfile=str(CERTFILE), keyfile=str(KEYFILE)) as running:
        yield running
    assert running.trapped == [], "a probe connected to 127.0.0.1"


@pytest.fixture
def monitor_settings(harness, settings):
    """Point monitoring at the harness through its MONITOR_* settings; returns a setter for more."""

    def update(**overrides):
        settings.SITEALERT = {**settings.SITEALERT, **harness.settings(**overrides)}

    update()
    return update


@pytest.fixture
def run_worker(monitor_settings):
    """Run one worker pass (`sitealert worker --once` in-process) and return its stats."""

    def run(**overrides):
        if overrides:
            monitor_settings(**overrides)
        return Worker(load(), maintenance=False).run(once=True)

    return run


@pytest.fixture
def probe_target():
    from sitealert.monitoring.models import ProbeTarget

    def get(target):
        return ProbeTarget.objects.get(target=target)

    return get
