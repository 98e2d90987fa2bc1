"""The public check page, switched to Arabic, is laid out right-to-left."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_check_page_in_arabic_renders_right_to_left(page, screenshot, italy, list_targets):
    list_targets(italy, ["streaming-site.example"])

    response = page.goto("/check/?q=https://www.streaming-site.example/watch")
    assert response.ok, response.status
    expect(page.locator("html")).to_have_attribute("dir", "ltr")

    page.locator("#language-select").select_option("ar")
    page.locator("#language-submit").click()

    expect(page.locator("html")).to_have_attribute("lang", "ar")
    screenshot("check-ar")
    assert page.url.endswith("/check/?q=https://www.streaming-site.example/watch")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(page.locator("h1")).to_have_text(re.compile("[\u0600-\u06ff]"))
    expect(page.locator("main")).to_contain_text("streaming-site.example")
