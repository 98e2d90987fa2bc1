"""`sitealert serve` alone survives clients that download the feed slowly.

A real server in a subprocess on loopback (two processes, the default threads) with a feed of
about 24 MB (150,000 synthetic domains); raw sockets with a 16 KiB receive buffer play clients
that read at a set pace. Meanwhile a public check on a new connection must answer within a
second, and a slow download must come whole, though it lasts longer than the worker timeout.
"""

import socket
import time

import pytest

from tests.cli import serve_harness as harness

pytestmark = pytest.mark.slow

WORKERS = 2
WORKER_TIMEOUT = 3
ENTRIES = 150_000
SLOW = 500_000  # bytes per second


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    site = harness.Installation(tmp_path_factory.mktemp("downloads"), ENTRIES,
                                env={"SITEALERT_WORKER_TIMEOUT": str(WORKER_TIMEOUT)})
    process, port = site.serve(WORKERS)
    try:
        yield site, port
    finally:
        harness.stop(process)


def downloading(port, token, count, rate=SLOW, **options):
    clients = [harness.SlowDownload(port, token, rate, **options) for _ in range(count)]
    for client in clients:
        client.start()
    return clients


def checks_while(clients, port, seconds):
    """Seconds each public check took, one every 0.2 s for `seconds`, all `clients` reading meanwhile."""
    for client in clients:
        assert client.started_reading.wait(20), "a download did not start"
        assert client.status == 200 and client.error is None, (client.status, client.error)
    latencies, until = [], time.monotonic() + seconds
    while time.monotonic() < until:
        latencies.append(harness.timed_check(port, timeout=10))
        time.sleep(0.2)
    assert all(client.is_alive() for client in clients), "the downloads were over before the checks"
    return latencies


def stop(clients):
    for client in clients:
        client.stopping.set()
    for client in clients:
        client.join(10)


@pytest.mark.parametrize("count", [2 * WORKERS, 10], ids=["twice-the-workers", "ten"])
def test_a_check_answers_within_a_second_during_slow_downloads(server, count):
    site, port = server
    clients = downloading(port, site.token, count)
    try:
        latencies = checks_while(clients, port, seconds=3)
    finally:
        stop(clients)
    assert len(latencies) >= 10
    assert max(latencies) < 1.0, sorted(latencies)


def test_a_process_whose_threads_all_download_leaves_new_connections_to_the_others(server):
    site, _port = server
    process, port = site.serve(WORKERS, "--threads", "2")
    clients = downloading(port, site.token, 3)  # one process has both threads busy, the other one
    try:
        latencies = checks_while(clients, port, seconds=3)
    finally:
        stop(clients)
        harness.stop(process)
    assert max(latencies) < 1.0, sorted(latencies)


def test_a_slow_download_comes_whole_though_it_outlasts_the_worker_timeout(server):
    site, port = server
    others = downloading(port, site.token, 9)
    [whole] = downloading(port, site.token, 1, rate=4_000_000, to_the_end=True)
    try:
        whole.join(45)
        assert not whole.is_alive() and whole.error is None, whole.error
    finally:
        stop(others)
    assert whole.seconds > 1.5 * WORKER_TIMEOUT
    assert int(whole.headers["content-length"]) == len(whole.body) > 20_000_000
    assert harness.list_checksum(whole.body, "json") == whole.headers["x-sitealert-checksum"]


def test_a_client_that_takes_nothing_is_disconnected_after_the_worker_timeout(server):
    site, port = server
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(harness.request("/api/v1/feed", [f"Authorization: Bearer {site.token}"]))
        status, headers, received = harness.split_head(sock.recv(4096))
        assert status == 200
        time.sleep(WORKER_TIMEOUT + 2)
        total = len(received)
        try:
            while chunk := sock.recv(1 << 20):
                total += len(chunk)
        except ConnectionResetError:
            pass
    assert total < int(headers["content-length"]) / 2
