"""Contributor endpoints: POST /api/v1/listings, /listings/remove and /imports (SPEC §4, §10)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sitealert.core.models import AuditEvent
from sitealert.listings.models import Listing, ProtectedTarget
from tests.api.conftest import bearer, body

pytestmark = pytest.mark.django_db

SECRET_NOTE = "source: confidential investigation 42"


def rows_by_target(report):
    return {r["target"]: r for r in report["rows"]}


def test_submit_applies_and_reports_each_row(post_json, italy, italy_token, get_feed, adco_token):
    ProtectedTarget.objects.create(target="bigcdn.example")
    response = post_json("/api/v1/listings", {"entries": [
        {"target": "https://Pirate.example/film", "category": "streaming-video", "reference": "AGCOM 1/26",
         "note": SECRET_NOTE},
        {"target": "files.bigcdn.example", "category": "cyberlocker"},
        {"target": "ios:id42", "category": "software-games", "review_after": "2027-01-31"},
    ]}, italy_token)
    assert response.status_code == 200
    report = response.json()
    assert report["applied"] is True and report["dry_run"] is False and report["error"] is None
    assert report["counts"] == {"accepted": 2, "unchanged": 0, "held": 1, "rejected": 0}
    rows = rows_by_target(report)
    assert rows["pirate.example"] == {"row": 1, "input": "https://Pirate.example/film", "target": "pirate.example",
                                      "status": "accepted"}
    assert rows["files.bigcdn.example"]["status"] == "held"
    assert "bigcdn.example" in rows["files.bigcdn.example"]["reason"]
    listing = Listing.objects.get(target="ios:42")
    assert str(listing.review_after) == "2027-01-31" and listing.contributor == italy
    assert Listing.objects.get(target="pirate.example").note == SECRET_NOTE
    assert report["version"] == get_feed(adco_token)["version"]
    assert SECRET_NOTE not in response.content.decode()
    [event] = AuditEvent.objects.filter(action="listing.submit", via="api")
    assert event.detail["created"] == 3 and event.created_listings.count() == 3

    again = post_json("/api/v1/listings", {"entries": [
        {"target": "pirate.example", "category": "streaming-video", "reference": "AGCOM 1/26", "note": SECRET_NOTE}]},
        italy_token)
    assert again.status_code == 200 and again.json()["counts"]["unchanged"] == 1


def test_rejected_rows_change_nothing_and_answer_422(post_json, italy_token):
    response = post_json("/api/v1/listings", {"entries": [
        {"target": "good.example", "category": "other"},
        {"target": "192.168.0.1", "category": "other"},
        {"target": "bad-category.example", "category": "gambling"},
        {"target": "nocat.example"},
    ]}, italy_token)
    assert response.status_code == 422
    report = response.json()
    assert report["applied"] is False
    assert report["counts"] == {"accepted": 1, "unchanged": 0, "held": 0, "rejected": 3}
    assert [r["row"] for r in report["rows"] if r["status"] == "rejected"] == [2, 3, 4]
    assert all(r["reason"] for r in report["rows"] if r["status"] == "rejected")
    assert not Listing.objects.exists()


def test_accept_valid_rows_and_dry_run(post_json, italy_token):
    entries = [{"target": "good.example", "category": "other"}, {"target": "localhost", "category": "other"}]
    dry = post_json("/api/v1/listings", {"entries": entries, "dry_run": True}, italy_token)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["applied"] is False
    assert not Listing.objects.exists()
    partial = post_json("/api/v1/listings", {"entries": entries, "accept_valid_rows": True}, italy_token)
    assert partial.status_code == 200 and partial.json()["applied"] is True
    assert list(Listing.objects.values_list("target", flat=True)) == ["good.example"]


@pytest.mark.parametrize("payload,where", [
    ({"entries": [{"category": "other"}]}, "entries[0].target"),
    ({"entries": "a.example"}, "entries"),
    ({"entries": [{"target": "a.example", "review_after": "tomorrow"}]}, "entries[0].review_after"),
    ({"targets": ["a.example"]}, "entries"),
])
def test_malformed_submissions(post_json, italy_token, payload, where):
    response = post_json("/api/v1/listings", payload, italy_token)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request" and where in response.json()["detail"]


def test_empty_submission(post_json, italy_token):
    response = post_json("/api/v1/listings", {"entries": []}, italy_token)
    assert response.status_code == 400 and response.json()["error"] == "empty_request"


def test_too_many_rows(post_json, italy_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_MAX_ENTRIES": 2}
    response = post_json("/api/v1/listings", {"entries": [{"target": f"s{i}.example", "category": "other"}
                                                         for i in range(3)]}, italy_token)
    assert response.status_code == 413 and response.json()["error"] == "too_many_rows"


def test_remove_own_listings(post_json, italy, list_targets, italy_token, adco_token, get_feed):
    list_targets(italy, ["a.example", "b.example"])
    response = post_json("/api/v1/listings/remove", {"targets": ["A.example", "a.example"],
                                                     "reason": "Decision annulled"}, italy_token)
    assert response.status_code == 200
    report = response.json()
    assert [r["status"] for r in report["rows"]] == ["accepted", "unchanged"]
    listing = Listing.objects.get(target="a.example")
    assert listing.status == "removed" and listing.status_reason == "Decision annulled"
    assert [e["target"] for e in get_feed(adco_token)["entries"]] == ["b.example"]


def test_remove_needs_a_reason(post_json, italy, list_targets, italy_token):
    list_targets(italy, ["a.example"])
    for payload in ({"targets": ["a.example"], "reason": "  "}, {"targets": ["a.example"], "reason": ""}):
        response = post_json("/api/v1/listings/remove", payload, italy_token)
        assert response.status_code == 400 and response.json()["error"] == "reason_required"
    response = post_json("/api/v1/listings/remove", {"targets": ["a.example"]}, italy_token)
    assert response.status_code == 422 and "reason" in response.json()["detail"]
    assert Listing.objects.get(target="a.example").status == "active"


def test_a_contributor_cannot_touch_another_contributors_listings(post_json, italy, korea, list_targets,
                                                                   italy_token, adco_token, get_feed):
    list_targets(korea, ["korean-case.example"], category="torrent-index", reference="KCOPA-9")
    before = Listing.objects.filter(contributor=korea).values().get()

    removal = post_json("/api/v1/listings/remove", {"targets": ["korean-case.example"], "reason": "mine now"},
                        italy_token)
    assert removal.status_code == 422
    row = removal.json()["rows"][0]
    assert row["status"] == "rejected" and "not listed by your organization" in row["reason"]

    # Submitting the same target creates Italy's own listing; Korea's is untouched.
    update = post_json("/api/v1/listings", {"entries": [
        {"target": "korean-case.example", "category": "other", "reference": "IT-1", "note": "x"}]}, italy_token)
    assert update.status_code == 200
    assert Listing.objects.filter(contributor=korea).values().get() == before
    assert Listing.objects.filter(target="korean-case.example").count() == 2
    entry = get_feed(adco_token)["entries"][0]
    assert entry["countries"] == ["IT", "KR"]


def upload(client, token, content, **fields):
    data = {"file": SimpleUploadedFile("listings.csv", content, content_type="text/csv"), **fields}
    return client.post("/api/v1/imports", data, headers=bearer(token))


def test_import_csv(client, italy_token):
    content = ("\ufefftarget,category,reference,note\n"
               "pirate.example,streaming-video,AGCOM 1/26,private\n"
               "https://www.films.example/x,streaming-video,AGCOM 2/26,\n").encode()
    response = upload(client, italy_token, content)
    assert response.status_code == 200
    report = response.json()
    assert report["applied"] is True
    assert [(r["row"], r["target"], r["status"]) for r in report["rows"]] == [
        (2, "pirate.example", "accepted"), (3, "www.films.example", "accepted")]


def test_import_with_rejected_rows_is_all_or_nothing(client, italy_token):
    content = b"target,category\ngood.example,other\n,other\nbad..example,other\n"
    response = upload(client, italy_token, content)
    assert response.status_code == 422
    assert [r["row"] for r in response.json()["rows"] if r["status"] == "rejected"] == [3, 4]
    assert not Listing.objects.exists()
    dry = upload(client, italy_token, content, dry_run="true")
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert not Listing.objects.exists()
    partial = upload(client, italy_token, content, accept_valid_rows="true")
    assert partial.status_code == 200
    assert list(Listing.objects.values_list("target", flat=True)) == ["good.example"]


@pytest.mark.parametrize("content,words", [
    (b"", "empty"),
    ("target,category\nété.example,other\n".encode("latin-1"), "UTF-8"),
    ("target,category\na.example,other\n".encode("utf-16"), "UTF-16"),
    (b"domain,category\na.example,other\n", "header"),
])
def test_file_level_errors_are_400(client, italy_token, content, words):
    response = upload(client, italy_token, content)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_file"
    assert words in response.json()["detail"]
    assert not Listing.objects.exists()


def test_import_size_limit(client, italy_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "IMPORT_MAX_BYTES": 100}
    response = upload(client, italy_token, b"target,category\n" + b"a.example,other\n" * 20)
    assert response.status_code == 400 and "limit" in response.json()["detail"]


def test_an_upload_kept_on_disk_imports_under_a_very_high_size_limit(client, italy_token, settings):
    # Django keeps an upload over FILE_UPLOAD_MAX_MEMORY_SIZE in a temporary file; reading the
    # limit's worth of bytes from it allocated a buffer of that size (a MemoryError, a 500).
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64
    settings.SITEALERT = {**settings.SITEALERT, "IMPORT_MAX_BYTES": 1 << 40}
    response = upload(client, italy_token, b"target,category\n" + b"".join(
        b"site%d.example,other\n" % i for i in range(20)))
    assert response.status_code == 200, response.content
    assert Listing.objects.count() == 20


def test_import_without_file(client, italy_token):
    response = client.post("/api/v1/imports", {"dry_run": "true"}, headers=bearer(italy_token))
    assert response.status_code == 400 and response.json()["error"] == "missing_file"


def test_user_sees_no_private_note_anywhere(client, post_json, italy, italy_token, adco_token):
    post_json("/api/v1/listings", {"entries": [
        {"target": "pirate.example", "category": "streaming-video", "note": SECRET_NOTE}]}, italy_token)
    responses = [
        client.get("/api/v1/feed", headers=bearer(adco_token)),
        client.get("/api/v1/feed?format=txt", headers=bearer(adco_token)),
        client.get("/api/v1/feed?format=csv", headers=bearer(adco_token)),
        client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)),
        post_json("/api/v1/lookup", {"items": ["pirate.example"]}, adco_token),
        client.get("/api/v1/check?q=pirate.example"),
        client.get("/api/v1/token", headers=bearer(adco_token)),
    ]
    for response in responses:
        assert response.status_code == 200
        assert SECRET_NOTE.encode() not in body(response)


@pytest.mark.parametrize("field,escape", [("target", "\\ud800"), ("reference", "\\udfff"), ("note", "a\\u0000b")])
def test_text_that_cannot_be_stored_is_refused(client, italy_token, field, escape):
    """Valid JSON, but a lone surrogate is no character and PostgreSQL cannot store NUL."""
    entry = {"target": '"escape.example"', "category": '"other"', field: f'"{escape}"'}
    body = '{"entries": [{' + ", ".join(f'"{k}": {v}' for k, v in entry.items()) + "}]}"
    response = client.post("/api/v1/listings", data=body.encode(), content_type="application/json",
                           headers=bearer(italy_token))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request" and f"entries[0].{field}" in response.json()["detail"]
    assert not Listing.objects.exists()


def test_an_import_report_rendered_while_the_database_writes_is_the_report(client, italy_token, monkeypatch):
    from sitealert.api import listings as api_listings

    monkeypatch.setattr(api_listings, "AHEAD_ROWS", 1)
    monkeypatch.setattr(api_listings, "AHEAD_BYTES", 1)
    rendered = []
    render = api_listings.RowsAhead.__call__
    monkeypatch.setattr(api_listings.RowsAhead, "__call__", lambda self, rows: rendered.append(len(rows)) or render(
        self, rows))
    assert upload(client, italy_token, b"target,category\nold.example,other\n").status_code == 200
    response = upload(client, italy_token, b"target,category\nold.example,other\nHTTPS://New.example/x,other\n")
    assert response.status_code == 200 and rendered == [1, 2]
    report = response.json()
    assert [(r["row"], r["input"], r["target"], r["status"]) for r in report["rows"]] == [
        (2, "old.example", "old.example", "unchanged"), (3, "HTTPS://New.example/x", "new.example", "accepted")]
    assert report["counts"] == {"accepted": 1, "unchanged": 1, "held": 0, "rejected": 0}
    assert list(report) == ["applied", "dry_run", "error", "version", "counts", "summary", "rows"]
    # A row the CSV parser rejected joins the rows after they were rendered: they are rendered again.
    response = upload(client, italy_token, b"target,category\nthird.example,other\nx.example,other,extra\n",
                      accept_valid_rows="true")
    assert response.status_code == 200 and rendered == [1, 2, 1]
    assert [(r["row"], r["status"]) for r in response.json()["rows"]] == [(2, "accepted"), (3, "rejected")]
    json_submit = client.post("/api/v1/listings", {"entries": [{"target": "fourth.example", "category": "other"}]},
                              content_type="application/json", headers=bearer(italy_token))
    assert json_submit.status_code == 200 and rendered == [1, 2, 1, 1]
    assert [r["target"] for r in json_submit.json()["rows"]] == ["fourth.example"]


def test_a_small_submission_is_rendered_without_a_thread(client, italy_token, monkeypatch):
    from sitealert.api import listings as api_listings

    monkeypatch.setattr(api_listings.RowsAhead, "__call__", lambda self, rows: pytest.fail("a thread for one row"))
    response = upload(client, italy_token, b"target,category\nsmall.example,other\n")
    assert response.status_code == 200 and response.json()["rows"][0]["status"] == "accepted"
