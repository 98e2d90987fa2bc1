"""The SDK against the real SiteAlert server: sync from the Django app, then agree with /api/v1/lookup."""

import random

import httpx
import pytest

from sitealert.client import AuthError, Replica

from .conftest import corpus_targets, synthetic_queries

pytestmark = pytest.mark.django_db(transaction=True)

ITALY = ["example.com", "video.example.org", "foo.blogspot.com", "amazonaws.com", "xn--bcher-kva.example",
         "android:com.Example.Player"]
KOREA = ["example.com", "stream.example.net", "ios:389801252"]
HOSTILE = ["EXAMPLE.COM", "https://www.example.com/watch?v=1", "http://user@cdn.video.example.org:8080/",
           "s3.amazonaws.com", "bucket.s3.amazonaws.com", "x.amazonaws.com", "bar.blogspot.com",
           "https://apps.apple.com/fr/app/x/id389801252", "https://play.google.com/store/apps/details?id=com.Example.Player",
           "android:com.example.player", "ios:id389801252", "bücher.example", "com", "127.0.0.1", "", "a b.com",
           "*.example.com", "example.com.", "//example.com/x", "mailto:x@example.com"]


def _lookup(server, token, items):
    response = httpx.post(f"{server}/api/v1/lookup", json={"items": items},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    response.raise_for_status()
    return response.json()


def _agree(replica, server, token, items):
    answer = _lookup(server, token, items)
    assert answer["version"] == replica.version
    mine = [m.target if m else None for m in replica.check_many(items)]
    theirs = [r["matched"] for r in answer["results"]]
    assert mine == theirs
    return sum(t is not None for t in theirs)


def test_replica_answers_exactly_like_the_server_lookup(live_server, tmp_path, italy, korea, adco_token,
                                                        list_targets, as_actor):
    real = [t for t in corpus_targets() if t.count(".") <= 3][:1500]
    list_targets(italy, ITALY + real[: len(real) // 2])
    list_targets(korea, KOREA + real[len(real) // 2:], category="torrent-index")
    replica = Replica(tmp_path / "replica")
    result = replica.sync(live_server.url, adco_token, retries=1, backoff=0.05)
    assert result.full and result.new_version > 0
    assert replica.check("www.example.com").countries == ("IT", "KR")

    rnd = random.Random(3)
    items = HOSTILE + synthetic_queries(rnd, sorted(set(ITALY + KOREA + real)), 2500)
    assert _agree(replica, live_server.url, adco_token, items) > 500

    # A removal reaches the replica incrementally, and the answers still agree.
    from sitealert.listings.services import remove_listings

    report = remove_listings(italy, ["video.example.org", "amazonaws.com"], "Court order annulled",
                             actor=as_actor(italy))
    assert report.applied, report.as_dict()
    result = replica.sync(live_server.url, adco_token)
    assert result.mode == "incremental"
    assert set(result.removed) == {"video.example.org", "amazonaws.com"}
    _agree(replica, live_server.url, adco_token, items)
    assert replica.sync(live_server.url, adco_token).mode == "unchanged"


def test_the_server_refusing_a_token_is_an_auth_error(live_server, tmp_path, italy_token):
    with pytest.raises(AuthError, match="refused the token"):
        Replica(tmp_path).sync(live_server.url, "not-a-token")
    with pytest.raises(AuthError):
        Replica(tmp_path).sync(live_server.url, italy_token)  # a contributor's token cannot read the feed
