"""A compromised, broken or stale mirror cannot add, drop or freeze entries: each attack is refused
with its error class, the replica keeps its last verified version byte for byte, and the next sync
from an honest mirror succeeds.

The tampering mirror (mirror_harness.TamperingMirror) is a proxy in front of Debian's nginx serving
a tree written by `sitealert publish`."""

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest
from tuf.api.metadata import Metadata, Timestamp

from sitealert.client import (
    MirrorFrozen,
    MirrorIncomplete,
    MirrorRollback,
    MirrorVerificationError,
    Replica,
)
from sitealert.distribution import keys
from sitealert.distribution.publish import publish
from sitealert.feed import builder

from .mirror_harness import replica_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def behind(italy, list_targets, tree, tampering, root_file, replica_dir):
    """A replica synced through the (for now honest) tampering mirror at version 1, and a new version
    published: the next sync would take one delta."""
    list_targets(italy, ["films.example", "music.test"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=tampering.url, root=root_file)
    list_targets(italy, ["series.example"])
    publish(str(tree))
    return replica


def refused(replica_dir, url, error, match, *, with_metadata=True, root=None):
    """Sync through `url`, expect `error`; assert the replica did not change at all."""
    before = replica_files(replica_dir, with_metadata)
    version, checksum = Replica(replica_dir).version, Replica(replica_dir).checksum
    with pytest.raises(error, match=match):
        Replica(replica_dir).sync(mirror=url, root=root)
    assert replica_files(replica_dir, with_metadata) == before
    after = Replica(replica_dir)
    assert (after.version, after.checksum, after.damaged) == (version, checksum, None)


@pytest.mark.parametrize("attack, pattern, error, message", [
    ("modify", r"/targets/deltas/", MirrorVerificationError, "modified or truncated"),
    ("truncate", r"/targets/deltas/", MirrorVerificationError, "modified or truncated"),
    ("modify", r"state\.json", MirrorVerificationError, "modified or truncated"),
    ("drop", r"/targets/deltas/", MirrorIncomplete, "lacks"),
    ("drop", r"snapshot\.json", MirrorIncomplete, "lacks"),
    ("modify", r"targets\.json", MirrorVerificationError, "failed verification|not signed"),
])
def test_a_modified_truncated_or_dropped_file_is_refused(behind, tampering, replica_dir, attack, pattern, error,
                                                         message):
    getattr(tampering, attack)(pattern)
    # Metadata the mirror served genuinely may be kept in tuf/ (that is how rollback protection
    # works); the list, its files and the manifest stay exactly as they were.
    refused(replica_dir, tampering.url, error, message, with_metadata=False)
    tampering.honest()
    assert Replica(replica_dir).sync(mirror=tampering.url).mode == "incremental"


def test_a_modified_full_list_is_refused_and_a_new_replica_stays_empty(italy, list_targets, tree, tampering,
                                                                      root_file, replica_dir):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    tampering.modify(r"/targets/lists/")
    with pytest.raises(MirrorVerificationError, match="modified or truncated"):
        Replica(replica_dir).sync(mirror=tampering.url, root=root_file)
    assert Replica(replica_dir).version == 0 and not (replica_dir / "MANIFEST.json").exists()
    assert [p.name for p in replica_dir.iterdir() if p.name not in ("tuf", ".lock")] == []


def test_metadata_without_signatures_is_refused(behind, tree, tampering, replica_dir):
    timestamp = json.loads((tree / "metadata" / "timestamp.json").read_bytes())
    timestamp["signatures"] = []
    tampering.replace(r"timestamp\.json", json.dumps(timestamp).encode())
    refused(replica_dir, tampering.url, MirrorVerificationError, "not signed by the keys the trusted root names")


def test_metadata_signed_by_a_key_root_does_not_trust_is_refused(behind, tree, tampering, replica_dir, tmp_path,
                                                                  settings):
    # The attacker holds keys of their own and publishes the same list, plus whatever they like, with them.
    forged_keys, forged = tmp_path / "forged-keys", tmp_path / "forged-tree"
    keys.init(str(forged_keys))
    publish(str(forged), keys_dir=str(forged_keys))
    tampering.serve_from(forged)
    refused(replica_dir, tampering.url, MirrorVerificationError, "not signed by the keys the trusted root names")


def test_older_metadata_after_newer_was_seen_is_a_rollback(italy, list_targets, tree, tampering, root_file,
                                                          replica_dir, tmp_path):
    list_targets(italy, ["films.example", "music.test"])
    publish(str(tree))
    old = tmp_path / "old-tree"
    shutil.copytree(tree, old)  # the mirror as it was at version 1
    list_targets(italy, ["series.example"])
    publish(str(tree))
    replica = Replica(replica_dir)
    replica.sync(mirror=tampering.url, root=root_file)
    assert replica.version == builder.current_version()
    tampering.serve_from(old)  # replays the older tree, signed and all
    refused(replica_dir, tampering.url, MirrorRollback, "older than what this client has already verified")


def test_a_frozen_mirror_is_refused_once_its_timestamp_expires(italy, list_targets, tree, tampering, root_file,
                                                              replica_dir, settings):
    list_targets(italy, ["films.example"])
    # Published as if a day ago, the timestamp expires a few seconds from now; then the mirror stops
    # updating (is frozen), and serves the same tree after that.
    lifetime = settings.SITEALERT["MIRROR_TIMESTAMP_EXPIRY"]
    margin = 4
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=lifetime - margin)
    publish(str(tree), now=published)
    replica = Replica(replica_dir)
    replica.sync(mirror=tampering.url, root=root_file)
    time.sleep(max(0.0, (published + timedelta(seconds=lifetime) - datetime.now(UTC)).total_seconds()) + 1.5)
    refused(replica_dir, tampering.url, MirrorFrozen, "expired")
    # A new replica is refused too, and gets nothing.
    fresh = replica_dir.parent / "fresh"
    with pytest.raises(MirrorFrozen):
        Replica(fresh).sync(mirror=tampering.url, root=root_file)
    assert Replica(fresh).version == 0


@pytest.mark.parametrize("role", ["timestamp", "root"])
def test_after_a_key_rotation_the_replica_follows_and_the_old_key_is_refused(
        behind, tree, tampering, replica_dir, keys_dir, role):
    """Recovery from a compromised key: root N+1 names a new key; a replica that pinned root 1
    follows the rotation, and metadata signed with the old (stolen) key is refused from then on."""
    stolen = keys.load_signer(str(keys_dir), "timestamp", keys.current_root(str(keys_dir)))
    keys.rotate("timestamp")
    if role == "root":
        keys.rotate("root")
    publish(str(tree))
    result = Replica(replica_dir).sync(mirror=tampering.url)
    assert result.mode == "incremental" and Replica(replica_dir).version == builder.current_version()
    forged = Metadata[Timestamp].from_bytes((tree / "metadata" / "timestamp.json").read_bytes())
    forged.signed.version += 1
    forged.signatures.clear()
    forged.sign(stolen)
    tampering.replace(r"timestamp\.json", forged.to_bytes())
    refused(replica_dir, tampering.url, MirrorVerificationError, "not signed by the keys the trusted root names")
