"""Public pages in Arabic, right to left: the switcher on every page, the statistics charts, a
procedure shown in a labelled fallback language, and the review form reachable by keyboard."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def switch_to_arabic(page):
    page.locator("#language-select").select_option("ar")
    page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def test_statistics_and_procedure_in_arabic(page, screenshot, italy, list_targets):
    from sitealert.procedures.models import OperatingProcedure

    list_targets(italy, ["pirate.test", "films.test"])
    OperatingProcedure.objects.create(organization=italy, language="en", description="We are the authority.",
                                      contact="desk@agcom.test", criteria="Commercial scale.",
                                      procedure="Decision, notice, appeal.")

    page.goto("/statistics/")
    switch_to_arabic(page)
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("h1")).to_have_text("الإحصاءات")
    assert page.evaluate("getComputedStyle(document.querySelector('main h1')).direction") == "rtl"
    chart = page.locator("svg#chart-country, svg[aria-labelledby^='chart-country']")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 300
    expect(page.locator("#table-listings-by-country thead")).to_contain_text("الشهر")
    screenshot("statistics-ar")

    page.goto(f"/procedures/{italy.slug}/")
    expect(page.locator("#fallback-notice")).to_contain_text("هذا الإجراء غير متاح باللغة")
    expect(page.locator("#fallback-notice")).to_contain_text("الإنجليزيّة")  # the language's name, in Arabic
    text = page.locator(".procedure-text [lang='en']").first
    expect(text).to_have_text("We are the authority.")
    assert text.evaluate("element => getComputedStyle(element).direction") == "ltr"
    assert page.evaluate("getComputedStyle(document.querySelector('.procedure-text h2')).direction") == "rtl"
    screenshot("procedure-ar")

    page.goto("/check/?q=www.pirate.test")
    expect(page.locator("#check-result-heading")).to_contain_text("مدرج في القائمة")
    page.locator("#request-review").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("الموقع أو التطبيق")).to_have_value("www.pirate.test")
    page.get_by_label("الموقع أو التطبيق").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("اسمك")).to_be_focused()
    screenshot("review-form-ar")
