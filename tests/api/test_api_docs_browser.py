"""The interactive API docs work in a real browser under the site's Content-Security-Policy."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def docs_page(live_server, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; allow the ORM there for this test only
    # (set at import time, the variable would also fail Django's deployment checks in other tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(base_url=live_server.url)
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def test_swagger_ui_renders_every_operation_without_csp_violations(docs_page):
    page, problems = docs_page, []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".info .title").inner_text().startswith("SiteAlert API")
    paths = [s.strip().replace("\u200b", "") for s in page.locator(".opblock-summary-path").all_inner_texts()]
    for path in ["/api/v1/feed", "/api/v1/feed/changes", "/api/v1/lookup", "/api/v1/check", "/api/v1/listings",
                 "/api/v1/listings/remove", "/api/v1/imports"]:
        assert path in paths, paths
    assert page.get_by_role("button", name="Authorize").is_visible()
    assert not problems, problems
