"""axe-core finds no accessibility violation, of any impact, on any public page: in all six languages on a
1280×800 desktop, and in English and Arabic (left-to-right and right-to-left) on a 390×844 phone.

axe-core comes from the npm registry, pinned in package.json and package-lock.json; scripts/test installs
it with `npm ci` and the test injects node_modules/axe-core/axe.min.js into each page."""

from pathlib import Path

import pytest

from tests.browser.test_browser_layout import DESKTOP, LANGUAGES, PHONE, in_language

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Every rule axe runs by default (WCAG 2.x A and AA and its best practices); each violation as its rule
# id, impact and the first few elements, enough to find it in the template.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n')[1])}));
}"""


@pytest.fixture
def public_pages(alice, italy, korea, adco, list_targets, confirmed_review):
    """(name, path, action) for every public page; an action is run on the page before axe looks at it."""
    from sitealert.core.actors import Actor
    from sitealert.procedures.models import ProcedureRevision
    from sitealert.procedures.services import save_procedure

    list_targets(italy, ["pirate-films.test"])
    list_targets(korea, ["pirate-films.test"])
    for text in ("We are the national authority.", "We are the national communications authority."):
        save_procedure(italy, "en", {"description": text, "contact": "desk@agcom.test",
                                     "criteria": "Commercial scale.", "procedure": "A written decision."},
                       actor=Actor(user=alice, organization=italy))
    revision = ProcedureRevision.objects.filter(organization=italy).order_by("pk").first()
    status = confirmed_review("pirate-films.test")

    def send_empty_form(page):
        page.locator("#review-submit").click()
        page.locator("#form-errors").wait_for()

    return [
        ("home", "/", None),
        ("check", "/check/", None),
        ("check listed", "/check/?q=https://www.pirate-films.test/watch", None),
        ("check unlisted", "/check/?q=innocent-site.test", None),
        ("check invalid", "/check/?q=not a site!", None),
        ("procedures", "/procedures/", None),
        ("procedures filtered", f"/procedures/?q=authority&country={italy.country}&language=en", None),
        ("procedures bad filter", "/procedures/?country=ZZ&language=xx", None),
        ("procedure", f"/procedures/{italy.slug}/", None),
        ("history", f"/procedures/{italy.slug}/history/", None),
        ("revision", f"/procedures/{italy.slug}/history/{revision.pk}/", None),
        ("statistics", "/statistics/", None),
        ("review form", "/review-requests/new/?target=pirate-films.test", None),
        ("review form with errors", "/review-requests/new/?target=pirate-films.test", send_empty_form),
        ("review sent", "/review-requests/sent/", None),
        ("review status", status, None),
        ("member", f"/members/{adco.slug}/", None),
        ("login", "/login/", None),
    ]


def violations(page, live_server, pages, languages):
    axe_source = AXE.read_text(encoding="utf-8")
    found = []
    for language in languages:
        in_language(page, live_server, language)
        for name, path, action in pages:
            page.goto(path)
            if action:
                action(page)
            page.evaluate(axe_source)  # evaluated, not a <script>: the pages' CSP allows no inline script
            found += [(language, name, v) for v in page.evaluate(RUN_AXE)]
    return found


def test_no_public_page_has_an_accessibility_violation(page, live_server, public_pages):
    page.set_viewport_size(DESKTOP)
    found = violations(page, live_server, public_pages, LANGUAGES)
    page.set_viewport_size(PHONE)
    found += violations(page, live_server, public_pages, ["en", "ar"])
    assert found == [], "\n".join(map(str, found))
