"""Both matcher tables agree with the straightforward reference on real lists, synthetic data and
hostile input, and with each other decision for decision."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitealert.matcher import Matcher, generation
from sitealert.matcher import core as matcher_core
from sitealert.matcher.suffix_rules import rule_parents

from .conftest import corpus_targets, reference_check, synthetic_queries, synthetic_targets

EXTRA_TARGETS = ["amazonaws.com", "foo.blogspot.com", "xn--bcher-kva.example", "a-b_c.example.com",
                 "r3---sn-abc.googlevideo.com", "android:com.Example.Player", "ios:389801252"]


def _names(results):
    return [r.target if r is not None else None for r in results]


def test_agrees_with_reference_on_real_lists_and_synthetic_data(matcher_kind, rnd):
    """The real piracy lists (when ../shared is present) and synthetic names, as hosts and URLs."""
    real = corpus_targets()
    targets = sorted(set(real + synthetic_targets(rnd, 3000) + EXTRA_TARGETS))
    listed = set(targets)
    queries = synthetic_queries(rnd, targets, 6000)
    queries += [f"https://www.{t}/index.html" for t in real] + [t.rpartition(".")[0] + ".net" for t in real]
    matcher = Matcher(targets, **matcher_kind)
    expected = [reference_check(listed, q) for q in queries]
    assert _names(matcher.check_many(queries)) == expected
    assert _names(matcher.check(q) for q in queries[:2000]) == expected[:2000]
    assert sum(e is not None for e in expected) > len(queries) // 3  # the data does exercise matches


def test_the_real_lists_are_used_when_present():
    targets = corpus_targets()
    if targets:
        assert len(targets) > 2500
        assert "1337x.am" in targets


@pytest.mark.skipif(matcher_core._speedups is None, reason="sitealert.matcher._speedups is not built")
def test_accelerated_and_pure_tables_take_the_same_decisions(rnd):
    targets = synthetic_targets(rnd, 2000) + EXTRA_TARGETS
    queries = synthetic_queries(rnd, targets, 5000) + ["", "android:", "ios:0", "http://", "https://:80/",
                                                       "http://a.example.com:65536/", "x" * 300 + ".com"]
    pure, fast = Matcher(targets, accelerated=False), Matcher(targets, accelerated=True)
    assert pure._table.check_many(queries) == fast._table.check_many(queries)
    assert [pure._table.check(q) for q in queries] == [fast._table.check(q) for q in queries]


def _generation(entries, kind, total):
    """A generation file's bytes: entries are (target, meta) pairs, metas of combo 0 or TOMBSTONE
    (RISKY added, as Matcher does, to a target with Public Suffix List rules below it)."""
    entries = sorted(entries)
    parents = rule_parents()
    metas = [meta | generation.RISKY if target in parents and ":" not in target else meta for target, meta in entries]
    records = generation.encode([t for t, _ in entries], metas, [0] * len(entries))
    return generation.build(records, [("", (), ())], generation.UNKNOWN_CHECKSUM, kind=kind, total=total)


@pytest.mark.skipif(matcher_core._speedups is None, reason="sitealert.matcher._speedups is not built")
def test_batches_answer_as_single_checks_over_a_base_and_an_overlay(rnd):
    """check_many's staged batches (prefetches, match objects taken from the cache on later
    passes) answer exactly as check() and the pure table, over a base whose overlay removes
    and adds targets, for random hosts and URLs in random order, on a first pass and after it."""
    targets = sorted(set(synthetic_targets(rnd, 3000) + EXTRA_TARGETS))
    removed = set(rnd.sample(targets, 300))
    added = sorted(set(synthetic_targets(rnd, 300)) - set(targets))
    listed = (set(targets) - removed) | set(added)
    base = generation.from_bytes(_generation([(t, 0) for t in targets], generation.BASE, len(targets)))
    overlay = generation.from_bytes(_generation([(t, generation.TOMBSTONE) for t in removed]
                                                + [(t, 0) for t in added], generation.OVERLAY, len(listed)))
    queries = synthetic_queries(rnd, sorted(listed | removed), 6000)
    rnd.shuffle(queries)
    expected = [reference_check(listed, q) for q in queries]
    for accelerated in (False, True):
        matcher = Matcher.over(base, overlay, accelerated=accelerated)
        for _ in range(3):  # the first pass builds the match objects, the others find them cached
            assert _names(matcher.check_many(queries)) == expected
        assert _names(matcher.check(q) for q in queries) == expected


# Hostile input built around listed names: every prefix and suffix the fast paths must not misread.
LISTED = ["example.com", "video.example.org", "amazonaws.com", "foo.blogspot.com", "xn--bcher-kva.example",
          "r3---sn-abc.googlevideo.com", "a_b.example.net", "android:com.Example.Player", "ios:389801252"]
LABELS = ["www", "a", "x", "xn--", "xn--bcher-kva", "s3", "-a", "a-", "a--b", "_", "A", "ü", "1", "0x7f",
          "example", "com", "org", "video", "blogspot", "amazonaws", "foo", "googlevideo", "r3---sn-abc", ""]
PREFIXES = ["", "http://", "https://", "HTTP://", "https:", "http:///", "//", "ftp://", "ws://", "android:",
            "ios:", "market://details?id=", "*.", ".", " ", "user@", "http://user@", "https://a:b@"]
SUFFIXES = ["", "/", ".", "..", ":", ":80", ":080", ":65535", ":65536", ":x", "/path?q=1#f", "?", "#", "\\x",
            "@evil.com", "/@evil.com", " ", "\t", "%2e", ".com", ".example.com", "/store/apps/details?id=x.y"]

hosts = st.one_of(
    st.sampled_from(LISTED),
    st.builds(lambda labels, base: ".".join(labels + [base]), st.lists(st.sampled_from(LABELS), max_size=3),
              st.sampled_from(LISTED + ["example.org", "s3.amazonaws.com", "blogspot.com", "com", "co.uk"])),
    st.text(alphabet="abcxn-._:/@?#0123456789AÜü．。", max_size=30),
)
items = st.builds(lambda p, h, s: p + h + s, st.sampled_from(PREFIXES), hosts, st.sampled_from(SUFFIXES))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(items, min_size=1, max_size=20))
def test_agrees_with_reference_on_hostile_input(matcher_kind, batch):
    matcher = Matcher(LISTED, **matcher_kind)
    expected = [reference_check(set(LISTED), item) for item in batch]
    assert _names(matcher.check_many(batch)) == expected
    assert _names(matcher.check(item) for item in batch) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(item=st.text(max_size=40))
def test_agrees_with_reference_on_any_text(matcher_kind, item):
    matcher = Matcher(LISTED, **matcher_kind)
    assert _names([matcher.check(item)]) == [reference_check(set(LISTED), item)]


@pytest.mark.skipif(matcher_core._speedups is None, reason="sitealert.matcher._speedups is not built")
def test_a_record_that_runs_past_its_file_is_refused_alike_by_batches_and_single_checks():
    """A damaged file whose last record claims more bytes than the file holds: the batches (which
    read a record's length only once its memory has arrived) refuse it as check() does, and still
    find the records around it."""
    targets = ["a.example", "b.example", "zz.example"]
    data = bytearray(_generation([(t, 0) for t in targets], generation.BASE, len(targets)))
    last = generation.HEADER_SIZE + sum(generation.record_size(len(t)) for t in targets[:-1])
    assert bytes(data[last + 10:last + 20]) == b"zz.example"
    struct.pack_into("<H", data, last + 8, 0xFFFF)  # the length, after the meta and the first-listed day
    matcher = Matcher.over(generation.from_bytes(bytes(data)), accelerated=True)
    queries = ["zz.example", "www.zz.example", "https://zz.example/x", "a.example", "www.b.example"]
    for _ in range(2):
        assert _names(matcher.check_many(queries)) == _names(matcher.check(q) for q in queries) \
            == [None, None, None, "a.example", "b.example"]
