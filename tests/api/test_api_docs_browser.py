"""The interactive API docs work in a real browser under the site's Content-Security-Policy."""

import pytest

from tests.browser.conftest import browser, page  # noqa: F401 - shared Chromium fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_every_operation_without_csp_violations(page):  # noqa: F811
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".info .title").inner_text().startswith("SiteAlert API")
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    for path in ["/api/v1/feed", "/api/v1/feed/changes", "/api/v1/lookup", "/api/v1/check", "/api/v1/listings",
                 "/api/v1/listings/remove", "/api/v1/imports"]:
        assert path in [s.strip().replace("\u200b", "") for s in summaries], summaries
    assert page.get_by_role("button", name="Authorize").is_visible()
    assert not problems, problems
