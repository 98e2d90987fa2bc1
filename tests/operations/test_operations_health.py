"""/healthz (the process answers) and /readyz (database, migrations, feed cache directory)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_looking_further(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_ready_when_everything_is(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "failed": [],
                               "checks": {"database": "ok", "migrations": "ok", "feed_cache": "ok"}}


def test_readyz_names_unapplied_migrations(client):
    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute("DELETE FROM django_migrations WHERE app = 'listings'")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["failed"] == ["migrations"]
    assert "not applied: run 'sitealert migrate'" in body["checks"]["migrations"]


def test_readyz_names_a_feed_cache_that_cannot_be_written(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": blocker}
    body = client.get("/readyz").json()
    assert body["failed"] == ["feed_cache"] and body["checks"]["feed_cache"] == "not a directory"
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": blocker / "below"}
    body = client.get("/readyz").json()
    assert body["checks"]["feed_cache"] == "missing, and cannot be created"


def test_a_feed_cache_directory_not_yet_made_is_ready_when_it_can_be(client, settings, tmp_path):
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": tmp_path / "new" / "cache"}
    assert client.get("/readyz").status_code == 200
    assert not (tmp_path / "new").exists()  # checked, not created
