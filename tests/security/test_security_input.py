"""Oversized and malformed input: every bad request gets a clear 4xx answer and changes nothing.

The bodies are what an attacker (or a broken client) sends: bodies past the configured size,
lookups one item over the limit, bytes that are not UTF-8, JSON nested thousands deep, JSON string
escapes that are not characters (lone surrogates) or that PostgreSQL cannot store (NUL), CSV files
with a 10 MB field, a megabyte-long line or an unterminated quote."""

import json

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.security.attacks import row_counts
from tests.security.conftest import bearer

HEADER = b"target,category,reference,note\n"


def counts():
    """Row counts of every table that holds data; refused attempts may be audited, and signing in makes a session."""
    return {label: n for label, n in row_counts().items() if label not in ("sessions.Session", "core.AuditEvent")}


def unchanged(before):
    after = counts()
    assert after == before, {k: (before[k], after[k]) for k in after if after[k] != before.get(k)}


def api_error(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data.get("error") or data.get("rows"), data
    return data


@pytest.fixture
def api(italy, list_targets):
    list_targets(italy, ["films.example"])
    return Client(raise_request_exception=False)


@pytest.mark.django_db
def test_a_body_past_the_configured_limit_is_refused_before_it_is_read(italy, api, italy_token, adco_token):
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit is not None and limit <= 256 * 1024 * 1024
    before = counts()
    huge = b'{"entries": [' + b" " * limit + b"]}"
    data = api_error(api.post("/api/v1/listings", data=huge, content_type="application/json",
                              headers=bearer(italy_token)), 413)
    assert data["error"] == "request_too_large"
    huge = b'{"items": [' + b" " * limit + b"]}"
    api_error(api.post("/api/v1/lookup", data=huge, content_type="application/json", headers=bearer(adco_token)), 413)
    unchanged(before)


@pytest.mark.django_db
def test_a_lookup_one_item_over_the_limit_is_refused(italy, api, adco_token):
    limit = django_settings.SITEALERT["LOOKUP_MAX_ITEMS"]
    assert limit == 10_000
    before = counts()
    items = [f"site{i}.example" for i in range(limit + 1)]
    data = api_error(api.post("/api/v1/lookup", data=json.dumps({"items": items}), content_type="application/json",
                              headers=bearer(adco_token)), 413)
    assert data["error"] == "too_many_items" and ("10,000" in data["detail"] or "10000" in data["detail"])
    ok = api.post("/api/v1/lookup", data=json.dumps({"items": items[:limit]}), content_type="application/json",
                  headers=bearer(adco_token))
    assert ok.status_code == 200 and len(ok.json()["results"]) == limit
    unchanged(before)


MALFORMED = [
    b"\xff\xfe{\x00}\x00",                                                   # UTF-16
    '{"entries":[{"target":"caf\xe9.example","category":"other"}]}'.encode("latin-1"),
    b'{"entries": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",              # nested past the parser's depth
    b'{"entries": [' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"]}",
    b'{"entries": ' + b"[" * 500 + b"]" * 500 + b"}",                      # nested, valid JSON, wrong shape
    b'{"entries": [{"target": {"$gt": ""}, "category": ["other"]}]}',
    b'{"entries": "films.example"}', b"[]", b"null", b"", b'{"entries": [null]}', b"{" * 10,
    b"entries=films.example&category=other",
]


@pytest.mark.django_db
def test_malformed_json_is_a_clear_client_error(italy, api, italy_token):
    before = counts()
    problems = []
    for body in MALFORMED:
        response = api.post("/api/v1/listings", data=body, content_type="application/json",
                            headers=bearer(italy_token))
        if response.status_code not in (400, 422) or response.json().get("error") not in (
                "invalid_request", "empty_request"):
            problems.append((body[:40], response.status_code, response.content[:200]))
    assert problems == [], "\n".join(map(str, problems))
    unchanged(before)


@pytest.mark.django_db
def test_json_escapes_that_cannot_be_stored_are_refused(italy, api, italy_token):
    """`"\\ud800"` is valid JSON but no character (it cannot be encoded as UTF-8); `"\\u0000"` is a
    character PostgreSQL cannot store in text. Either must be a 4xx, not a server error."""
    before = counts()
    problems = []
    for escape in ["\\ud800", "\\udfff", "a\\u0000b"]:
        for field in ["target", "reference", "note"]:
            entry = {"target": '"escape.example"', "category": '"other"', field: f'"{escape}"'}
            body = '{"entries": [{' + ", ".join(f'"{k}": {v}' for k, v in entry.items()) + "}]}"
            response = api.post("/api/v1/listings", data=body.encode(), content_type="application/json",
                                headers=bearer(italy_token))
            if not 400 <= response.status_code < 500:
                problems.append(f"{field}={escape}: {response.status_code}")
    assert problems == [], "\n".join(map(str, problems))
    unchanged(before)


@pytest.mark.django_db
def test_lookup_items_that_are_not_characters_are_refused_or_answered(italy, api, adco_token):
    problems = []
    for item in ["\\ud800", "\\ud800.example", "a\\u0000b.example"]:
        response = api.post("/api/v1/lookup", data=('{"items": ["films.example", "' + item + '"]}').encode(),
                            content_type="application/json", headers=bearer(adco_token))
        if response.status_code not in (200, 400, 422):
            problems.append(f"{item}: {response.status_code}")
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.django_db
def test_query_parameters_out_of_range_are_clear_errors(italy, api, adco_token):
    for since in ["-1", "1e9", "99999999999999999999999", "١٢", "0x10", " 1", "1;DROP TABLE x"]:
        response = api.get("/api/v1/feed/changes", {"since": since}, headers=bearer(adco_token))
        assert response.status_code == 400, since
    assert api.get("/api/v1/feed", {"format": "xml" * 1000}, headers=bearer(adco_token)).status_code == 400
    assert api.get("/api/v1/check", {"q": "a" * 100_000}).status_code == 400
    assert api.get("/check/", {"q": "a" * 100_000}).status_code == 200


def csv_bombs():
    return {
        "10 MB field": HEADER + b"films.example,other,REF," + b"n" * (10 * 1024 * 1024) + b"\n",
        "1 MB line": HEADER + b"a" * (1024 * 1024) + b".example,other,,\n",
        "unterminated quote": HEADER + b'films.example,other,"REF\n' + b"more.example,other,,\n" * 1000,
        "100,000 columns": b"target,category," + b"x," * 100_000 + b"\nfilms.example,other\n",
        "binary": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100,
        "UTF-16": "target,category\nfilms.example,other\n".encode("utf-16"),
        "Latin-1": HEADER + "caf\xe9.example,other,,\n".encode("latin-1"),
        "no header": b"films.example,other\n",
        "header only": HEADER,
        "NUL in a note": HEADER + b"nul.example,other,REF,a\x00b\n",
    }


@pytest.mark.django_db
def test_csv_bombs_get_a_clear_error_and_change_nothing(api, italy, alice, italy_token):
    web = Client(raise_request_exception=False)
    web.force_login(alice)
    problems = []
    for name, data in csv_bombs().items():
        before = counts()
        response = api.post("/api/v1/imports", {"file": SimpleUploadedFile("bomb.csv", data)},
                            headers=bearer(italy_token))
        if response.status_code not in (400, 413, 422):
            problems.append(f"API, {name}: {response.status_code}")
        else:
            report = response.json()
            detail = report.get("detail") or " ".join(r.get("reason", "") for r in report.get("rows", []))
            if not detail or len(detail) > 10_000:
                problems.append(f"API, {name}: an error message of {len(detail)} characters")
        if counts() != before:
            problems.append(f"API, {name}: the database changed")
        before = counts()
        page = web.post("/listings/upload/", {"file": SimpleUploadedFile("bomb.csv", data)})
        if page.status_code not in (200, 400):
            problems.append(f"web upload, {name}: {page.status_code}")
        if counts() != before:
            problems.append(f"web upload, {name}: the database changed")
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.django_db
def test_a_stray_quote_does_not_swallow_the_rows_after_it(api, italy, italy_token):
    """An unterminated quote makes the rest of the file one field. Importing that field as a reference
    while reporting success would silently drop every listing after it."""
    data = HEADER + b'quote.example,other,"Case 12,\nswallowed.example,other,,\n'
    response = api.post("/api/v1/imports", {"file": SimpleUploadedFile("quote.csv", data)},
                        headers=bearer(italy_token))
    from sitealert.listings.models import Listing

    listed = set(Listing.objects.values_list("target", flat=True))
    assert response.status_code in (400, 422) or "swallowed.example" in listed, response.json()


@pytest.mark.django_db
def test_a_file_past_the_import_limit_is_refused(italy, api, italy_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "IMPORT_MAX_BYTES": 1024 * 1024, "IMPORT_MAX_ROWS": 1000}
    before = counts()
    big = HEADER + b"".join(b"row%d.example,other,,\n" % i for i in range(60_000))
    data = api_error(api.post("/api/v1/imports", {"file": SimpleUploadedFile("big.csv", big)},
                              headers=bearer(italy_token)), 400)
    assert "MB" in data["detail"]
    many = HEADER + b"".join(b"row%d.example,other,,\n" % i for i in range(1001))
    api_error(api.post("/api/v1/imports", {"file": SimpleUploadedFile("many.csv", many)}, headers=bearer(italy_token)),
              400)
    rows = api.post("/api/v1/listings", data=json.dumps({"entries": [
        {"target": f"row{i}.example", "category": "other"} for i in range(1001)]}), content_type="application/json",
        headers=bearer(italy_token))
    api_error(rows, 413)
    unchanged(before)
