"""Shared pieces for the client SDK and matcher tests.

- `reference_check`: the straightforward definition of "which listed target covers this item",
  which both matcher tables must agree with;
- `matcher_kind`: runs a test on the pure-Python table and on the C accelerator;
- `corpus_targets()`: the real piracy lists in ../shared/corpus/piracy-domains/ when that
  directory exists (third-party data, never copied into the repository);
- `feed_server`: a real HTTP server on 127.0.0.1 speaking the SPEC §4 feed protocol from an
  in-memory list, with switches for the failures a client must survive.
"""

import hashlib
import json
import random
import string
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sitealert.hosts import InvalidTarget, normalize_target, registrable_domain
from sitealert.matcher import core as matcher_core

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "piracy-domains"


def reference_check(targets, item):
    """Most specific listed target covering item, by the book: normalize, then try the name and
    each parent down to its registrable domain. `targets` is a set of canonical targets."""
    try:
        canonical = normalize_target(item)
    except InvalidTarget:
        return None
    if canonical.startswith(("android:", "ios:")):
        return canonical if canonical in targets else None
    labels = canonical.split(".")
    lowest = len(registrable_domain(canonical).split("."))
    for start in range(len(labels) - lowest + 1):
        candidate = ".".join(labels[start:])
        if candidate in targets:
            return candidate
    return None


