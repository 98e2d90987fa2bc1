"""GET /api/v1/hashes/{prefix}: the private lookup's public endpoint (issue 15, SPEC §4)."""

import bisect
import hashlib
import json
import os
import random

import pytest

from sitealert.core.conf import setting
from sitealert.feed import lookup, private
from sitealert.feed.builder import current_version, feed_state
from sitealert.listings.services import remove_listings

pytestmark = pytest.mark.django_db

LISTED = ["films.example", "video.music.example", "android:com.example.app", "ios:389801252"]


def sha(target):
    return hashlib.sha256(target.encode("utf-8")).hexdigest()


@pytest.fixture
def listed(italy, list_targets):
    list_targets(italy, LISTED)


def ask(client, prefix, **headers):
    return client.get(f"/api/v1/hashes/{prefix}", headers=headers)


def test_a_prefix_answers_the_full_hashes_of_the_listed_targets_under_it(client, listed):
    for target in LISTED:
        digest = sha(target)
        response = ask(client, digest[:4].upper())
        assert response.status_code == 200
        document = response.json()
        assert document["prefix"] == digest[:4]
        assert digest in document["hashes"]
        assert document["version"] == current_version() and document["epoch"] == feed_state().epoch
        assert all(h.startswith(digest[:4]) and len(h) == 64 for h in document["hashes"])
        assert document["hashes"] == sorted(document["hashes"])
        assert target.encode() not in response.content  # no target in clear
    empty = next(f"{n:04x}" for n in range(65536) if not any(sha(t).startswith(f"{n:04x}") for t in LISTED))
    assert ask(client, empty).json()["hashes"] == []


def test_other_lengths_and_non_hex_are_refused(client, listed):
    for bad in ["abc", "abcde", "zzzz", "ab-c", "%20abc", "0" * 64]:
        response = ask(client, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"] == "invalid_prefix"
        assert "4 hexadecimal digits" in response.json()["detail"]
    french = client.get("/api/v1/hashes/abc", headers={"Accept-Language": "fr"})
    assert "exactement 4 chiffres hexadécimaux" in french.json()["detail"]


def test_an_etag_per_version_and_a_public_cache_lifetime(client, listed, italy, as_actor):
    prefix = sha("films.example")[:4]
    first = ask(client, prefix)
    assert first["Cache-Control"] == "public, max-age=60"
    assert ask(client, prefix, **{"If-None-Match": first["ETag"]}).status_code == 304
    report = remove_listings(italy, ["films.example"], "Annulled", actor=as_actor(italy))
    assert report.applied
    again = ask(client, prefix, **{"If-None-Match": first["ETag"]})
    assert again.status_code == 200 and again["ETag"] != first["ETag"]
    assert sha("films.example") not in again.json()["hashes"]


def test_rate_limited_per_client_address(client, listed, settings):
    settings.SITEALERT = {**settings.SITEALERT, "PRIVATE_LOOKUP_RATE": 3, "PRIVATE_LOOKUP_WINDOW": 60}
    for prefix in ["0000", "0001", "zz"]:  # a refused prefix counts too
        assert ask(client, prefix).status_code in (200, 400)
    response = ask(client, "0002")
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 120
    assert client.get("/api/v1/hashes/0002", REMOTE_ADDR="192.0.2.9").status_code == 200  # another client


def test_the_answers_follow_every_change_through_the_overlay_and_a_new_base(client, italy, list_targets, as_actor,
                                                                               monkeypatch):
    list_targets(italy, ["a.example", "b.example"])
    ask(client, "0000")  # the base is written at this version
    list_targets(italy, ["c.example"])
    remove_listings(italy, ["a.example"], "Annulled", actor=as_actor(italy))
    for target, expected in [("a.example", False), ("b.example", True), ("c.example", True)]:
        assert (sha(target) in ask(client, sha(target)[:4]).json()["hashes"]) is expected
    directory = os.path.join(settings_dir(), feed_state().epoch)
    bases = sorted(name for name in os.listdir(directory) if name.startswith("hashes-"))
    assert len(bases) == 1  # the changes came through the overlay
    monkeypatch.setattr(lookup, "OVERLAY_MAX_CHANGES", 0)
    list_targets(italy, ["d.example"])
    assert sha("d.example") in ask(client, sha("d.example")[:4]).json()["hashes"]
    assert sorted(name for name in os.listdir(directory) if name.startswith("hashes-")) == [
        f"hashes-{current_version()}.sha256"]


def settings_dir():
    return str(setting("FEED_CACHE_DIR"))


def current_hashes_count():
    return private.current_hashes.get().count


def test_shards_grow_with_the_list_and_stop_at_4096():
    assert [private.shard_prefix_hex(n) for n in (0, 4096, 4097, 65536, 65537, 10_000_000)] == [1, 1, 2, 2, 3, 3]


def test_static_shards_cover_exactly_the_listed_targets(listed):
    shards = dict(private.static_shards())
    state = feed_state()
    current = json.loads(shards.pop("hashes/current.json"))
    digits = private.shard_prefix_hex(current_hashes_count())
    assert current == {"epoch": state.epoch, "version": state.version, "prefix_hex": digits,
                       "shards": f"hashes/{state.epoch}/{state.version}/"}
    assert len(shards) == 16 ** digits and all(path.startswith(current["shards"]) for path in shards)
    found = set()
    for path, data in shards.items():
        document = json.loads(data)
        assert document["prefix"] == path.rsplit("/", 1)[1] and document["version"] == state.version
        assert all(h.startswith(document["prefix"]) for h in document["hashes"])
        found.update(document["hashes"])
    assert found == {sha(t) for t in LISTED}


def test_a_damaged_base_is_written_again(client, listed):
    prefix = sha("films.example")[:4]
    ask(client, prefix)
    directory = os.path.join(settings_dir(), feed_state().epoch)
    [name] = [n for n in os.listdir(directory) if n.startswith("hashes-")]
    for size in (100, 0):
        with open(os.path.join(directory, name), "r+b") as f:
            f.truncate(size)
        private.current_hashes.current = private.Hashes(None, 0, None)  # a process that starts now
        assert sha("films.example") in ask(client, prefix).json()["hashes"]


def test_a_prefix_of_a_base_and_its_changes_holds_exactly_the_listed_hashes(tmp_path):
    """The base's digests of a prefix, less those removed since, plus those added (found by
    bisection, the changes being few), against a plain set computation."""
    rng = random.Random(7)
    base_targets = [f"site{n}.example" for n in range(3000)]
    removed = set(rng.sample(base_targets, 300))
    added = {f"new{n}.example" for n in range(300)} | set(rng.sample(base_targets, 50))  # listed again
    removed -= added
    digests = sorted(hashlib.sha256(t.encode()).digest() for t in base_targets)
    firsts = [int.from_bytes(d[:2], "big") for d in digests]
    offsets = [bisect.bisect_left(firsts, bucket) for bucket in range(private.PREFIXES)] + [len(digests)]
    path = tmp_path / "hashes-1.sha256"
    path.write_bytes(private._HEADER.pack(private.MAGIC, len(digests)) + private._OFFSETS.pack(*offsets)
                     + b"".join(digests))
    hashes = private.Hashes("epoch", 1, private.Base(str(path)), 2, frozenset(added), frozenset(removed))
    listed = {hashlib.sha256(t.encode()).digest() for t in (set(base_targets) - removed) | added}
    for prefix in ["0", "7f", "abc", "ffff", *(f"{n:02x}" for n in range(256))]:
        expected = sorted(d for d in listed if d.hex().startswith(prefix))
        assert hashes.digests(prefix) == expected, prefix
