"""Exports for ad platforms and blockers: formats, per-list caps, and the blocker actually blocking."""

import csv
import io

import pytest

from sitealert.client import Replica
from sitealert.client.exports import FORMATS, PLATFORMS, export_lines, split_for_platform

TARGETS = ["example.com", "video.example.org", "xn--bcher-kva.example", "android:com.Example.Player",
           "ios:389801252"]


def test_plain_adblock_and_hosts_hold_the_domains():
    assert export_lines(TARGETS, "plain") == ["example.com", "video.example.org", "xn--bcher-kva.example"]
    assert export_lines(TARGETS, "adblock") == ["||example.com^", "||video.example.org^", "||xn--bcher-kva.example^"]
    assert export_lines(TARGETS, "hosts")[0] == "0.0.0.0 example.com"


def test_csv_placement_uses_google_ads_app_ids():
    rows = list(csv.reader(io.StringIO("\n".join(export_lines(TARGETS, "csv-placement")))))
    assert rows[0] == ["Placement"]
    assert sorted(r[0] for r in rows[1:]) == sorted(["example.com", "video.example.org", "xn--bcher-kva.example",
                                                     "2-com.Example.Player", "1-389801252"])


def test_entries_and_matches_are_accepted_too():
    replica = Replica.from_targets(TARGETS)
    assert export_lines(replica.entries(), "plain") == export_lines(TARGETS, "plain")
    assert export_lines([replica.check("www.example.com")], "plain") == ["example.com"]
    with pytest.raises(ValueError, match="unknown export format"):
        export_lines(TARGETS, "xml")
    assert set(FORMATS) == {"plain", "adblock", "hosts", "csv-placement"}


def test_adblock_rules_block_subdomains_in_adblock_rust():
    adblock = pytest.importorskip("adblock")
    filters = adblock.FilterSet()
    filters.add_filters(export_lines(TARGETS, "adblock"))
    engine = adblock.Engine(filters)
    assert engine.check_network_urls("https://cdn.video.example.org/a.js", "https://site.test/", "script").matched
    assert not engine.check_network_urls("https://example.org/a.js", "https://site.test/", "script").matched


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_files_respect_each_platform_cap(platform):
    spec = PLATFORMS[platform]
    many = [f"site{i}.example.com" for i in range(spec.per_list * 2 + 1)] + ["android:com.Example.Player"]
    export = split_for_platform(many, platform)
    assert len(export.files) == 3
    assert all(f.entries <= spec.per_list for f in export.files)
    assert sum(f.entries for f in export.files) == len(many) - export.skipped_apps
    assert export.skipped_apps == (0 if spec.apps else 1)
    names = [f.name for f in export.files]
    assert names == sorted(names) and len(set(names)) == 3


def test_microsoft_takes_websites_only_and_warns_past_its_three_lists():
    export = split_for_platform([f"s{i}.example.com" for i in range(40_000)] + ["ios:389801252"], "microsoft-ads")
    assert len(export.files) == 4 and export.skipped_apps == 1
    assert any("limited to 3 per account" in w for w in export.warnings)
    assert export.files[0].lines[0] == "s0.example.com"


def test_google_ads_files_are_csv_with_a_header_and_app_ids():
    export = split_for_platform(TARGETS, "google-ads")
    assert export.files[0].lines[0] == "Placement" and "2-com.Example.Player" in export.files[0].lines
    assert export.files[0].text().endswith("\n")


def test_a_smaller_split_can_be_asked_but_not_a_larger_documented_one():
    assert len(split_for_platform(TARGETS, "dv360", per_list=2).files) == 3
    assert len(split_for_platform([f"s{i}.example.com" for i in range(60_000)], "dv360", per_list=100_000).files) == 1
    with pytest.raises(ValueError, match="at most 65,000"):
        split_for_platform(TARGETS, "google-ads", per_list=70_000)
    with pytest.raises(ValueError, match="unknown platform"):
        split_for_platform(TARGETS, "myspace")


def test_platform_files_are_written_to_a_directory(tmp_path):
    from sitealert.client.exports import write_platform_files

    export = write_platform_files([f"s{i}.example.com" for i in range(25)], "dv360", tmp_path / "out", per_list=10)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f.name for f in export.files] == [f"sitealert-dv360-00{i}.csv" for i in (1, 2, 3)]
    last_file = [f"s{i}.example.com" for i in sorted(range(25), key=str)][20:]
    assert (tmp_path / "out" / written[-1]).read_text().splitlines() == ["Site"] + last_file
