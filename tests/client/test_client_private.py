"""PrivateChecker against the real server and a signed static tree: the same answers as /api/v1/lookup,
and the items never reach the server (issue 15, private lookup)."""

import functools
import hashlib
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from sitealert.client import MirrorFrozen, MirrorIncomplete, MirrorVerificationError, ServerError
from sitealert.client.private import PrivateChecker
from sitealert.feed import private
from sitealert.hosts import InvalidTarget, item_candidates
from sitealert.listings.services import remove_listings

from .conftest import synthetic_queries, synthetic_targets
from .test_client_live_server import HOSTILE

pytestmark = pytest.mark.django_db(transaction=True)

APPS = ["android:com.Example.Player", "ios:389801252", "android:org.pirate.tv"]
UNLISTED_APPS = ["android:com.example.player", "ios:1", "https://apps.apple.com/fr/app/x/id389801252",
                 "https://play.google.com/store/apps/details?id=org.pirate.tv"]


@pytest.fixture
def held_out(italy, list_targets, settings):
    """A synthetic list the server holds, and a mixed sample of items to ask about."""
    settings.SITEALERT = {**settings.SITEALERT, "PRIVATE_LOOKUP_RATE": 100_000}
    rnd = random.Random(15)
    targets = synthetic_targets(rnd, 150) + APPS
    list_targets(italy, targets)
    items = (HOSTILE + APPS + UNLISTED_APPS + synthetic_queries(rnd, targets, 200)
             + [f"https://www.{t}/watch/{n}?v=1#t" for n, t in enumerate(targets[:20])])
    return targets, items


