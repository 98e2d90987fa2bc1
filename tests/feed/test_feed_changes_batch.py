"""builder.build_changes: the changes documents for many client versions from one read of the change
log, byte for byte those that open_changes builds one at a time (what /api/v1/feed/changes sends)."""

import gzip

import pytest

from sitealert.feed import builder
from sitealert.listings.services import remove_listings

pytestmark = pytest.mark.django_db


def _read(since, gzipped):
    document = builder.open_changes(since, gzipped)
    with document.file as f:
        return document.version, f.read()


def test_batched_changes_documents_are_those_built_one_at_a_time(italy, korea, list_targets, settings, tmp_path,
                                                                 as_actor):
    versions = [builder.current_version()]
    list_targets(italy, ["a.example", "android:com.example.app", "xn--bcher-kva.example"])
    versions.append(builder.current_version())
    list_targets(korea, ["a.example", "b.example", "ios:42"], category="cyberlocker")
    versions.append(builder.current_version())
    remove_listings(italy, ["a.example", "xn--bcher-kva.example"], "annulled", actor=as_actor(italy))
    versions.append(builder.current_version())
    list_targets(italy, ["c.example"])
    sinces = versions + [builder.current_version() - 1]

    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": tmp_path / "one-at-a-time"}
    expected = {since: (_read(since, False), _read(since, True)) for since in sinces}
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": tmp_path / "batched"}
    assert builder.build_changes(sinces + [builder.current_version()]) == builder.current_version()
    built = sorted(p.name for p in (tmp_path / "batched").rglob("changes-*.json"))
    assert len(built) == len(set(sinces))
    for since in sinces:
        (_, plain), (_, packed) = expected[since]
        assert _read(since, False)[1] == plain
        assert gzip.decompress(_read(since, True)[1]) == plain