def corpus_targets():
    """Canonical targets from the real lists, or [] when ../shared is not there."""
    targets = set()
    if CORPUS.is_dir():
        for path in sorted(CORPUS.glob("*.txt")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    targets.add(normalize_target(line))
                except InvalidTarget:
                    pass
    return sorted(targets)


def _label(rnd):
    return "".join(rnd.choice(string.ascii_lowercase + string.digits) for _ in range(rnd.randint(1, 12)))


SUFFIXES = ["com", "net", "org", "io", "co.uk", "com.br", "ru", "to", "xyz", "blogspot.com", "github.io",
            "amazonaws.com", "s3.amazonaws.com", "kawasaki.jp", "city.kawasaki.jp", "example"]


def synthetic_targets(rnd, count):
    """Registrable domains and some subdomains of them, under public and private suffixes."""
    targets = set()
    while len(targets) < count:
        name = _label(rnd) + "." + rnd.choice(SUFFIXES)
        if rnd.random() < 0.2:
            name = _label(rnd) + "." + name
        try:
            targets.add(normalize_target(name))
        except InvalidTarget:
            pass
    return sorted(targets)


def synthetic_queries(rnd, targets, count):
    """Listed names with 0-3 extra labels, their parents, and unrelated names, as hosts and URLs."""
    queries = []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.5:
            base = rnd.choice(targets)
        elif roll < 0.6:
            base = rnd.choice(targets).partition(".")[2] or "com"
        else:
            base = _label(rnd) + "." + rnd.choice(SUFFIXES)
        host = ".".join([_label(rnd) for _ in range(rnd.randint(0, 3))] + [base])
        form = rnd.random()
        if form < 0.6:
            queries.append(host)
        elif form < 0.8:
            queries.append(f"https://{host}/path?q=1")
        elif form < 0.85:
            queries.append(host.upper())
        elif form < 0.9:
            queries.append(f"http://{host}:8080")
        else:
            queries.append(host + ".")
    return queries


@pytest.fixture(params=["pure", "accelerated"])
def matcher_kind(request):
    """Keyword arguments for Matcher(...) selecting each table in turn."""
    if request.param == "accelerated" and matcher_core._speedups is None:
        pytest.skip("sitealert.matcher._speedups is not built (pip install needs a C compiler)")
    return {"accelerated": request.param == "accelerated"}


# --- a real feed server ------------------------------------------------------------------------


def checksum_of(targets):
    digest = hashlib.sha256()
    for target in sorted(targets):
        digest.update(target.encode("utf-8") + b"\n")
    return "sha256:" + digest.hexdigest()


def entry(target, countries=("FR",), categories=("streaming-video",)):
    return {
        "target": target,
        "kind": "app" if target.startswith(("android:", "ios:")) else "domain",
        "countries": list(countries),
        "categories": list(categories),
        "first_listed_at": "2026-01-02T03:04:05Z",
    }


class FeedState:
    """The server side: a list of versions, each a dict target -> entry, plus failure switches."""

    def __init__(self, token="good-token"):
        self.token = token
        self.versions = [{}]  # version 0 is empty
        self.retained_from = 0  # changes since N < retained_from answer 410
        self.requests = []  # (method, path, query, headers) of each request
        self.fail_next = []  # HTTP statuses to answer (in order) before behaving
        self.lie_about_checksum = False
        self.corrupt_changes = False
        self.delay = 0.0
        self.body_override = None  # (status, bytes) answered to every request

    @property
    def version(self):
        return len(self.versions) - 1

    def publish(self, add=(), remove=(), update=()):
        current = dict(self.versions[-1])
        for item in add:
            e = entry(item) if isinstance(item, str) else item
            current[e["target"]] = e
        for e in update:
            current[e["target"]] = e
        for target in remove:
            current.pop(target, None)
        self.versions.append(current)
        return self.version

    def full_document(self):
        current = self.versions[-1]
        checksum = "sha256:" + "0" * 64 if self.lie_about_checksum else checksum_of(current)
        return {"version": self.version, "checksum": checksum,
                "entries": [current[t] for t in sorted(current)]}

    def csv_document(self):
        """The full list as the server's csv (lists space-separated), with its version headers."""
        document = self.full_document()
        lines = ["target,kind,countries,categories,first_listed_at\n"]
        for e in document["entries"]:
            lines.append(f"{e['target']},{e['kind']},{' '.join(e['countries'])},{' '.join(e['categories'])},"
                         f"{e['first_listed_at'] or ''}\n")
        return "".join(lines).encode(), document["version"], document["checksum"]

    def changes_document(self, since):
        old, new = self.versions[since], self.versions[-1]
        changes = []
        for target in sorted(set(old) | set(new)):
            if target not in new:
                changes.append({"target": target, "kind": old[target]["kind"], "listed": False})
            elif old.get(target) != new[target]:
                changes.append({**new[target], "listed": True})
        if self.corrupt_changes and changes:
            changes = changes[1:]
        checksum = "sha256:" + "0" * 64 if self.lie_about_checksum else checksum_of(new)
        return {"since": since, "version": self.version, "checksum": checksum, "changes": changes,
                "more": False}


def _handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status, document=None, headers=(), content_type="application/json"):
            body = document if isinstance(document, bytes) else json.dumps(document or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            state.requests.append(("GET", url.path, query, dict(self.headers)))
            if state.delay:
                import time

                time.sleep(state.delay)
            if state.fail_next:
                status = state.fail_next.pop(0)
                return self._send(status, {"error": "try later"}, [("Retry-After", "0")])
            if state.body_override is not None:
                return self._send(*state.body_override)  # (status, body[, headers[, content type]])
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(401, {"error": "invalid_token", "detail": "Unknown or revoked token."})
            if url.path == "/api/v1/feed" and query.get("format") == ["csv"]:
                body, version, checksum = state.csv_document()
                return self._send(200, body, [("X-SiteAlert-Version", str(version)),
                                              ("X-SiteAlert-Checksum", checksum)], content_type="text/csv")
            if url.path == "/api/v1/feed":
                document = state.full_document()
            elif url.path == "/api/v1/feed/changes":
                try:
                    since = int(query["since"][0])
                except (KeyError, ValueError):
                    return self._send(400, {"error": "bad_since"})
                if since > state.version:
                    return self._send(400, {"error": "since_ahead", "version": state.version})
                if since < state.retained_from:
                    return self._send(410, {"error": "resync_required"})
                document = state.changes_document(since)
            else:
                return self._send(404, {"error": "not_found"})
            etag = f'"{hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send(200, document, [("ETag", etag)])

    return Handler


@pytest.fixture
def feed_server():
    """(base_url, FeedState) of a real HTTP server on 127.0.0.1 for the duration of a test."""
    state = FeedState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def rnd():
    return random.Random(20260101)
