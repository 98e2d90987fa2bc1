"""In the demo, a review request can be finished in the browser: the 'check your e-mail' page
points to the outbox, where operator staff read the confirmation mail and follow its link."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_mode(settings, tmp_path, live_server):
    settings.SITE_URL = live_server.url  # as `sitealert demo` sets it to its own address
    settings.SITEALERT = {**settings.SITEALERT, "DEMO_OUTBOX": True}
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")


def test_a_demo_review_request_is_confirmed_from_the_outbox(demo_mode, page, log_in, italy, olga, list_targets):
    list_targets(italy, ["pirate.test"])
    page.goto("/review-requests/new/?target=pirate.test")
    page.get_by_label("Your name").fill("Sam Owner")
    page.get_by_label("Your e-mail address").fill("sam@pirate.test")
    page.get_by_label("Your relationship to the site").select_option("operator")
    page.get_by_label("Why should the listing be reviewed?").fill("We took down every film in March.")
    page.locator("#review-submit").click()
    expect(page.locator("h1")).to_have_text("Check your e-mail")
    expect(page.locator("#demo-outbox")).to_contain_text("no e-mail leaves this machine")

    page.locator("#demo-outbox a").click()
    expect(page).to_have_url(re.compile(r"/login/\?next=/outbox/$"))
    log_in("olga")
    page.goto("/outbox/")
    message = page.locator(".outbox-message").first
    expect(message).to_contain_text("sam@pirate.test")
    message.locator('a[href*="/review-requests/confirm/"]').click()
    expect(page.locator("#review-summary")).to_contain_text("We took down every film in March")
