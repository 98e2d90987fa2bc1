"""A real `sitealert serve` with a large feed, and clients that download it slowly.

Used by tests/cli/test_cli_serve_downloads.py, tests/cli/test_cli_serve_nginx.py and
benchmarks/bench_downloads.py. The server runs in a subprocess on loopback with its own SQLite
database under a temporary data directory; `prepare` bulk-inserts synthetic entries there (names
under the reserved .example and .test TLDs) and builds the feed's documents before the first
client asks, so that a download measures serving, not building.
"""

import getpass
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["films", "series", "live", "sport", "music", "anime", "books", "games", "stream", "watch"]


def target(i):
    return f"{WORDS[i % 10]}{i}.{'example' if i % 2 else 'test'}"


def prepare(entries):
    """Run inside a process with Django set up: migrate, make an authorized user with a feed token
    (printed), fill the aggregated list with `entries` synthetic domains and build its json and txt
    documents, plain and gzip. One process instead of a `sitealert` command for each step."""
    from datetime import UTC, datetime

    from django.db import transaction

    from sitealert.cli.server_handlers import CLI_ACTOR, cmd_migrate
    from sitealert.core import bulk
    from sitealert.feed import builder
    from sitealert.feed.models import FeedState
    from sitealert.organizations.services import create_organization, issue_token

    cmd_migrate(None)
    org = create_organization(kind="user", name="Ad Platform", country="", actor=CLI_ACTOR)
    print(issue_token(org, scope=None, name="", days=None, actor=CLI_ACTOR)[1])
    first = bulk.db_datetime(datetime(2024, 1, 1, tzinfo=UTC))
    rows = ((target(i), "domain", "IT,KR", "cyberlocker,streaming-video", first, 1) for i in range(entries))
    with transaction.atomic():
        bulk.insert_rows("feed_feedentry", ["target", "kind", "countries", "categories", "first_listed_at",
                                            "version"], list(rows))
        FeedState.objects.update_or_create(pk=1, defaults={"version": 1})
    builder.warm(("json", "txt"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.2)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Installation:
    """A data directory with a migrated database, a feed of `entries` domains and a feed token."""

    def __init__(self, data_dir, entries, env=(), source=ROOT):
        self.data_dir, self.source = Path(data_dir), Path(source)
        self.env = {k: v for k, v in os.environ.items() if k != "SITEALERT_DATABASE_URL"}
        self.env.update(SITEALERT_DATA_DIR=str(self.data_dir), SITEALERT_SECRET_KEY="test-serve-downloads",
                        SITEALERT_PUBLIC_CHECK_RATE="1000000", SITEALERT_API_RATE="1000000",
                        SITEALERT_ACCESS_LOG=str(self.data_dir / "access.log"),
                        PYTHONPATH=str(self.source), **dict(env))
        self.token = subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); "
             f"from tests.cli.serve_harness import prepare; prepare({entries})"],
            env={**self.env, "DJANGO_SETTINGS_MODULE": "sitealert.settings",
                 "PYTHONPATH": f"{self.source}{os.pathsep}{ROOT}"},
            cwd=self.source, check=True, capture_output=True, text=True, timeout=300).stdout.split()[-1]

    def serve(self, workers, *options):
        """Start `sitealert serve` with `options`; returns (process, port). The caller stops it with `stop`."""
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "sitealert", "serve", "--bind", f"127.0.0.1:{port}",
                                    "--workers", str(workers), *options], env=self.env, cwd=self.source,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, process)
        except RuntimeError:
            stop(process)
            raise RuntimeError("sitealert serve did not start: " + process.stderr.read().decode()[-2000:]) from None
        return process, port


