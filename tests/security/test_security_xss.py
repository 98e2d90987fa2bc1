"""Stored and reflected XSS: strings that contributors, the operator and the public control carry a
script tag and an attribute breakout, and come back escaped on every page, in the SVG badge and the
statistics charts. Pages run under a Content-Security-Policy that forbids inline script."""

import re

import pytest
from django.test import Client
from django.utils.html import escape

from sitealert.listings.models import Listing
from tests.security.attacks import XSS, XSS_ATTRIBUTE, XSS_SCRIPT, url_examples

ESCAPED = escape(XSS_SCRIPT)


def assert_escaped(response, where, *, rendered=True):
    text = response.content.decode()
    assert XSS_SCRIPT not in text, f"raw <script> on {where}"
    assert XSS_ATTRIBUTE not in text and '"onmouseover="' not in text, f"attribute breakout on {where}"
    if rendered:
        assert ESCAPED in text, f"the payload is not shown on {where}, so this check proves nothing"


def html_pages(client, values, extra=()):
    paths = [r.path for r in url_examples(values) if r.name not in ("logout", "admin:logout", "set_language")]
    for path in [*paths, *extra]:
        response = client.get(path)
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            yield path, response


@pytest.fixture
def poisoned(world, italy, adco, alice, carol, olga):
    """Every writable string of the installation set to the payload, each through its real entry point."""
    contributor, operator, user, public = Client(), Client(), Client(), Client()
    contributor.force_login(alice)
    operator.force_login(olga)
    user.force_login(carol)

    assert contributor.post("/listings/add/", {"target": "xss.example", "category": "other", "reference": XSS,
                                               "note": XSS}).status_code == 302
    procedure = dict.fromkeys(("description", "contact", "criteria", "procedure"), XSS)
    assert contributor.post(f"/procedures/{italy.slug}/edit/en/", procedure).status_code == 302
    for org in (italy, adco):
        change = operator.post(f"/admin/organizations/organization/{org.pk}/change/", {
            "name": f"Org {XSS}", "country": org.country, "website": ""})
        assert change.status_code == 302, change.content.decode()[:2000]
    assert user.post("/tokens/", {"name": XSS, "days": 30}).status_code == 200
    review = public.post("/review-requests/new/", {
        "target": "films.example", "name": XSS, "email": "xss@site.test", "relationship": "operator",
        "reasons": XSS, "evidence": "https://evidence.example/a", "homepage": ""})
    assert review.status_code == 302
    answer = contributor.post(f"/review-requests/inbox/{world['italy_case'].pk}/",
                              {"outcome": "upheld", "explanation": XSS})
    assert answer.status_code == 302
    hold = operator.post("/admin/listings/listing/", {
        "action": "hold", "_selected_action": [Listing.objects.get(target="italy-only.example").pk], "apply": "1",
        "reason": XSS})
    assert hold.status_code == 302
    return {"contributor": contributor, "operator": operator, "user": user, "public": public}


@pytest.mark.django_db
def test_contributor_operator_and_public_strings_are_escaped_everywhere(poisoned, world, italy, adco):
    from sitealert.reviews.models import ReviewRequest

    new_request = ReviewRequest.objects.get(name=XSS)
    values = {"slug": italy.slug, "token": world["status_path"].split("/")[-2], "target": "films.example"}
    shown = {
        "contributor": ["/listings/", "/listings/?status=held", f"/review-requests/inbox/{world['italy_case'].pk}/",
                        f"/procedures/{italy.slug}/", f"/procedures/{italy.slug}/history/", "/review-requests/inbox/"],
        "operator": [f"/admin/listings/listing/{Listing.objects.get(target='xss.example').pk}/change/",
                     f"/admin/reviews/reviewrequest/{new_request.pk}/change/", "/admin/organizations/organization/",
                     "/admin/organizations/apitoken/", "/admin/core/auditevent/"],
        "user": ["/tokens/", "/download/"],
        "public": ["/check/?q=films.example", "/procedures/", f"/procedures/{italy.slug}/", world["status_path"],
                   "/statistics/", f"/members/{adco.slug}/"],
    }
    for role, client in poisoned.items():
        seen = set()
        for path, response in html_pages(client, values, shown[role]):
            rendered = path in shown[role] and path not in seen
            seen.add(path)
            assert_escaped(response, f"{path} as {role}", rendered=rendered)


