"""Mirror syncs at the edges nobody attacks on purpose: a mirror that lags behind, a list restored
to an older version (the same epoch: a restore with nothing left to compare with), a mirror that
trickles a file slowly without ever stalling, two processes syncing one replica at once.

Each leaves the replica at a verified version: never moved backwards, never half written."""

import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import transaction
from tuf.api.metadata import Metadata, Timestamp

from sitealert.client import MirrorRollback, MirrorVerificationError, Replica, ServerUnreachable, SyncInProgress
from sitealert.core.conf import setting
from sitealert.distribution import keys
from sitealert.distribution.publish import publish
from sitealert.feed import builder
from sitealert.feed.models import FeedState, new_epoch
from sitealert.feed.state import published

from .mirror_harness import replica_files

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def current():
    return builder.current_version(), builder.cached_feed("txt")[1]


def assert_unchanged(replica_dir, before, version, checksum):
    """The replica's list, files and manifest as they were (its tuf/ may hold newer genuine metadata)."""
    assert replica_files(replica_dir, with_metadata=False) == before
    replica = Replica(replica_dir)
    assert (replica.version, replica.checksum, replica.damaged) == (version, checksum, None)
    replica.verify()


def test_a_lagging_mirror_is_refused_and_the_next_one_is_tried(italy, list_targets, tree, nginx, tampering,
                                                               root_file, replica_dir, tmp_path):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    lagging = tmp_path / "lagging"
    shutil.copytree(tree, lagging)  # a second mirror that stopped copying at version 1
    list_targets(italy, ["series.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=nginx.url, root=root_file)
    version, checksum = current()
    tampering.serve_from(lagging)
    before = replica_files(replica_dir, with_metadata=False)
    with pytest.raises(MirrorRollback, match="older than what this client has already verified"):
        Replica(replica_dir).sync(mirror=tampering.url)
    assert_unchanged(replica_dir, before, version, checksum)

    list_targets(italy, ["music.test"])
    publish(str(tree))
    result = Replica(replica_dir).sync(mirror=[tampering.url, nginx.url])
    assert (result.mode, result.added, result.new_version) == ("incremental", ("music.test",), current()[0])
    assert len(result.failed_mirrors) == 1 and "rollback" in result.failed_mirrors[0]


@pytest.fixture
def restored(italy, list_targets, tree, nginx, root_file, replica_dir):
    """A replica at version 2, then the list restored to version 1 in the same epoch (a restore with
    nothing left to compare with: database and feed cache lost together) and republished: the signed
    metadata is newer than the replica's, the list in it older. Returns (version, checksum) of the
    replica."""
    list_targets(italy, ["films.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=nginx.url, root=root_file)
    backup = transaction.savepoint()
    list_targets(italy, ["series.example"])
    publish(str(tree))
    replica.sync(mirror=nginx.url)
    held = replica.version, replica.checksum
    assert held == current() and held[0] == 2
    transaction.savepoint_rollback(backup)
    published()  # as `restore` does: the processes read the list's state again
    shutil.rmtree(setting("FEED_CACHE_DIR"))
    publish(str(tree))
    assert builder.current_version() == 1
    return held


def test_a_signed_list_older_than_the_replica_is_refused_as_a_rollback(restored, nginx, replica_dir):
    before = replica_files(replica_dir, with_metadata=False)
    with pytest.raises(MirrorRollback, match="older than the replica's 2: .* a full sync takes it"):
        Replica(replica_dir).sync(mirror=nginx.url)
    assert_unchanged(replica_dir, before, *restored)
    # Taking the older list is the operator's call (docs/client.md): --full.
    replica = Replica(replica_dir)
    result = replica.sync(mirror=nginx.url, full=True)
    assert (result.mode, result.removed, replica.version, replica.checksum) == ("full", ("series.example",), *current())


def test_the_replicas_version_with_another_checksum_means_the_full_list(restored, italy, list_targets, tree,
                                                                        nginx, replica_dir):
    list_targets(italy, ["music.test"])  # version 2 again, with other entries than the replica's 2
    publish(str(tree))
    version, checksum = current()
    assert version == restored[0] and checksum != restored[1]
    nginx.forget()
    replica = Replica(replica_dir)
    result = replica.sync(mirror=nginx.url)
    assert result.mode == "full" and "does not have the replica's checksum" in result.reason
    assert (result.added, result.removed) == (("music.test",), ("series.example",))
    assert (replica.version, replica.checksum) == (version, checksum)
    replica.verify()
    assert replica.check("films.example") and replica.check("music.test") and not replica.check("series.example")
    assert [p for s, p in nginx.requests() if s == "200" and "/targets/lists/" in p]


def test_a_new_epoch_means_the_full_list(italy, list_targets, tree, nginx, root_file, replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=nginx.url, root=root_file)
    # What `sitealert restore` of an older backup does to the list: a new epoch, a version past every
    # one clients may hold (operations.backup.restore).
    version = builder.current_version() + 1
    FeedState.objects.filter(pk=1).update(version=version, pruned_through=version, epoch=new_epoch())
    list_targets(italy, ["music.test"])
    publish(str(tree))
    result = replica.sync(mirror=nginx.url)
    assert result.mode == "full" and "the list was reset since" in result.reason
    assert result.added == ("music.test",) and (replica.version, replica.checksum) == current()
    replica.verify()
    assert Replica(replica_dir).sync(mirror=nginx.url).mode == "unchanged"


@pytest.mark.django_db(transaction=True)
def test_a_replica_switches_between_the_api_and_a_mirror_with_one_full_download(
        live_server, italy, list_targets, adco_token, tree, nginx, root_file, replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(url=live_server.url, token=adco_token)
    to_mirror = replica.sync(mirror=nginx.url, root=root_file)
    assert to_mirror.mode == "full" and "not read from a signed mirror" in to_mirror.reason
    assert (replica.version, replica.checksum, replica.server) == (*current(), nginx.url)
    list_targets(italy, ["series.example"])
    publish(str(tree))
    back = replica.sync(url=live_server.url, token=adco_token)
    assert (back.mode, back.added) == ("full", ("series.example",)) and "another server" in back.reason
    assert (replica.version, replica.checksum) == current()
    replica.verify()


def test_pinning_root_1_on_every_run_keeps_a_rotation_a_mirror_hides(italy, list_targets, tree, tampering,
                                                                     keys_dir, root_file, replica_dir):
    """A cron job that passes --root 1.root.json each time re-pins root 1; the rotation it has seen
    (kept in tuf/root_history/) still holds when a mirror hides root 2 and signs with the old key."""
    list_targets(italy, ["films.example"])
    publish(str(tree))
    Replica(replica_dir).sync(mirror=tampering.url, root=root_file)
    stolen = keys.load_signer(str(keys_dir), "timestamp", keys.current_root(str(keys_dir)))
    keys.rotate("timestamp")
    publish(str(tree))
    Replica(replica_dir).sync(mirror=tampering.url, root=root_file)
    forged = Metadata[Timestamp].from_bytes((tree / "metadata" / "timestamp.json").read_bytes())
    forged.signed.version += 1
    forged.signatures.clear()
    forged.sign(stolen)
    tampering.drop(r"/metadata/2\.root\.json")
    tampering.replace(r"timestamp\.json", forged.to_bytes())
    before = replica_files(replica_dir, with_metadata=False)
    with pytest.raises(MirrorVerificationError, match="not signed by the keys the trusted root names"):
        Replica(replica_dir).sync(mirror=tampering.url, root=root_file)
    assert_unchanged(replica_dir, before, *current())


class TricklingMirror:
    """A proxy in front of `upstream` that sends the files matching `pattern` a few bytes at a time,
    `gap` seconds apart (never long enough for a stall timeout), taking `seconds` for each; with
    `cut`, it closes the connection once that fraction of the file is sent."""

    def __init__(self, upstream, pattern, seconds, gap, cut=None):
        self.upstream = upstream.rstrip("/")
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                try:
                    with urllib.request.urlopen(mirror.upstream + self.path, timeout=30) as response:  # noqa: S310
                        status, body = response.status, response.read()
                except urllib.error.HTTPError as exc:  # the next root version that does not exist yet
                    status, body = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 200 or not re.search(pattern, self.path):
                    self.wfile.write(body)
                    return
                pieces = max(1, int(seconds / gap))
                size = -(-len(body) // pieces)
                try:
                    for start in range(0, len(body), size):
                        if cut is not None and start >= len(body) * cut:
                            self.close_connection = True
                            return
                        self.wfile.write(body[start:start + size])
                        self.wfile.flush()
                        time.sleep(gap)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what the test expects

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_mirror_that_trickles_a_list_is_given_up_at_the_whole_file_deadline(italy, list_targets, tree, nginx,
                                                                               root_file, replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=nginx.url, root=root_file)
    version, checksum = current()
    list_targets(italy, [f"site{i}.example" for i in range(300)])
    publish(str(tree))
    timeout = 0.25  # the deadline for a whole file is 20 times that: 5 s
    trickling = TricklingMirror(nginx.url, r"/targets/lists/", seconds=20, gap=0.05)
    try:
        before = replica_files(replica_dir, with_metadata=False)
        started = time.monotonic()
        with pytest.raises(ServerUnreachable, match="still downloading after 5 s"):
            replica.sync(mirror=trickling.url, full=True, timeout=timeout)
        elapsed = time.monotonic() - started
    finally:
        trickling.close()
    assert 5 <= elapsed < 10, elapsed  # the whole 20 s before the deadline was checked as bytes arrive
    assert_unchanged(replica_dir, before, version, checksum)
    assert not [p for p in replica_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_connection_cut_mid_file_is_given_up_and_the_next_mirror_tried(italy, list_targets, tree, nginx,
                                                                         root_file, replica_dir):
    list_targets(italy, [f"site{i}.example" for i in range(300)])
    publish(str(tree))
    cutting = TricklingMirror(nginx.url, r"/targets/lists/", seconds=0.5, gap=0.01, cut=0.5)
    try:
        with pytest.raises(ServerUnreachable, match="broke off"):
            Replica(replica_dir).sync(mirror=cutting.url, root=root_file)
        assert not (replica_dir / "MANIFEST.json").exists()
        replica = Replica(replica_dir)
        result = replica.sync(mirror=[cutting.url, nginx.url])
    finally:
        cutting.close()
    assert result.mode == "full" and "broke off" in result.failed_mirrors[0]
    assert (replica.version, replica.checksum) == current()
    assert not [p for p in replica_dir.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_syncing_one_replica_never_mix(italy, list_targets, tree, nginx, tampering, root_file,
                                                     replica_dir):
    list_targets(italy, [f"site{i}.example" for i in range(50)])
    publish(str(tree))
    downloading, release = threading.Event(), threading.Event()

    def hold(body):  # the first sync holds the replica's lock until the second has tried
        downloading.set()
        release.wait(60)
        return 200, body

    tampering.rules.append((r"/targets/lists/", hold))
    first = subprocess.Popen([sys.executable, "-m", "sitealert", "sync", "--mirror", tampering.url, "--root",
                              str(root_file), "--replica", str(replica_dir), "-q"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert downloading.wait(60), "the first sync never asked for the list"
        before = replica_files(replica_dir)
        with pytest.raises(SyncInProgress, match="another process is syncing the replica"):
            Replica(replica_dir).sync(mirror=nginx.url, root=root_file)
        second = subprocess.run([sys.executable, "-m", "sitealert", "sync", "--mirror", nginx.url, "--replica",
                                 str(replica_dir)], cwd=REPO, capture_output=True, timeout=120)
        assert second.returncode == 1 and b"another process is syncing the replica" in second.stderr
        assert replica_files(replica_dir) == before
        release.set()
        _out, err = first.communicate(timeout=120)
    finally:
        release.set()
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err.decode()
    replica = Replica(replica_dir)
    replica.verify()
    assert (replica.version, replica.checksum, replica.damaged) == (*current(), None)
    assert replica.check("site7.example")
    assert Replica(replica_dir).sync(mirror=nginx.url).mode == "unchanged"
    assert not [p for p in replica_dir.iterdir() if p.name.endswith(".tmp")]
