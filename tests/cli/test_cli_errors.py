"""Server commands meet bad input with one clear line and exit status 2, never a traceback."""

import os

import pytest

from sitealert.cli import main
from sitealert.cli.server_handlers import ProgressBar

pytestmark = pytest.mark.django_db

CSV = b"target,category\nfilms.example,other\n"


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(CSV)
    return str(path)


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_importing_for_an_organization_that_may_not_import(adco, csv_file, capsys, dry_run):
    from sitealert.listings.models import Listing

    assert main(["import", csv_file, "--org", adco.slug, *dry_run]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sitealert: {adco.slug} cannot import listings:") and "Traceback" not in err
    assert not Listing.objects.exists()


def test_an_applied_import_names_the_new_version(italy, csv_file, capsys):
    assert main(["import", csv_file, "--org", italy.slug]) == 0
    assert "The aggregated list is now at version 1." in capsys.readouterr().out


def test_the_progress_bar_ends_its_line_when_nothing_is_written(italy, tmp_path, capsys, monkeypatch):
    path = tmp_path / "four.csv"
    path.write_text("target,category\n" + "".join(f"site{i}.example,other\n" for i in range(4)))
    monkeypatch.setenv("SITEALERT_PROGRESS", "1")
    assert main(["import", str(path), "--org", italy.slug, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "valid rows" in err and err.endswith("\n")


def test_progress_bar_finish_is_idempotent():
    import io

    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.enabled = True
    bar(1, 4)
    bar.finish()
    bar.finish()
    assert stream.getvalue().count("\n") == 1


@pytest.mark.parametrize("output, message", [
    ("missing-dir/list.txt", "cannot write"),
    (".", "is a directory"),
])
def test_an_unwritable_export_says_so_and_leaves_nothing_behind(italy, tmp_path, capsys, output, message):
    folder = tmp_path / "exports"
    folder.mkdir()
    assert main(["export", "-o", str(folder / output)]) == 2
    assert message in capsys.readouterr().err
    assert os.listdir(folder) == [] and not os.path.exists(str(folder) + ".tmp")


def test_an_export_from_a_missing_replica_is_an_error_not_an_empty_list(tmp_path, capsys):
    assert main(["export", "--replica", str(tmp_path / "nowhere")]) == 2
    assert "no replica in" in capsys.readouterr().err


def test_per_list_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["export", "--platform", "google-ads", "--per-list", "0", "-o", "x"])
    assert exited.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_a_user_without_a_password_and_no_terminal(adco, capsys, monkeypatch):
    import io

    monkeypatch.delenv("SITEALERT_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["user", "create", "--org", adco.slug, "--username", "nopass"]) == 2
    assert "SITEALERT_PASSWORD" in capsys.readouterr().err


def test_a_user_with_a_malformed_email_is_refused(adco, capsys, monkeypatch):
    from django.contrib.auth import get_user_model

    monkeypatch.setenv("SITEALERT_PASSWORD", "a-long-enough-passphrase-2026")
    assert main(["user", "create", "--org", adco.slug, "--username", "chk", "--email", "notanemail"]) == 2
    assert "is not an e-mail address" in capsys.readouterr().err
    assert not get_user_model().objects.filter(username="chk").exists()


def test_token_validity_is_bounded(adco, capsys):
    assert main(["token", "create", "--org", adco.slug, "--days", "100000"]) == 2
    assert "at most 3650 days" in capsys.readouterr().err


def test_revoking_twice_says_it_was_already_revoked(adco, capsys):
    assert main(["token", "create", "--org", adco.slug]) == 0
    hint = capsys.readouterr().out.strip()[:10]
    assert main(["token", "revoke", hint]) == 0
    assert capsys.readouterr().out.startswith("revoked")
    assert main(["token", "revoke", hint]) == 0
    assert "was already revoked on" in capsys.readouterr().out


def test_a_database_without_tables_says_to_migrate(capsys):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE feed_feedstate" + (" CASCADE" if connection.vendor == "postgresql" else ""))
    assert main(["export"]) == 2
    err = capsys.readouterr().err
    assert "Run 'sitealert migrate' first" in err and "Traceback" not in err


def test_a_setting_the_server_cannot_use_is_one_line_naming_it(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "SITEALERT_DATA_DIR": str(tmp_path), "SITEALERT_MONITOR_CONCURRENCY": "0"}
    run = subprocess.run([sys.executable, "-m", "sitealert", "worker", "--once"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr == "sitealert: SITEALERT_MONITOR_CONCURRENCY must be at least 1\n"
