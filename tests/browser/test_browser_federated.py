"""The pages that show a federated authority (docs/federation.md, "Provenance and review requests"):
no accessibility violation in English and Arabic, on a desktop and a phone, and the way to its own
installation's review form is a link a person can follow."""

import pytest

from tests.browser.test_browser_accessibility import violations
from tests.browser.test_browser_layout import DESKTOP, PHONE
from tests.provenance.conftest import bavaria, federated, list_federated  # noqa: F401 — fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
def federated_pages(italy, bavaria, list_targets, list_federated):  # noqa: F811
    list_targets(italy, ["pirate-films.test"])
    list_federated(bavaria, ["pirate-films.test", "only-bavaria.test"])
    return [
        ("check both", "/check/?q=https://www.pirate-films.test/watch", None),
        ("check only elsewhere", "/check/?q=only-bavaria.test", None),
        ("procedures", "/procedures/", None),
        ("federated procedure", "/procedures/bavaria/", None),
        ("federated history", "/procedures/bavaria/history/", None),
        ("review form both", "/review-requests/new/?target=pirate-films.test", None),
        ("review form only elsewhere", "/review-requests/new/?target=only-bavaria.test", None),
        ("statistics", "/statistics/", None),
    ]


def test_federated_pages_have_no_accessibility_violation(page, live_server, federated_pages):
    page.set_viewport_size(DESKTOP)
    found = violations(page, live_server, federated_pages, ["en", "ar"])
    page.set_viewport_size(PHONE)
    found += violations(page, live_server, federated_pages, ["en"])
    assert found == [], "\n".join(map(str, found))


def test_the_check_page_leads_to_the_authoritys_own_review_form(page, italy, bavaria, list_federated):  # noqa: F811
    list_federated(bavaria, ["only-bavaria.test"])
    page.goto("/check/?q=www.only-bavaria.test")
    link = page.get_by_role("link", name="Ask Bayerische Medienaufsicht at SiteAlert Europe")
    assert link.is_visible()
    assert link.get_attribute("href") == (
        "https://europe.sitealert.test/review-requests/new/?target=www.only-bavaria.test")
    assert page.locator("#request-review").count() == 0
