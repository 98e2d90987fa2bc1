"""JSON bodies are refused by size and by the length of their list while they are read, before a
single entry is built: a worker's memory stays bounded whatever a client sends."""

import json
import time
import tracemalloc

import pytest

from sitealert.core.models import AuditEvent
from sitealert.listings.models import Listing
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def post(client, path, body, token, content_type="application/json"):
    return client.post(path, data=body, content_type=content_type, headers=bearer(token))


def test_two_million_tiny_entries_are_refused_without_building_them(client, italy_token, settings):
    """Before, such a body took 22 s and 1.6 GB in one worker before its 413."""
    settings.SITEALERT = {**settings.SITEALERT, "API_MAX_JSON_BYTES": 64 * 1024 * 1024}
    body = b'{"entries": [' + b"{}," * 1_999_999 + b"{}]}"
    events = AuditEvent.objects.count()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        response = post(client, "/api/v1/listings", body, italy_token)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_rows"
    assert "100,000" in response.json()["detail"] or "100000" in response.json()["detail"]
    # The body itself (6 MB, held twice by the test client and the request) and little more.
    assert peak < 3 * len(body) + 10 * 1024 * 1024, peak
    assert time.perf_counter() - started < 10
    assert not Listing.objects.exists() and AuditEvent.objects.count() == events


def test_a_body_over_the_routes_size_is_refused_before_it_is_parsed(client, italy_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_MAX_JSON_BYTES": 4096}
    body = json.dumps({"entries": [{"target": "films.example", "note": "x" * 5000}]})
    response = post(client, "/api/v1/listings", body, italy_token)
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"
    assert "4096" in response.json()["detail"]
    # The same size of nonsense is refused for its size too: the limit comes before parsing.
    response = post(client, "/api/v1/listings", b"{" * 5000, italy_token)
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"


@pytest.mark.parametrize("path, key, setting_name, code", [
    ("/api/v1/listings", "entries", "API_MAX_ENTRIES", "too_many_rows"),
    ("/api/v1/listings/remove", "targets", "API_MAX_ENTRIES", "too_many_rows"),
    ("/api/v1/lookup", "items", "LOOKUP_MAX_ITEMS", "too_many_items"),
])
def test_each_list_is_counted_against_its_limit(client, italy_token, adco_token, settings, path, key,
                                                setting_name, code):
    settings.SITEALERT = {**settings.SITEALERT, setting_name: 3}
    token = adco_token if key == "items" else italy_token
    at_limit = {key: [f"s{i}.example" if key != "entries" else {"target": f"s{i}.example"} for i in range(3)],
                "reason": "court order"}
    assert post(client, path, json.dumps(at_limit), token).status_code != 413
    over = {**at_limit, key: at_limit[key] * 2}
    response = post(client, path, json.dumps(over), token)
    assert response.status_code == 413 and response.json()["error"] == code
    # Whatever the body claims to be: Django Ninja reads any POST body as JSON.
    response = post(client, path, json.dumps(over), token, content_type="text/plain")
    assert response.status_code == 413 and response.json()["error"] == code


def test_a_list_nested_deeper_or_under_another_key_is_not_counted(client, italy_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_MAX_ENTRIES": 2}
    body = json.dumps({"entries": [{"target": "a.example", "note": "n"}], "other": {"entries": [1, 2, 3, 4]}})
    assert post(client, "/api/v1/listings", body, italy_token).status_code == 422  # the row lacks a category


def test_a_body_that_is_not_json_is_still_told_so(client, italy_token):
    response = post(client, "/api/v1/listings", b'{"entries": [', italy_token)
    assert response.status_code == 400
    assert response.json()["detail"] == "The request body is not valid JSON."