@pytest.mark.django_db
def test_the_svg_badge_and_charts_escape_organization_names(poisoned, adco):
    badge = Client().get(f"/members/{adco.slug}/badge.svg")
    assert badge.status_code == 200 and badge["Content-Type"].startswith("image/svg+xml")
    assert_escaped(badge, "the member badge")
    assert "<script" not in badge.content.decode().lower()
    assert "script-src 'self'" in badge["Content-Security-Policy"] and badge["X-Content-Type-Options"] == "nosniff"
    statistics = Client().get("/statistics/").content.decode()
    charts = re.findall(r"<svg.*?</svg>", statistics, re.S)
    assert any(ESCAPED in chart for chart in charts), "the review chart names the (poisoned) contributor"
    assert not any("<script" in chart.lower() for chart in charts)
    table = Client().get("/statistics/review-outcomes.csv")
    assert table["Content-Type"].startswith("text/csv") and "attachment" in table["Content-Disposition"]


@pytest.mark.django_db
def test_reflected_input_of_the_public_is_escaped(world):
    client = Client()
    for query in [XSS, f"films.example/{XSS}", f"https://films.example/?q={XSS}", f"javascript:{XSS}"]:
        page = client.get("/check/", {"q": query})
        assert page.status_code == 200
        assert_escaped(page, f"/check/?q={query}", rendered=False)
        api = client.get("/api/v1/check", {"q": query})
        assert api["Content-Type"] == "application/json" and api["X-Content-Type-Options"] == "nosniff"
    form = client.post("/review-requests/new/", {
        "target": XSS, "name": XSS, "email": "x@site.test", "relationship": "operator", "reasons": XSS,
        "evidence": f"javascript:alert(1)\nhttps://ok.example/{XSS}"})
    assert form.status_code == 200
    assert_escaped(form, "the review form with errors")
    assert 'href="javascript:' not in form.content.decode()
    missing = client.get("/api/v1/" + XSS)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_evidence_links_must_be_web_addresses(world):
    client = Client()
    for link in ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
                 "JaVaScRiPt:alert(1)", " javascript:alert(1)"]:
        response = client.post("/review-requests/new/", {
            "target": "films.example", "name": "n", "email": "x@site.test", "relationship": "operator",
            "reasons": "r", "evidence": link, "homepage": ""}, REMOTE_ADDR=f"198.51.100.{len(link)}")
        assert response.status_code == 200 and "evidence" in response.content.decode(), link


@pytest.mark.django_db
def test_every_html_page_has_a_csp_without_inline_script(poisoned, world, italy, adco):
    values = {"slug": italy.slug, "token": world["status_path"].split("/")[-2], "target": "films.example"}
    checked = 0
    for role, client in poisoned.items():
        for path, response in html_pages(client, values, ["/check/?q=films.example", f"/members/{adco.slug}/"]):
            policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
                          if part.strip())
            script_src = policy.get("script-src", policy.get("default-src", ""))
            assert script_src and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
            assert "*" not in script_src.split() and "data:" not in script_src, path
            assert policy.get("object-src") == "'none'" and "frame-ancestors" in policy, path
            text = response.content.decode()
            inline = [tag for tag in re.findall(r"<script\b[^>]*>", text, re.I)
                      if "src=" not in tag and 'type="application/json"' not in tag]
            assert inline == [], f"inline script on {path} as {role}, which the CSP would block: {inline}"
            checked += 1
    assert checked > 40
