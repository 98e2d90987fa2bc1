"""A member badge verified in a real browser: the SVG loads, links to the verification page, and
says 'not valid' once the member is suspended."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_badge_verification(page, screenshot, adco, olga):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import set_organization_status

    page.goto(f"/members/{adco.slug}/")
    expect(page.locator("#member-status")).to_contain_text("AdCo Exchange is an authorized user of SiteAlert")
    badge = page.locator("#badge-preview")
    expect(badge).to_be_visible()
    assert page.evaluate("document.getElementById('badge-preview').naturalWidth") > 100
    embed = page.locator("#badge-code").input_value()
    assert f'/members/{adco.slug}/badge.svg' in embed and 'href="' in embed
    screenshot("member-valid")

    # Opened on its own, the badge is a link to the verification page.
    page.goto(f"/members/{adco.slug}/badge.svg")
    page.locator("a").click()
    expect(page).to_have_url(f"{page.url.split('/members/')[0]}/members/{adco.slug}/")

    set_organization_status(adco, "suspended", actor=Actor(user=olga, organization=olga.membership.organization))
    page.reload()
    expect(page.locator("#member-status")).to_contain_text("Not valid: AdCo Exchange is suspended.")
    expect(page.locator("#badge-code")).to_have_count(0)
    screenshot("member-suspended")
    svg = page.goto(f"/members/{adco.slug}/badge.svg").text()
    assert "NOT VALID" in svg


def test_unknown_member_is_404(page):
    assert page.goto("/members/nobody-at-all/").status == 404
    assert page.goto("/members/nobody-at-all/badge.svg").status == 404