def request(path, headers=()):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def split_head(data):
    """(status, {lower-case name: value}, rest) of a response's first bytes."""
    head, _sep, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def get(port, path, headers=(), timeout=30):
    """(status, headers, body) of a GET on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request(path, headers))
        parts = []
        while chunk := sock.recv(1 << 20):
            parts.append(chunk)
    return split_head(b"".join(parts))


def timed_check(port, timeout=30):
    """Seconds a public check takes on a new connection (inf if it did not answer within `timeout`)."""
    started = time.monotonic()
    try:
        status, _headers, body = get(port, "/api/v1/check?q=www.films0.test", timeout=timeout)
    except TimeoutError:
        return float("inf")
    assert status == 200 and json.loads(body)["target"] == "www.films0.test", body[:200]
    return time.monotonic() - started


def list_checksum(document, fmt):
    """The SPEC checksum of a feed document, computed from its targets."""
    if fmt == "json":
        targets = [entry["target"] for entry in json.loads(document)["entries"]]
    else:
        targets = document.decode().splitlines()
    return "sha256:" + hashlib.sha256("".join(t + "\n" for t in sorted(targets)).encode()).hexdigest()


class SlowDownload(threading.Thread):
    """A client that reads the feed at about `rate` bytes per second through a small receive
    buffer, until told to stop or (with `to_the_end`) until the whole document has come."""

    def __init__(self, port, token, rate, path="/api/v1/feed?format=json", to_the_end=False):
        super().__init__(daemon=True)
        self.port, self.token, self.rate, self.path, self.to_the_end = port, token, rate, path, to_the_end
        self.stopping = threading.Event()
        self.started_reading = threading.Event()
        self.received = 0
        self.status = self.headers = self.body = self.error = None
        self.seconds = None

    def run(self):
        step = 16 * 1024
        started = time.monotonic()
        try:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, step)
                sock.settimeout(60)
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(request(self.path, [f"Authorization: Bearer {self.token}",
                                                 "Accept-Encoding: identity"]))
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(step)
                self.status, self.headers, rest = split_head(data)
                parts = [rest]
                self.received = len(rest)
                self.started_reading.set()
                while not self.stopping.is_set():
                    chunk = sock.recv(step)
                    if not chunk:
                        break
                    self.received += len(chunk)
                    if self.to_the_end:
                        parts.append(chunk)
                    time.sleep(max(0.0, started + self.received / self.rate - time.monotonic()))
                if self.to_the_end:
                    self.body = b"".join(parts)
        except OSError as exc:
            self.error = exc
        finally:
            self.seconds = time.monotonic() - started
            self.started_reading.set()


NGINX = "/usr/sbin/nginx"
ACCEL_PREFIX = "/_sitealert/feed-cache/"
DOCUMENTED_CACHE = "/srv/sitealert/var/feed-cache/"


def documented_locations():
    """The nginx block of docs/production.md that holds SiteAlert's locations."""
    blocks = re.findall(r"```nginx\n(.*?)```", (ROOT / "docs" / "production.md").read_text(), re.S)
    [block] = [b for b in blocks if b.startswith("# /etc/nginx/snippets/sitealert.conf")]
    assert DOCUMENTED_CACHE in block and ACCEL_PREFIX in block
    return block


def start_nginx(directory, app_port, cache_dir):
    """Debian's nginx, unprivileged in `directory`, on a free loopback port, in front of `app_port` with
    the documented locations; returns (process, port)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitealert.conf").write_text(documented_locations().replace(DOCUMENTED_CACHE, f"{cache_dir}/"))
    upstream = f"""
    upstream sitealert {{
        server 127.0.0.1:{app_port};
        keepalive 4;
    }}"""
    return run_nginx(directory, f"server_name 127.0.0.1;\n        include {directory}/sitealert.conf;", upstream)


def run_nginx(directory, server, http_extra=""):
    """Debian's nginx, unprivileged in `directory` (which exists), on a free loopback port, with one
    server whose block holds `server` (and `http_extra` in the http block); returns (process, port)."""
    directory = Path(directory)
    port = free_port()
    temporary = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temporary.values():
        path.mkdir()
    (directory / "nginx.conf").write_text(f"""
user {getpass.getuser()};
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {temporary["body"]};
    proxy_temp_path {temporary["proxy"]};
    fastcgi_temp_path {temporary["fastcgi"]};
    uwsgi_temp_path {temporary["uwsgi"]};
    scgi_temp_path {temporary["scgi"]};{http_extra}
    server {{
        listen 127.0.0.1:{port};
        {server}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-c", str(directory / "nginx.conf"), "-p", str(directory),
                                "-e", str(directory / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, process, seconds=20)
    except RuntimeError:
        stop(process)
        raise RuntimeError("nginx did not start: " + process.stderr.read().decode()[-2000:]) from None
    return process, port
