"""Loopback servers that stand in for the Internet in monitoring tests and benchmarks.

- `DNSServer`: a UDP DNS server (dnspython) answering A/AAAA for names under `.test`.
- `SiteServer`: an HTTP(S) server whose behaviour depends on the Host header: answer, hang,
  reset the connection, redirect (in a loop, to another name, to a literal address), send a
  huge body, fail with a status.
- `TrapServer`: a listener that only counts connections: put it where no probe may go.
- `Harness`: all of them together; `settings()` gives the MONITOR_* settings that point a worker
  at them (for the `settings` fixture), `env()` the same as SITEALERT_MONITOR_* environment
  variables (for `sitealert worker` processes).
- `ScratchDatabase`: a migrated database of its own for `sitealert` subprocesses (workers under
  test or benchmark): SQLite in a directory, or a new PostgreSQL database on the server that
  SITEALERT_DATABASE_URL names; a copy of the one `sitealert migrate` made once (tests/migrated.py).

The web servers listen on 127.0.0.2, the one network a test allows (MONITOR_ALLOW_NETWORKS);
traps listen on 127.0.0.1 on the same ports, so a probe that wrongly follows a redirect or a DNS
answer to 127.0.0.1 is caught there.
"""

import collections
import http.server
import ipaddress
import os
import secrets
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from tests import migrated

SITE_ADDRESS = "127.0.0.2"
TRAP_ADDRESS = "127.0.0.1"
DROP = "drop"

Request = collections.namedtuple("Request", "host path user_agent at")


class DNSServer:
    """Answers A/AAAA queries from `records`; any other name under `.test` gets `default_a`."""

    def __init__(self, host=TRAP_ADDRESS, default_a=SITE_ADDRESS):
        self.host, self.default_a = host, default_a
        self.records = {}
        self.queries = collections.Counter()
        self._sock = None
        self._thread = None

    def add(self, name, a=(), aaaa=()):
        self.records[name] = {"A": list(a), "AAAA": list(aaaa)}

    def add_dynamic(self, name, answer):
        """answer(rdtype, n) -> addresses for the n-th query (from 1) of that type, or None for NXDOMAIN."""
        self.records[name] = answer

    def nxdomain(self, name):
        self.records[name] = None

    def drop(self, name):
        """Never answer queries for `name` (a resolver timeout)."""
        self.records[name] = DROP

    def lookup(self, name, rdtype):
        self.queries[(name, rdtype)] += 1
        entry = self.records.get(name, "default")
        if entry == "default":
            if not name.endswith(".test") or self.default_a is None:
                return None
            return [self.default_a] if rdtype == "A" else []
        if entry is None or entry == DROP:
            return entry
        if callable(entry):
            return entry(rdtype, self.queries[(name, rdtype)])
        return entry.get(rdtype, [])

    def answer(self, wire):
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        addresses = self.lookup(name, rdtype) if rdtype in ("A", "AAAA") else []
        if addresses == DROP:
            return None
        if addresses is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif addresses:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", rdtype, *addresses))
        return response.to_wire()

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._sock.settimeout(0.1)
        self._stopping = threading.Event()
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="harness-dns", daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        while not self._stopping.is_set():
            try:
                wire, client = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self.answer(wire)
            except Exception:  # a malformed query gets no answer, as from a real server
                continue
            if reply is not None:
                self._sock.sendto(reply, client)

    def stop(self):
        if self._sock is not None:
            self._stopping.set()
            self._thread.join(timeout=2)
            self._sock.close()


# --- site behaviours: each writes the response for one request --------------------------------

def ok(body=b"<!doctype html><title>ok</title>online\n"):
    def behave(handler):
        handler.respond(200, body, content_type="text/html")
    return behave


def status(code):
    def behave(handler):
        handler.respond(code, b"failing\n")
    return behave


def redirect(location, code=301):
    def behave(handler):
        handler.respond(code, b"", headers={"Location": location})
    return behave


def redirect_loop():
    def behave(handler):
        step = int(handler.path.rsplit("/", 1)[-1] or 0) if handler.path.startswith("/loop/") else 0
        handler.respond(302, b"", headers={"Location": f"/loop/{step + 1}"})
    return behave


def slow(seconds):
    def behave(handler):
        handler.server.site.stopping.wait(seconds)
        handler.respond(200, b"late\n")
    return behave


def reset():
    def behave(handler):
        # SO_LINGER 0 turns close() into a TCP RST.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True
    return behave


def huge(total=256 * 1024 * 1024, chunk=64 * 1024):
    def behave(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        block = b"x" * chunk
        sent = 0
        try:
            while sent < total:
                handler.wfile.write(block)
                sent += chunk
        except OSError:
            pass
        finally:
            handler.server.site.body_bytes[handler.host] += sent
    return behave


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "harness"
    sys_version = ""

    def do_GET(self):
        self.host = (self.headers.get("Host") or "").split(":")[0].lower()
        site = self.server.site
        site.requests.append(Request(self.host, self.path, self.headers.get("User-Agent", ""), time.monotonic()))
        site.sites.get(self.host, site.default)(self)

    do_HEAD = do_GET

    def respond(self, code, body, content_type="text/plain", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):
        pass


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, size limits) are part of the tests


