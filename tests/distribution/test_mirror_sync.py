"""A replica kept current from a published tree served by Debian's nginx: from scratch, by one delta,
in full when no delta reaches its version, idle polls that download only the timestamp, and
mirrors tried in order."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sitealert.client import MirrorVerificationError, Replica, ServerUnreachable
from sitealert.distribution.publish import publish
from sitealert.feed import builder
from sitealert.listings.services import remove_listings

from .mirror_harness import TamperingMirror

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def downloaded(nginx):
    return [path for status, path in nginx.requests() if status == "200"]


def test_a_replica_syncs_from_scratch_then_by_one_delta(italy, list_targets, as_actor, tree, nginx, root_file,
                                                        replica_dir):
    list_targets(italy, ["films.example", "music.test", "android:com.pirate.app"])
    publish(str(tree))
    replica = Replica(replica_dir)
    first = replica.sync(mirror=nginx.url, root=root_file)
    version, checksum, _txt = builder.cached_feed("txt")
    assert (first.mode, first.reason, replica.version, replica.checksum) == ("full", "new replica", version, checksum)
    assert replica.check("https://www.films.example/watch").target == "films.example"
    assert replica.check("android:com.pirate.app") and not replica.check("example.org")
    assert any("/targets/lists/" in path and path.endswith(".csv.gz") for path in downloaded(nginx))

    list_targets(italy, ["series.example"])
    remove_listings(italy, ["music.test"], "decision annulled", actor=as_actor(italy))
    publish(str(tree))
    nginx.forget()
    second = Replica(replica_dir).sync(mirror=nginx.url)  # the replica keeps its trusted root in tuf/
    version, checksum, _txt = builder.cached_feed("txt")
    assert (second.mode, second.added, second.removed) == ("incremental", ("series.example",), ("music.test",))
    assert (second.new_version, second.checksum) == (version, checksum)
    paths = downloaded(nginx)
    assert [p for p in paths if "/targets/deltas/" in p] and not [p for p in paths if "/targets/lists/" in p]
    reopened = Replica(replica_dir)
    reopened.verify()
    assert (reopened.version, reopened.checksum) == (version, checksum)
    assert reopened.check("series.example") and not reopened.check("music.test")


def test_an_idle_poll_downloads_the_timestamp_and_nothing_else(italy, list_targets, tree, nginx, root_file,
                                                                replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    Replica(replica_dir).sync(mirror=nginx.url, root=root_file)
    nginx.forget()
    result = Replica(replica_dir).sync(mirror=nginx.url)
    assert result.mode == "unchanged"
    assert downloaded(nginx) == ["/metadata/timestamp.json"]


def test_no_delta_for_the_replicas_version_means_the_full_list(italy, list_targets, tree, nginx, root_file,
                                                              replica_dir, settings):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=nginx.url, root=root_file)
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DELTAS": 0}
    list_targets(italy, ["series.example"])
    publish(str(tree))
    nginx.forget()
    result = replica.sync(mirror=nginx.url)
    assert result.mode == "full" and "no delta from version" in result.reason
    assert result.added == ("series.example",) and replica.checksum == builder.cached_feed("txt")[1]
    assert [p for p in downloaded(nginx) if "/targets/lists/" in p]


def test_mirrors_are_tried_in_order_until_one_verifies(italy, list_targets, tree, nginx, tampering, root_file,
                                                       replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    tampering.modify(r"/targets/lists/")
    dead = TamperingMirror(nginx.url)
    dead.close()  # nothing listens there any more
    replica = Replica(replica_dir)
    result = replica.sync(mirror=[dead.url, tampering.url, nginx.url], root=root_file)
    assert result.mode == "full" and replica.version == builder.current_version()
    assert len(result.failed_mirrors) == 2
    assert dead.url in result.failed_mirrors[0] and "modified or truncated" in result.failed_mirrors[1]
    assert replica.server == nginx.url


def test_when_every_mirror_fails_the_attack_is_what_is_raised(italy, list_targets, tree, nginx, tampering,
                                                             root_file, replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    tampering.modify(r"state\.json")
    dead = TamperingMirror(nginx.url)
    dead.close()
    with pytest.raises(MirrorVerificationError, match="no mirror completed the sync: .*; then "):
        Replica(replica_dir).sync(mirror=[dead.url, tampering.url], root=root_file)
    with pytest.raises(ServerUnreachable):
        Replica(replica_dir).sync(mirror=[dead.url], root=root_file)
    assert not (replica_dir / "MANIFEST.json").exists()


@pytest.mark.parametrize("crash_at", ["data-partial", "data-renamed", "manifest-written", "manifest-replaced"])
def test_a_mirror_sync_killed_at_any_step_leaves_the_old_or_new_version(
        italy, list_targets, tree, nginx, root_file, replica_dir, crash_at):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    old = Replica(replica_dir)
    old.sync(mirror=nginx.url, root=root_file)
    list_targets(italy, [f"site{i}.example" for i in range(50)])
    publish(str(tree))
    env = {**os.environ, "SITEALERT_TEST_CRASH_AT": crash_at}
    killed = subprocess.run([sys.executable, "-m", "sitealert", "sync", "--mirror", nginx.url, "--replica",
                             str(replica_dir), "-q"], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    after = Replica(replica_dir)
    assert after.damaged is None
    assert (after.version, after.checksum) in ((old.version, old.checksum),
                                               (builder.current_version(), builder.cached_feed("txt")[1]))
    after.verify()
    result = after.sync(mirror=nginx.url)
    assert (after.version, after.checksum) == (builder.current_version(), builder.cached_feed("txt")[1])
    assert result.mode in ("incremental", "unchanged")
    assert not [p for p in replica_dir.iterdir() if p.name.endswith(".tmp")]
