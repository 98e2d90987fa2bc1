"""`sitealert export`: the server's list in every format, split per ad platform, or from a replica."""

import hashlib

import pytest

from sitealert.cli import main
from sitealert.client import Replica

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(italy, list_targets):
    list_targets(italy, ["films.example", "b.test", "android:com.pirate.app"])


def test_txt_export_matches_checksum(listed, capsysbinary):
    assert main(["export"]) == 0
    body = capsysbinary.readouterr().out
    assert body == b"android:com.pirate.app\nb.test\nfilms.example\n"
    from sitealert.feed.builder import current_checksum

    assert current_checksum()[1] == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("fmt, expected", [
    ("adblock", "||films.example^"),
    ("hosts", "0.0.0.0 films.example"),
    ("plain", "films.example"),
])
def test_client_formats(listed, capsys, fmt, expected):
    assert main(["export", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert expected in out.splitlines()
    assert "android:" not in out


def test_platform_split_into_files(listed, tmp_path, capsys):
    assert main(["export", "--platform", "google-ads", "--per-list", "1", "-o", str(tmp_path / "out")]) == 0
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 3
    assert all(f.read_text().startswith("Placement\n") for f in files)


def test_platform_needs_a_directory(listed, capsys):
    assert main(["export", "--platform", "google-ads"]) == 2
    assert "directory" in capsys.readouterr().err


def test_unknown_format_is_refused(capsys):
    assert main(["export", "--format", "xml"]) == 2
    assert "unknown format 'xml'" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_export_from_a_synced_replica(live_server, italy, adco_token, list_targets, tmp_path, capsys):
    list_targets(italy, ["films.example", "b.test"])
    Replica(tmp_path / "replica").sync(live_server.url, adco_token)
    assert main(["export", "--replica", str(tmp_path / "replica"), "--format", "adblock"]) == 0
    assert capsys.readouterr().out == "||b.test^\n||films.example^\n"
    assert main(["export", "--replica", str(tmp_path / "replica"), "--format", "json"]) == 2