class SiteServer:
    """An HTTP server on `host`; `sites[hostname]` decides how each request is answered."""

    def __init__(self, host=SITE_ADDRESS, port=0, tls_context=None):
        self.host, self.port, self.tls_context = host, port, tls_context
        self.sites = {}
        self.requests = []  # Request tuples, in arrival order
        self.default = ok()
        self.stopping = threading.Event()
        self.body_bytes = collections.Counter()  # host -> bytes sent by huge()
        self._server = None

    def start(self):
        self._server = _HTTPServer((self.host, self.port), _Handler)
        if self.tls_context is not None:
            self._server.socket = self.tls_context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._server.site = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"harness-http-{self.port}", daemon=True).start()
        return self

    def hits(self, host):
        return [r for r in self.requests if r.host == host]

    def stop(self):
        if self._server is not None:
            self.stopping.set()
            self._server.shutdown()
            self._server.server_close()


class TrapServer:
    """Accepts and records connections: no probe may ever arrive here."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.connections = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))

    def start(self):
        self._sock.listen(64)
        threading.Thread(target=self._serve, name=f"harness-trap-{self.port}", daemon=True).start()
        return self

    def _serve(self):
        while True:
            try:
                conn, client = self._sock.accept()
            except OSError:
                return
            self.connections.append(client)
            conn.close()

    def stop(self):
        self._sock.close()


def _free_port_pair():
    """A port free on both the site address and the trap address."""
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind((SITE_ADDRESS, 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            trap = TrapServer(TRAP_ADDRESS, port)
        except OSError:
            continue
        return port, trap
    raise RuntimeError("no free port pair on 127.0.0.1/127.0.0.2")


class Harness:
    """DNS + HTTP (+ HTTPS with a self-signed certificate) + traps, all on loopback."""

    def __init__(self, certfile=None, keyfile=None):
        self.dns = DNSServer()
        self.certfile, self.keyfile = certfile, keyfile
        self.http = self.https = None
        self.traps = []

    def start(self):
        self.dns.start()
        port, trap = _free_port_pair()
        self.http = SiteServer(SITE_ADDRESS, port).start()
        self.traps.append(trap.start())
        if self.certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certfile, self.keyfile)
            port, trap = _free_port_pair()
            self.https = SiteServer(SITE_ADDRESS, port, tls_context=context)
            self.https.sites = self.http.sites
            self.https.start()
            self.traps.append(trap.start())
        return self

    def stop(self):
        for server in (self.http, self.https):
            if server is not None:
                server.stop()
        for trap in self.traps:
            trap.stop()
        self.dns.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def trapped(self):
        return [c for trap in self.traps for c in trap.connections]

    def settings(self, **overrides):
        """The MONITOR_* settings, as settings.SITEALERT holds them, that send probes here and nowhere
        else; `overrides` by short name, e.g. settings(CONCURRENCY=8)."""
        values = {
            "RESOLVERS": [(self.dns.host, self.dns.port)],
            "HTTP_PORT": self.http.port,
            "HTTPS_PORT": (self.https or self.http).port,
            "ALLOW_NETWORKS": (ipaddress.ip_network(f"{SITE_ADDRESS}/32"),),
            "SCHEMES": ("http",),
            "POLITENESS_DELAY": 0.0,
            "DNS_TIMEOUT": 1.0,
            "CONNECT_TIMEOUT": 1.0,
            "TOTAL_TIMEOUT": 3.0,
        }
        values.update({name.upper(): value for name, value in overrides.items()})
        return {"MONITOR_" + name: value for name, value in values.items()}

    def env(self, **overrides):
        """The same settings as SITEALERT_MONITOR_* environment variables, for `sitealert worker` processes."""
        return {"SITEALERT_" + name: _as_variable(value) for name, value in self.settings(**overrides).items()}


def _as_variable(value):
    """A setting's value written as its environment variable: lists comma-separated, (address, port) as address:port."""
    if isinstance(value, (list, tuple)):
        return ",".join(":".join(map(str, item)) if isinstance(item, tuple) else str(item) for item in value)
    return str(value)


class ScratchDatabase:
    """A fresh, migrated database for `sitealert` subprocesses; `run()` runs the CLI against it."""

    def __init__(self, directory, database_url=None):
        self.directory = str(directory)
        self.base_url = database_url
        self.url = None

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.drop()

    def create(self):
        """Make the database: a copy of the one `sitealert migrate` made once (tests/migrated.py)."""
        if self.base_url:
            self.url = migrated.postgresql(self.base_url, f"sitealert_scratch_{secrets.token_hex(4)}")
        else:
            migrated.sqlite(self.directory)
        return self

    def drop(self):
        if self.url:
            import psycopg

            name = urlparse(self.url).path.lstrip("/")
            with psycopg.connect(self.base_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.url = None

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if k != "SITEALERT_DATABASE_URL"}
        env.update({"SITEALERT_DATA_DIR": self.directory, "DJANGO_SETTINGS_MODULE": "sitealert.settings"})
        if self.url:
            env["SITEALERT_DATABASE_URL"] = self.url
        env.update(extra or {})
        return env

    def command(self, *args):
        return [sys.executable, "-m", "sitealert", *args]

    def run(self, *args, env=None, input=None):
        """Run `sitealert ARGS…` to completion; return its standard output."""
        done = subprocess.run(self.command(*args), env=self.env(env), input=input, capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"sitealert {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, *args, env=None):
        """Start `sitealert ARGS…` in the background."""
        return subprocess.Popen(self.command(*args), env=self.env(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def query(self, sql):
        """Rows of one SQL statement (no parameters), committed."""
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                cursor = conn.execute(sql)
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(os.path.join(self.directory, "sitealert.sqlite3"), timeout=30)
        try:
            with conn:
                cursor = conn.execute(sql)
                return cursor.fetchall()
        finally:
            conn.close()
