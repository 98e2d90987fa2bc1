"""The OpenAPI document says what the server enforces, no more and no less.

Each constraint is read from the served document and tried against the server: what the schema
refuses, the server refuses (4xx, nothing changed); what it allows, the server answers. (Targeted
tests, one per kind of constraint, rather than a schemathesis run.)
"""

import json

import pytest

from sitealert.listings.models import Listing
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").json()


def parameter(document, path, name):
    (found,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    return found


def schema_of(document, name):
    return document["components"]["schemas"][name]


def test_required_query_parameters_are_required(client, document, adco_token):
    for path, name in (("/api/v1/feed/changes", "since"), ("/api/v1/check", "q")):
        assert parameter(document, path, name)["required"] is True
        response = client.get(path, headers=bearer(adco_token))
        assert response.status_code == 400, path
        assert response.json()["error"] in ("invalid_since", "missing_query")


def test_the_format_enum_is_what_the_feed_serves(client, document, adco_token):
    declared = parameter(document, "/api/v1/feed", "format")
    assert declared["required"] is False
    for value in declared["schema"]["enum"]:
        assert client.get("/api/v1/feed", {"format": value}, headers=bearer(adco_token)).status_code == 200
    response = client.get("/api/v1/feed", {"format": "xml"}, headers=bearer(adco_token))
    assert response.status_code == 400 and response.json()["error"] == "invalid_format"


def test_since_is_a_non_negative_integer(client, document, adco_token):
    declared = parameter(document, "/api/v1/feed/changes", "since")["schema"]
    assert declared["type"] == "integer" and declared["minimum"] == 0
    assert client.get("/api/v1/feed/changes", {"since": 0}, headers=bearer(adco_token)).status_code == 200
    for value in ("-1", "1.5", "abc", ""):
        response = client.get("/api/v1/feed/changes", {"since": value}, headers=bearer(adco_token))
        assert response.status_code == 400, value


def test_the_check_query_must_have_more_than_blanks(client, document):
    declared = parameter(document, "/api/v1/check", "q")["schema"]
    assert declared["minLength"] == 1 and declared["pattern"] == "\\S"
    for value in ("", "   "):
        assert client.get("/api/v1/check", {"q": value}).status_code == 400
    assert client.get("/api/v1/check", {"q": "x.example"}).status_code == 200


@pytest.mark.parametrize("schema, path, key, extra", [
    ("SubmitRequest", "/api/v1/listings", "entries", {}),
    ("RemoveRequest", "/api/v1/listings/remove", "targets", {"reason": "court order"}),
])
def test_lists_that_need_an_element_say_so(client, document, italy_token, schema, path, key, extra):
    assert schema_of(document, schema)["properties"][key]["minItems"] == 1
    response = client.post(path, data=json.dumps({key: [], **extra}), content_type="application/json",
                           headers=bearer(italy_token))
    assert response.status_code == 400 and response.json()["error"] == "empty_request"


def test_categories_are_an_enum_and_required(client, document, italy_token):
    entry = schema_of(document, "EntryIn")
    assert set(entry["required"]) == {"target", "category"}
    categories = entry["properties"]["category"]["enum"]
    assert "default" not in entry["properties"]["category"]
    entries = [{"target": f"s{i}.example", "category": c} for i, c in enumerate(categories)]
    response = client.post("/api/v1/listings", data=json.dumps({"entries": entries, "dry_run": True}),
                           content_type="application/json", headers=bearer(italy_token))
    assert response.status_code == 200 and response.json()["counts"]["accepted"] == len(categories)
    for wrong in ({"target": "a.example"}, {"target": "a.example", "category": "films"}):
        response = client.post("/api/v1/listings", data=json.dumps({"entries": [wrong]}),
                               content_type="application/json", headers=bearer(italy_token))
        assert response.status_code == 422 and response.json()["rows"][0]["status"] == "rejected"
    assert not Listing.objects.exists()


def test_blank_targets_and_reasons_are_refused(client, document, italy_token):
    assert schema_of(document, "EntryIn")["properties"]["target"]["pattern"] == "\\S"
    assert schema_of(document, "RemoveRequest")["properties"]["reason"]["pattern"] == "\\S"
    response = client.post("/api/v1/listings", data=json.dumps({"entries": [{"target": " ", "category": "other"}]}),
                           content_type="application/json", headers=bearer(italy_token))
    assert response.status_code == 422
    response = client.post("/api/v1/listings/remove", data=json.dumps({"targets": ["a.example"], "reason": "  "}),
                           content_type="application/json", headers=bearer(italy_token))
    assert response.status_code == 400 and response.json()["error"] == "reason_required"


def test_the_import_file_is_required(client, document, italy_token):
    body = document["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    response = client.post("/api/v1/imports", {"dry_run": "true"}, headers=bearer(italy_token))
    assert response.status_code == 400 and response.json()["error"] == "missing_file"
