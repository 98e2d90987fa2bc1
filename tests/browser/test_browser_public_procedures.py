"""The procedures database in a real browser: find an authority by search and filters, read all
five fields, switch the interface language and see the procedure follow it; the review form keeps
what was typed when a limit is reached."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FIELDS = {"description": "We are the national authority.", "contact": "desk@agcom.test",
          "criteria": "Commercial scale only.", "procedure": "Decision and notice.",
          "appeal": "Ask us for a review; appeal to the administrative court within 60 days."}


def test_find_read_and_switch_language(page, screenshot, italy, korea):
    from sitealert.procedures.models import OperatingProcedure

    OperatingProcedure.objects.create(organization=italy, language="fr", **{
        **FIELDS, "description": "Nous sommes l'autorité nationale.", "appeal": "Recours sous 60 jours."})
    OperatingProcedure.objects.create(organization=italy, language="es", **{
        **FIELDS, "description": "Somos la autoridad nacional.", "appeal": "Recurso en 60 días."})
    OperatingProcedure.objects.create(organization=korea, language="en", **FIELDS)

    page.goto("/procedures/")
    page.get_by_label("Country").select_option("IT")
    page.locator("#procedure-search button[type=submit]").click()
    expect(page.locator("#procedures-table tbody tr")).to_have_count(1)
    expect(page.locator("#procedure-search-count")).to_have_text("1 of 2 authorities")
    page.locator("#procedure-search-clear").click()
    page.get_by_label("Search").fill("administrative court")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#procedures-table tbody tr")).to_have_count(1)
    expect(page.locator("#procedures-table")).to_contain_text(korea.name)
    screenshot("procedures-search")

    page.goto(f"/procedures/{italy.slug}/?lang=fr")
    expect(page.locator("#procedure-appeal")).to_contain_text("Recours sous 60 jours.")
    page.locator("#language-select").select_option("es")
    page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(".procedure-text")).to_contain_text("Somos la autoridad nacional.")
    expect(page.locator("#procedure-appeal")).to_contain_text("Recurso en 60 días.")
    expect(page.locator("#fallback-notice")).to_have_count(0)
    screenshot("procedure-after-switch")


def test_review_form_keeps_the_text_over_the_limit(page, screenshot, italy, list_targets, settings):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_REQUEST_IP_RATE": 0}

    page.goto("/review-requests/new/?target=pirate.test")
    page.get_by_label("Your name").fill("Sam Owner")
    page.get_by_label("Your e-mail address").fill("sam@pirate.test")
    page.get_by_label("Your relationship to the site").select_option("operator")
    page.get_by_label("Why should the listing be reviewed?").fill("Every film was taken down in March.")
    page.locator("#review-submit").click()

    expect(page.locator("#review-limited")).to_contain_text("Your request has not been sent")
    expect(page.get_by_label("Why should the listing be reviewed?")).to_have_value(
        "Every film was taken down in March.")
    expect(page.get_by_label("Your e-mail address")).to_have_value("sam@pirate.test")
    screenshot("review-form-limited")
