"""The federation documents in the signed tree: `sitealert publish` adds them (state.json's
"federation"), and MirrorSource.federation_document gives a subscriber their verified bytes, the
same as /api/v1/federation/... sends."""

import json

import pytest

from sitealert.client.errors import MirrorIncomplete, MirrorVerificationError
from sitealert.client.mirror import MirrorSource, MirrorState, read_root
from sitealert.client.sync import ResyncNeeded
from sitealert.distribution.publish import publish
from sitealert.federation import documents
from sitealert.listings.services import remove_listings

pytestmark = pytest.mark.django_db


def source(directory, url, root_file):
    directory.mkdir(exist_ok=True)
    return MirrorSource(directory, url, read_root(root_file), None, timeout=10)


def test_a_subscriber_reads_verified_federation_documents_from_the_mirror(italy, list_targets, as_actor, tree,
                                                                          nginx, root_file, tmp_path):
    first = list_targets(italy, ["films.example", "music.test"]).version
    publish(str(tree))
    mirror = source(tmp_path / "sub", nginx.url, root_file)
    assert json.loads(mirror.federation_document("listings")) == documents.document("listings", 0)
    assert json.loads(mirror.federation_document("authorities")) == documents.document("authorities")
    state = mirror.state()
    assert state.federation.full == f"federation/{state.epoch}/{first}.json.gz"
    assert state.federation.authorities == f"federation/{state.epoch}/authorities-{first}.json.gz"
    mirror.close()

    remove_listings(italy, ["music.test"], "Annulled", actor=as_actor(italy))
    publish(str(tree))
    mirror = source(tmp_path / "sub", nginx.url, root_file)
    delta = json.loads(mirror.federation_document("listings", since=first))
    assert delta == documents.document("listings", first)
    assert [(t["target"], t["listings"]) for t in delta["targets"]] == [("music.test", [])]
    with pytest.raises(ResyncNeeded):
        mirror.federation_document("listings", since=first - 1)  # no delta from there: ask for the full one
    mirror.close()


def test_a_tampered_federation_document_is_refused(italy, list_targets, tree, nginx, root_file, tmp_path):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    mirror = source(tmp_path / "sub", nginx.url, root_file)
    (stored,) = (tree / "targets" / "federation").rglob("*.authorities-*.json.gz")
    stored.write_bytes(stored.read_bytes()[:-4] + b"XXXX")
    with pytest.raises(MirrorVerificationError):
        mirror.federation_document("authorities")
    mirror.close()


def test_a_tree_published_before_federation_has_none():
    state = MirrorState.parse(json.dumps({
        "format": 1, "epoch": "e", "version": 3, "checksum": "sha256:" + "0" * 64, "count": 1,
        "lists": {"csv": "lists/e/3.csv.gz"}, "deltas": {}}).encode(), "state.json")
    assert state.federation is None


def test_state_json_without_the_federation_entry_is_refused_as_incomplete(italy, list_targets, tree, nginx,
                                                                          root_file, tmp_path, monkeypatch):
    list_targets(italy, ["films.example"])
    publish(str(tree))
    mirror = source(tmp_path / "sub", nginx.url, root_file)
    monkeypatch.setattr(MirrorSource, "state", lambda self: MirrorState("e", 1, "sha256:" + "0" * 64, 1, "x", {}))
    with pytest.raises(MirrorIncomplete, match="no federation documents"):
        mirror.federation_document("listings")
    mirror.close()
