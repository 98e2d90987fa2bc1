"""`sitealert backup` and `sitealert restore` refuse what they cannot do, say why, and change nothing."""

import io
import json
import tarfile

import pytest
from django.db import connection

from sitealert.cli import main
from sitealert.feed import builder
from sitealert.operations.backup import DATABASE, FORMAT, MANIFEST

pytestmark = pytest.mark.django_db


def _tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return str(path)


def _manifest(**fields):
    return json.dumps({"vendor": "sqlite", "version": 1, "pruned_through": 0, "epoch": "e", "checksum": "sha256:0",
                       "created_at": "2026-01-01T00:00:00Z", "format": FORMAT, **fields}).encode()


@pytest.fixture
def listed(italy, list_targets):
    list_targets(italy, ["a.example"])
    return builder.current_version(), builder.feed_state().epoch


def _refused(capsys, *argv):
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_restore_refuses_what_is_not_a_backup(capsys, tmp_path, listed):
    (tmp_path / "list.csv").write_text("target,category\n")
    assert "does not exist" in _refused(capsys, "restore", str(tmp_path / "missing.tar"))
    assert "is a directory" in _refused(capsys, "restore", str(tmp_path))
    assert "is not a SiteAlert backup" in _refused(capsys, "restore", str(tmp_path / "list.csv"))
    no_manifest = _tar(tmp_path / "other.tar", {"readme.txt": b"hello"})
    assert f"has no {MANIFEST}" in _refused(capsys, "restore", no_manifest)
    garbled = _tar(tmp_path / "garbled.tar", {MANIFEST: b"{not json"})
    assert "is not a SiteAlert backup" in _refused(capsys, "restore", garbled)
    unknown = _tar(tmp_path / "unknown.tar", {MANIFEST: b'{"vendor": "sqlite"}'})
    assert "manifest SiteAlert does not understand" in _refused(capsys, "restore", unknown)
    future = _tar(tmp_path / "future.tar", {MANIFEST: _manifest(format=99), "database.sqlite3": b""})
    assert "format 99" in _refused(capsys, "restore", future)
    incomplete = _tar(tmp_path / "incomplete.tar", {MANIFEST: _manifest()})
    assert "is incomplete" in _refused(capsys, "restore", incomplete)
    assert (builder.current_version(), builder.feed_state().epoch) == listed


def test_restore_refuses_a_backup_of_the_other_database(capsys, tmp_path, listed):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    path = _tar(tmp_path / "other.tar", {MANIFEST: _manifest(vendor=other), DATABASE[other]: b"x"})
    assert f"is a backup of a {other} database" in _refused(capsys, "restore", path)
    assert (builder.current_version(), builder.feed_state().epoch) == listed


def test_restore_refuses_a_damaged_database(capsys, tmp_path, listed):
    vendor = connection.vendor
    damaged = {MANIFEST: _manifest(vendor=vendor), DATABASE[vendor]: b"not a database" * 100}
    path = _tar(tmp_path / "damaged.tar", damaged)
    said = _refused(capsys, "restore", path)
    assert "damaged" in said if vendor == "sqlite" else "pg_restore failed" in said
    assert (builder.current_version(), builder.feed_state().epoch) == listed


def test_backup_says_where_it_cannot_write(capsys, tmp_path):
    assert "does not exist" in _refused(capsys, "backup", "-o", str(tmp_path / "no" / "such" / "b.tar"))
    assert list(tmp_path.iterdir()) == []
