"""`sitealert publish DIR`: a tree that python-tuf's client verifies, whose lists and deltas are the
feed's own documents, that a second publish leaves alone, and that a new version extends and prunes."""

import hashlib
import json
import os
from datetime import timedelta

import pytest

from sitealert.cli import main
from sitealert.core.maintenance import run_due_tasks
from sitealert.distribution import publish
from sitealert.feed import builder
from sitealert.listings.services import remove_listings

from .conftest import Client, checksum_of_txt, unzip

pytestmark = pytest.mark.django_db


def _root(tree):
    return (tree / "metadata" / "1.root.json").read_bytes()


def test_published_tree_verifies_and_reproduces_the_feed(italy, list_targets, keys_dir, tmp_path, served):
    list_targets(italy, ["films.example", "music.test", "android:com.pirate.app"])
    tree = tmp_path / "tree"
    result = publish.publish(str(tree))
    client = Client(str(tmp_path / "client"), served(tree), _root(tree))
    state, files = client.read_state()
    version, checksum, txt = builder.cached_feed("txt")
    assert (state["version"], state["checksum"], state["count"]) == (version, checksum, 3)
    assert unzip(files[state["lists"]["txt"]]) == txt
    assert checksum_of_txt(unzip(files[state["lists"]["txt"]])) == checksum
    assert unzip(files[state["lists"]["json"]]) == builder.cached_feed("json")[2]
    assert unzip(files[state["lists"]["csv"]]) == builder.cached_feed("csv")[2]
    assert result.written[-1] == "metadata/timestamp.json"
    assert (tree / "metadata" / "root.json").read_bytes() == _root(tree)


def test_a_second_publish_of_the_same_version_writes_nothing(italy, list_targets, keys_dir, tmp_path):
    list_targets(italy, ["films.example"])
    tree = tmp_path / "tree"
    publish.publish(str(tree))
    before = sorted(str(p.relative_to(tree)) + str(p.stat().st_mtime_ns) for p in tree.rglob("*") if p.is_file())
    again = publish.publish(str(tree))
    assert not again.changed
    after = sorted(str(p.relative_to(tree)) + str(p.stat().st_mtime_ns) for p in tree.rglob("*") if p.is_file())
    assert before == after


def test_the_timestamp_is_re_signed_once_half_its_life_has_passed(italy, list_targets, keys_dir, tmp_path, settings):
    list_targets(italy, ["films.example"])
    tree = tmp_path / "tree"
    first = publish.publish(str(tree))
    expiry = settings.SITEALERT["MIRROR_TIMESTAMP_EXPIRY"]
    later = publish._now() + timedelta(seconds=expiry * 0.6)
    again = publish.publish(str(tree), now=later)
    assert again.written == ["metadata/timestamp.json"] and first.version == again.version
    timestamp = json.loads((tree / "metadata" / "timestamp.json").read_text())["signed"]
    assert timestamp["version"] == 2 and timestamp["meta"]["snapshot.json"]["version"] == 1


def test_a_new_version_adds_a_delta_and_prunes_what_no_recent_snapshot_uses(
        italy, alice, list_targets, keys_dir, tmp_path, served, settings, as_actor):
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_KEEP_VERSIONS": 2}
    tree = tmp_path / "tree"
    list_targets(italy, ["a.example"])
    first = publish.publish(str(tree))
    client = Client(str(tmp_path / "client"), served(tree), _root(tree))
    client.read_state()
    versions = [first.version]
    for name in ["b.example", "c.example", "d.example", "e.example"]:
        list_targets(italy, [name])
        versions.append(publish.publish(str(tree)).version)
    remove_listings(italy, ["a.example"], "decision annulled", actor=as_actor(italy))
    last = publish.publish(str(tree))
    state, files = client.read_state()
    assert state["version"] == last.version == builder.current_version()
    # A client at any version published before downloads one delta, which brings it to the checksum.
    assert sorted(map(int, state["deltas"])) == versions
    for since, path in state["deltas"].items():
        document = json.loads(unzip(files[path]))
        assert (document["since"], document["version"]) == (int(since), last.version)
        assert document["checksum"] == state["checksum"]
    delta = json.loads(unzip(files[state["deltas"][str(versions[-1])]]))
    assert delta["changes"] == [{"target": "a.example", "kind": "domain", "listed": False}]
    # Lists: the last two versions in the targets metadata; files of older snapshots are gone.
    targets = json.loads((tree / "metadata" / f"{_newest(tree, 'targets')}.targets.json").read_text())
    listed_versions = {path.split("/")[2].split(".")[0] for path in targets["signed"]["targets"] if
                       path.startswith("lists/")}
    assert listed_versions == {str(versions[-1]), str(last.version)}
    snapshots = sorted(p.name for p in (tree / "metadata").glob("*.snapshot.json"))
    assert len(snapshots) == publish.SNAPSHOTS_KEPT
    stored = {p.name.split(".", 1)[1] for p in (tree / "targets" / "lists").rglob("*.gz")}
    assert f"{versions[0]}.txt.gz" not in stored and f"{last.version}.txt.gz" in stored
    assert not list(tree.rglob(".tmp-*"))
    assert last.removed