def lookup(server, token, items):
    response = httpx.post(f"{server}/api/v1/lookup", json={"items": items},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    response.raise_for_status()
    return response.json()


class Recorder:
    """A reverse proxy in front of the server that keeps every request it passes on, whole."""

    def __init__(self, upstream):
        self.upstream, self.requests = upstream, []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append(f"{self.requestline}\n{self.headers}\n".encode() + body)
                answer = httpx.get(recorder.upstream + self.path, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")})
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def clear_forms(items):
    """Every item, its canonical target and each candidate the checker hashes, as they would appear."""
    forms = set()
    for item in items:
        if item.strip():
            forms.add(item.strip().lower())
        try:
            target, covering = item_candidates(item)
        except InvalidTarget:
            continue
        forms.update([target, *covering])
    return {form for form in forms if len(form) >= 4} - {"127.0.0.1"}  # the server's own address, in Host


@pytest.mark.slow
def test_private_checker_answers_like_the_lookup_and_the_server_never_sees_an_item(live_server, held_out,
                                                                                      adco_token):
    targets, items = held_out
    recorder = Recorder(live_server.url)
    try:
        with PrivateChecker(recorder.url, retries=1, backoff=0.05) as checker:
            mine = checker.check_many(items)
            assert checker.check(items[0]) == mine[0]
    finally:
        recorder.close()
    answer = lookup(live_server.url, adco_token, items)
    theirs = [result["matched"] for result in answer["results"]]
    assert [m.target if m else None for m in mine] == theirs
    assert sum(t is not None for t in theirs) > 80 and theirs.count(None) > 80
    assert checker.version == answer["version"]

    # Every request the server saw: prefixes only.
    assert recorder.requests and checker.requests == len(recorder.requests)
    seen = b"\n".join(recorder.requests).decode("latin-1").lower()
    leaked = [form for form in clear_forms(items) | {t.lower() for t in targets} if form in seen]
    assert leaked == []
    for request in recorder.requests:
        line = request.split(b"\n", 1)[0].decode()
        assert line.startswith("GET /api/v1/hashes/") and len(line.split()[1]) == len("/api/v1/hashes/") + 4


def test_answers_are_kept_per_prefix_and_refreshed_with_the_version(live_server, italy, list_targets, as_actor):
    list_targets(italy, ["kept.example"])
    with PrivateChecker(live_server.url, retries=0) as checker:
        assert checker.check("www.kept.example").target == "kept.example"
        asked, version = checker.requests, checker.version
        assert checker.check("kept.example").target == "kept.example"
        assert checker.requests == asked  # the same prefixes, answered from memory
        remove_listings(italy, ["kept.example"], "Annulled", actor=as_actor(italy))
        assert checker.check("kept.example").target == "kept.example"  # kept for max_age
        checker.refresh()
        assert checker.check("kept.example") is None and checker.version > version
        list_targets(italy, ["later.example"])
        version = checker.version
        # A new prefix comes at the newer version: the answers kept are asked again at it.
        assert [m and m.target for m in checker.check_many(["kept.example", "later.example"])] == [
            None, "later.example"]
        assert checker.version > version


def test_a_rate_limited_checker_says_so(live_server, italy, list_targets, settings):
    settings.SITEALERT = {**settings.SITEALERT, "PRIVATE_LOOKUP_RATE": 1}
    with PrivateChecker(live_server.url, retries=0) as checker, pytest.raises(ServerError, match="429"):
        checker.check_many(["a.example", "b.c.example", "d.example"])


# -- a signed static tree ------------------------------------------------------------------------


def publish_tree(directory, files, *, expires=None):
    """A minimal TUF tree (consistent snapshots) with `files` under the delegated role "hashes", as
    `sitealert publish` lays it out (docs/distribution.md); returns the root file."""
    signer = CryptoSigner.generate_ed25519()
    key = signer.public_key
    expires = expires or datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    root = Metadata(Root(expires=expires, consistent_snapshot=True))
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.signed.add_key(key, role)
    hashes = Metadata(Targets(expires=expires))
    for path, data in files.items():
        target = TargetFile.from_data(path, data, ["sha256"])
        hashes.signed.targets[path] = target
        folder, name = path.rsplit("/", 1)
        stored = directory / "targets" / folder / f"{target.hashes['sha256']}.{name}"
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(data)
    targets = Metadata(Targets(expires=expires))
    targets.signed.delegations = Delegations(keys={key.keyid: key}, roles={"hashes": DelegatedRole(
        "hashes", [key.keyid], 1, False, paths=["hashes/*", "hashes/*/*/*"])})
    snapshot = Metadata(Snapshot(expires=expires))
    snapshot.signed.meta = {"targets.json": MetaFile(1), "hashes.json": MetaFile(1)}
    timestamp = Metadata(Timestamp(expires=expires))
    metadata = directory / "metadata"
    metadata.mkdir(parents=True)
    for name, document in [("1.root.json", root), ("root.json", root), ("1.targets.json", targets),
                           ("1.hashes.json", hashes), ("1.snapshot.json", snapshot), ("timestamp.json", timestamp)]:
        document.sign(signer)
        document.to_file(str(metadata / name))
    return metadata / "1.root.json"


@pytest.fixture
def static_server(tmp_path):
    """(url, requests) of a plain static file server over tmp_path/tree."""
    served = tmp_path / "tree"
    served.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            requests.append(self.requestline)
            return super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served, requests
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_a_mirror_checker_reads_verified_shards_and_answers_the_same(live_server, held_out, static_server,
                                                                     tmp_path):
    targets, items = held_out
    url, tree, requests = static_server
    root = publish_tree(tree, dict(private.static_shards()))
    with PrivateChecker(live_server.url, retries=0) as endpoint:
        expected = endpoint.check_many(items)
    with PrivateChecker(mirror=url, root=root, directory=tmp_path / "client") as checker:
        assert checker.check_many(items) == expected
    seen = "\n".join(requests).lower()
    assert [form for form in clear_forms(items) if form in seen] == []
    assert (tmp_path / "client" / "tuf" / "timestamp.json").exists()


@pytest.mark.parametrize("attack", ["modify", "drop"])
def test_a_modified_or_dropped_shard_is_refused_never_read_as_unlisted(live_server, held_out, static_server,
                                                                       tmp_path, attack):
    targets, _items = held_out
    url, tree, _requests = static_server
    shards = dict(private.static_shards())
    root = publish_tree(tree, shards)
    digits = json.loads(shards["hashes/current.json"])["prefix_hex"]
    digest = hashlib.sha256(targets[0].encode()).hexdigest()
    [shard] = (tree / "targets" / "hashes").glob(f"*/*/*.{digest[:digits]}")
    if attack == "modify":
        shard.write_bytes(shard.read_bytes().replace(digest.encode(), b"0" * 64))  # hide a listed target
    else:
        shard.unlink()
    refusal = (MirrorVerificationError, "modified or truncated") if attack == "modify" else (MirrorIncomplete, "lacks")
    with PrivateChecker(mirror=url, root=root, directory=tmp_path / "client") as checker, \
            pytest.raises(refusal[0], match=refusal[1]):
        checker.check(targets[0])


def test_an_expired_mirror_is_refused(live_server, held_out, static_server, tmp_path):
    url, tree, _requests = static_server
    root = publish_tree(tree, dict(private.static_shards()),
                        expires=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    with PrivateChecker(mirror=url, root=root, directory=tmp_path / "client") as checker, \
            pytest.raises(MirrorFrozen, match="stopped updating"):
        checker.check("example.com")


def test_bad_arguments_are_refused_before_any_request():
    with pytest.raises(ValueError, match="either"):
        PrivateChecker()
    with pytest.raises(ValueError, match="root"):
        PrivateChecker(mirror="https://cdn.example/")
    with pytest.raises(TypeError):
        PrivateChecker("http://127.0.0.1:9").check_many([b"bytes.example"])
    with pytest.raises(ValueError, match="http"):
        PrivateChecker("ftp://x.example")
