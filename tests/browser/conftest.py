"""Browser tests: Debian's headless Chromium, driven by Playwright, against pytest-django's live_server.

Playwright never downloads a browser here; scripts/test installs Debian's chromium when it is missing.
"""

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's services, which
# this machine's closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module.

    While Playwright's sync API is started, its asyncio event loop counts as running in this thread,
    and Django refuses ORM calls there unless DJANGO_ALLOW_ASYNC_UNSAFE is set. Module scope, not
    session, keeps both the loop and the override to the browser tests: every other test runs under
    Django's normal rules.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def log_in(page):
    """log_in(username): sign in through the login form, as a person would."""
    from tests.conftest import PASSWORD

    def _log_in(username, password=PASSWORD):
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.locator("#login-submit").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return _log_in


@pytest.fixture
def screenshot(page, tmp_path):
    """screenshot(name): save the whole page as NAME.png in the test's tmp dir and return its path."""

    def _screenshot(name):
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _screenshot


@pytest.fixture
def upload_csv(page, tmp_path):
    """upload_csv(text, option): send TEXT from the upload page with the checkbox labelled OPTION
    ticked, as a person would; returns the report's locator."""

    def _upload_csv(text, option):
        csv_file = tmp_path / "listings.csv"
        csv_file.write_text(text, encoding="utf-8")
        page.goto("/listings/upload/")
        page.get_by_label("CSV file").set_input_files(csv_file)
        page.get_by_label(option).check()
        page.locator("#upload-submit").click()
        return page.locator("#upload-report")

    return _upload_csv