def _newest(tree, role):
    return max(int(p.name.split(".")[0]) for p in (tree / "metadata").glob(f"*.{role}.json"))


def test_every_target_file_is_named_by_its_hash_and_never_rewritten(italy, list_targets, keys_dir, tmp_path):
    list_targets(italy, ["a.example"])
    tree = tmp_path / "tree"
    publish.publish(str(tree))
    for path in (tree / "targets").rglob("*"):
        if path.is_file():
            assert path.name.split(".")[0] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert os.stat(tree / "metadata" / "timestamp.json").st_size > 0


def test_the_worker_publishes_into_the_mirror_dir_after_a_new_version(italy, list_targets, keys_dir, tmp_path,
                                                                      settings):
    tree = tmp_path / "mirror"
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DIR": tree}
    list_targets(italy, ["films.example"])
    assert "distribution.publish" in run_due_tasks()
    state = publish._Tree(str(tree)).state
    assert state["version"] == builder.current_version() and state["count"] == 1


def test_without_keys_publish_says_what_to_do(italy, tmp_path, settings):
    settings.SITEALERT = {**settings.SITEALERT, "KEYS_DIR": tmp_path / "none"}
    with pytest.raises(publish.keys.KeysError, match="run 'sitealert keys init' first"):
        publish.publish(str(tmp_path / "tree"))
    assert not (tmp_path / "tree").exists()


def test_cli_publish_reports_what_it_did(italy, list_targets, keys_dir, tmp_path, capsys):
    list_targets(italy, ["films.example"])
    tree = tmp_path / "tree"
    assert main(["publish", str(tree)]) == 0
    assert f"published version {builder.current_version()}" in capsys.readouterr().out
    assert main(["publish", str(tree)]) == 0
    assert "is up to date" in capsys.readouterr().out
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["publish", str(blocker / "tree")]) == 2
    assert "cannot write into" in capsys.readouterr().err


def test_private_lookup_shards_are_signed_by_the_delegated_role(italy, list_targets, keys_dir, tmp_path, served,
                                                               monkeypatch):
    """The seam the private lookup connects to: its (path, bytes) pairs go under the role "hashes",
    which a list sync never downloads, and which a client resolves through the delegation."""
    list_targets(italy, ["films.example"])
    epoch, version = builder.feed_state().epoch, builder.current_version()
    shards = [(f"hashes/{epoch}/{version}/{n:03x}", json.dumps({"hashes": [n]}).encode()) for n in range(16)]
    shards.append(("hashes/current.json", json.dumps({"epoch": epoch, "version": version, "prefix_hex": 3,
                                                      "shards": f"hashes/{epoch}/{version}/"}).encode()))
    monkeypatch.setattr(publish, "private_lookup_shards", lambda: iter(shards))
    tree = tmp_path / "tree"
    publish.publish(str(tree))
    client = Client(str(tmp_path / "client"), served(tree), _root(tree))
    state, _files = client.read_state()
    assert state["hashes"] == {"prefix_hex": 3, "shards": f"hashes/{epoch}/{version}/"}
    assert not list((tmp_path / "client" / "metadata").glob("*hashes*"))  # a list sync never fetched it
    updater = client.updater()
    updater.refresh()
    for path, data in [shards[0], shards[-1]]:
        assert client.fetch(updater, path) == data
    hashes = json.loads((tmp_path / "client" / "metadata" / "hashes.json").read_text())
    assert len(hashes["signed"]["targets"]) == 17
    monkeypatch.setattr(publish, "private_lookup_shards", lambda: iter([("lists/evil.txt.gz", b"x")]))
    list_targets(italy, ["music.example"])
    with pytest.raises(publish.PublishError, match="outside hashes/"):
        publish.publish(str(tree))
