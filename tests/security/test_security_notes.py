"""A listing's private note is seen by its contributor and the operator, and by no one else.

Each contributor's note carries a unique marker. Everything the public, an authorized user and the
other contributor can reach is fetched — every page of the URLconf, every API document in every
format, the downloads, the review-request e-mails — and searched for the marker."""

import gzip
import json

import pytest
from django.core import mail
from django.test import Client

from tests.security.attacks import url_examples
from tests.security.conftest import ITALY_NOTE, KOREA_NOTE, NOTES, bearer


def body_of(response):
    data = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def crawl(client, values, extra=(), headers=None):
    """GET every page of the URLconf (with `values` for its placeholders) and the `extra` paths."""
    bodies = {}
    paths = [r.path for r in url_examples(values) if r.name not in ("logout", "admin:logout", "set_language")]
    for path in [*paths, *extra]:
        response = client.get(path, headers=headers or {})
        bodies[path] = (response.status_code, body_of(response))
    return bodies


def leaks(bodies, secrets):
    return sorted(f"{path} ({status})" for path, (status, text) in bodies.items() if any(s in text for s in secrets))


def public_values(world, italy):
    return {"slug": italy.slug, "token": world["status_path"].split("/")[-2], "target": "films.example"}


FEED_PATHS = ["/api/v1/feed", "/api/v1/feed?format=txt", "/api/v1/feed?format=csv", "/api/v1/feed/changes?since=0",
              "/api/v1/federation/listings?since=0", "/api/v1/federation/authorities",
              "/download/sitealert.txt", "/download/sitealert.csv", "/download/sitealert.json", "/download/"]
PUBLIC_PATHS = ["/check/?q=films.example", "/check/?q=www.italy-only.example", "/api/v1/check?q=films.example",
                "/api/v1/check?q=italy-only.example", "/api/v1/openapi.json", "/statistics/",
                "/statistics/review-outcomes.csv", "/procedures/"]


@pytest.mark.django_db
def test_the_public_never_sees_a_note(world, italy, adco):
    client = Client()
    bodies = crawl(client, public_values(world, italy), PUBLIC_PATHS + [world["status_path"], f"/members/{adco.slug}/"])
    assert bodies["/check/?q=films.example"][0] == 200 and "italy-only" not in bodies["/check/?q=films.example"][1]
    assert leaks(bodies, NOTES) == []


@pytest.mark.django_db
def test_an_authorized_user_never_sees_a_note(world, italy, carol, adco_token):
    client = Client()
    client.force_login(carol)
    bodies = crawl(client, public_values(world, italy), FEED_PATHS + PUBLIC_PATHS)
    api = Client()
    bodies.update({f"api {p}": (r.status_code, body_of(r)) for p, r in [
        (p, api.get(p, headers=bearer(adco_token))) for p in FEED_PATHS if p.startswith("/api/")]})
    bodies.update({f"gzip {p}": (r.status_code, body_of(r)) for p, r in [
        (p, api.get(p, headers={**bearer(adco_token), "Accept-Encoding": "gzip"})) for p in FEED_PATHS[:3]]})
    lookup = api.post("/api/v1/lookup", data=json.dumps({"items": ["films.example", "www.italy-only.example"]}),
                      content_type="application/json", headers=bearer(adco_token))
    bodies["lookup"] = (lookup.status_code, body_of(lookup))
    bodies["token"] = (200, body_of(api.get("/api/v1/token", headers=bearer(adco_token))))
    assert bodies["api /api/v1/feed"][0] == 200 and "italy-only.example" in bodies["api /api/v1/feed"][1]
    assert bodies["/download/sitealert.json"][0] == 200 and lookup.status_code == 200
    assert leaks(bodies, NOTES) == []


@pytest.mark.django_db
def test_another_contributor_never_sees_a_note_that_is_not_its_own(world, italy, korea, bob, korea_token):
    client = Client()
    client.force_login(bob)
    case = world["korea_case"].pk
    bodies = crawl(client, {**public_values(world, italy), "pk": str(case)}, [
        "/listings/", "/listings/?q=films", "/monitoring/", f"/review-requests/inbox/{case}/",
        "/monitoring/graph/films.example/", f"/procedures/{korea.slug}/edit/en/", *PUBLIC_PATHS])
    assert KOREA_NOTE in bodies["/listings/"][1]  # the marker is rendered where it may be
    assert bodies[f"/review-requests/inbox/{case}/"][0] == 200 and bodies["/monitoring/graph/films.example/"][0] == 200
    api = Client()
    for path, data in [
        ("/api/v1/listings", {"entries": [{"target": "films.example", "category": "other", "note": "kr"}],
                              "dry_run": True}),
        ("/api/v1/listings", {"entries": [{"target": "italy-only.example", "category": "other"}]}),
        ("/api/v1/listings/remove", {"targets": ["films.example", "italy-only.example", "stale.example"],
                                     "reason": "x", "accept_valid_rows": True}),
    ]:
        response = api.post(path, data=json.dumps(data), content_type="application/json", headers=bearer(korea_token))
        bodies[f"api {path} {data}"] = (response.status_code, body_of(response))
    assert leaks(bodies, [ITALY_NOTE]) == []


@pytest.mark.django_db
def test_review_request_emails_carry_no_note(world):
    assert mail.outbox, "the world fixture sends the review-request e-mails"
    for message in mail.outbox:
        assert not any(note in message.body or note in message.subject for note in NOTES), message.subject


@pytest.mark.django_db
def test_the_operator_can_read_notes_in_the_admin(world, olga):
    client = Client()
    client.force_login(olga)
    page = client.get(f"/admin/listings/listing/{world['italy_listing'].pk}/change/")
    assert page.status_code == 200 and ITALY_NOTE in page.content.decode()


@pytest.mark.django_db
def test_the_public_does_not_learn_who_edits_or_answers(world, italy, alice):
    """Procedure revisions and answers to review requests are the authority's; the account names of its
    staff stay inside (the operator and the contributor see them)."""
    editor = Client()
    editor.force_login(alice)
    editor.post(f"/procedures/{italy.slug}/edit/en/", {"description": "d", "contact": "c", "criteria": "c",
                                                       "procedure": "p"})
    editor.post(f"/review-requests/inbox/{world['italy_case'].pk}/", {"outcome": "upheld", "explanation": "kept"})
    from sitealert.procedures.models import ProcedureRevision

    revision = ProcedureRevision.objects.get(organization=italy)
    public = Client()
    for path in [f"/procedures/{italy.slug}/", f"/procedures/{italy.slug}/history/",
                 f"/procedures/{italy.slug}/history/{revision.pk}/", world["status_path"]]:
        response = public.get(path)
        assert response.status_code == 200 and "alice" not in response.content.decode(), path
    assert "alice" in editor.get(f"/procedures/{italy.slug}/history/").content.decode()
