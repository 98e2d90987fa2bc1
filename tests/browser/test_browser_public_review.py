"""A full review-request round trip in a real browser: submit by keyboard, confirm from the e-mail,
the contributor removes the listing from its inbox, the requester sees the outcome and the
statistics count it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def confirmation_path(mailoutbox):
    (link,) = re.findall(r"https?://\S+/review-requests/confirm/\S+", mailoutbox[-1].body)
    return re.sub(r"^https?://[^/]+", "", link)


def test_review_request_round_trip(page, browser, live_server, log_in, screenshot, alice, italy, korea,
                                   list_targets, mailoutbox):
    list_targets(italy, ["pirate.test"])
    list_targets(korea, ["pirate.test"])

    # The public check links to the review form with the target filled in.
    page.goto("/check/")
    page.get_by_label("Domain, web address or app").fill("https://www.pirate.test/films")
    page.keyboard.press("Enter")
    expect(page.locator("#check-result-heading")).to_contain_text("is on the list")
    expect(page.locator("#check-matches > li")).to_have_count(2)
    page.locator("#request-review").click()
    expect(page.get_by_label("Site or app")).to_have_value("www.pirate.test")

    # Fill the form with the keyboard alone: every field is labelled and reached by Tab; the
    # honeypot field is not in the tab order.
    page.get_by_label("Site or app").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Sam Owner")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your e-mail address")).to_be_focused()
    page.keyboard.type("sam@pirate.test")
    page.keyboard.press("Tab")
    relationship = page.get_by_label("Your relationship to the site")
    expect(relationship).to_be_focused()
    relationship.select_option("operator")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Why should the listing be reviewed?")).to_be_focused()
    page.keyboard.type("We took down every film in March; see the notice.")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Evidence links")).to_be_focused()
    page.keyboard.type("https://pirate.test/notice")
    page.keyboard.press("Tab")
    expect(page.locator("#review-submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Check your e-mail")

    # The e-mailed link shows the request and confirms it with one button.
    page.goto(confirmation_path(mailoutbox))
    expect(page.locator("#review-summary")).to_contain_text("We took down every film in March")
    page.locator("#review-confirm").click()
    expect(page).to_have_url(re.compile(r"/review-requests/status/[\w-]{40,}/$"))
    status_url = page.url
    cases = page.locator("#review-cases > li")
    expect(cases).to_have_count(2)
    expect(cases.first).to_contain_text("Awaiting an answer")

    # Italy's member answers from the inbox: remove, with a reason.
    log_in("alice")
    page.goto("/review-requests/inbox/")
    page.locator("#inbox-open a").first.click()
    expect(page.locator("#review-summary")).to_contain_text("sam@pirate.test")
    page.get_by_label("Remove the listing").check()
    page.get_by_label("Explanation").fill("The site no longer offers infringing films. Listing withdrawn.")
    page.locator("#answer-submit").click()
    expect(page.locator(".messages")).to_contain_text("Your answer is recorded")
    expect(page.locator("#inbox-answered")).to_contain_text("Listing removed")

    # The requester, in a browser of their own, sees the outcome at the private link.
    requester = browser.new_context(base_url=live_server.url, locale="en-GB")
    try:
        status = requester.new_page()
        status.goto(status_url)
        italy_case = status.locator("#review-cases > li", has_text=italy.name)
        expect(italy_case).to_contain_text("Listing removed")
        expect(italy_case).to_contain_text("The site no longer offers infringing films.")
        expect(status.locator("#review-cases > li", has_text=korea.name)).to_contain_text("Awaiting an answer")
        assert any("has removed its listing" in m.body for m in mailoutbox if m.to == ["sam@pirate.test"])

        # Korea still lists it, so the check still answers "listed", by one authority.
        status.goto("/check/?q=www.pirate.test")
        expect(status.locator("#check-matches > li")).to_have_count(1)
        expect(status.locator("#check-matches")).to_contain_text(korea.name)

        # The statistics count the answer.
        status.goto("/statistics/")
        row = status.locator("#table-review-outcomes tbody tr", has_text=italy.name)
        expect(row.locator("td").nth(1)).to_have_text("1")  # received
        expect(row.locator("td").nth(3)).to_have_text("1")  # removed
        expect(status.locator("#chart-reviews-title")).to_have_count(1)
    finally:
        requester.close()
    screenshot("review-inbox")
