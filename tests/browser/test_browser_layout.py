"""The pages hold on a 390×844 phone and a 1280×800 desktop, in all six languages: chart text stays
legible, nothing runs off the side unless it scrolls in a marked container, the check answer is read
without scrolling sideways, the navigation fits in two rows, and a form with errors opens on its
error summary."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LANGUAGES = [code for code, _name in settings.LANGUAGES]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# What runs off the side of the window. An element that scrolls sideways must be a .table-wrap whose
# scroll hint shows; anything else must fit in the window. Visually hidden text, the honeypot field
# and the skip link are off-screen on purpose. Two animation frames first: the scroll hints are
# revealed by a scroll-driven animation, which runs with the first frames after the page loads.
LAYOUT_PROBLEMS = """async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const width = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && el.className.baseVal === undefined ? '.' + el.className.split(' ').join('.') : '') +
    ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const problems = [];
  if (document.documentElement.scrollWidth > width) {
    problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + width);
  }
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.visually-hidden, .hp, .skip-link')) continue;
    const overflowX = getComputedStyle(el).overflowX;
    if ((overflowX === 'auto' || overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      const hint = el.querySelector(':scope > .scroll-hint');
      if (!el.matches('.table-wrap') || !hint || hint.getBoundingClientRect().height === 0) {
        problems.push('scrolls sideways without saying so: ' + name(el));
      }
      continue;
    }
    if (el.parentElement.closest('.table-wrap')) continue;  // scrolled into view inside its container
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 1 || box.left < -1)) problems.push('outside the window: ' + name(el));
  }
  return problems;
}"""

HINT_MATCHES_OVERFLOW = """async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return [...document.querySelectorAll('.table-wrap')].every(wrap =>
  (wrap.querySelector(':scope > .scroll-hint').getBoundingClientRect().height > 0) ===
  (wrap.scrollWidth > wrap.clientWidth + 1));
}"""

# Each visible text of a chart: its size on screen (font size times the drawing's scale) and
# whether it lies wholly inside its chart.
CHART_TEXTS = """() => [...document.querySelectorAll('svg.chart text')]
  .filter(t => t.getClientRects().length && getComputedStyle(t).display !== 'none')
  .map(t => {
    const svg = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
    return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
            inside: box.left >= svg.left - 1 && box.right <= svg.right + 1};
  })"""


def in_language(page, live_server, language):
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])


@pytest.fixture
def two_years_of_listings(italy, korea, list_targets):
    """Italy and Korea list sites month after month for two years, so the charts have 24 months."""
    from sitealert.listings.models import Listing

    for org, prefix in ((italy, "it"), (korea, "kr")):
        list_targets(org, [f"{prefix}-site-{n}.test" for n in range(24)])
        for n in range(24):
            Listing.objects.filter(target=f"{prefix}-site-{n}.test").update(
                listed_at=datetime(2025 + n // 12, n % 12 + 1, 10, tzinfo=UTC))


def test_statistics_on_a_phone_in_every_language(page, live_server, screenshot, two_years_of_listings,
                                                 confirmed_review):
    confirmed_review("it-site-1.test")  # the review chart too
    page.set_viewport_size(PHONE)
    for language in LANGUAGES:
        in_language(page, live_server, language)
        page.goto("/statistics/")
        expect(page.locator("svg.chart")).to_have_count(4)
        texts = page.evaluate(CHART_TEXTS)
        assert texts
        too_small = [t for t in texts if t["size"] < 11]
        assert not too_small, (language, too_small[:5])
        cut = [t["text"] for t in texts if not t["inside"]]
        assert not cut, (language, cut)
        # Legends and column headers name the countries in the reader's language, never by code.
        headers = page.locator("#table-listings-by-country thead th").all_inner_texts()
        assert "IT" not in headers and "KR" not in headers, (language, headers)
        assert "IT" not in page.locator(".chart-legend").first.inner_text().split(), language
        assert page.evaluate(LAYOUT_PROBLEMS) == [], language
        # A table that scrolls sideways says so, and only such a table (the review table's eight columns do).
        assert page.evaluate(HINT_MATCHES_OVERFLOW), language
        expect(page.locator(".table-wrap:has(#table-review-outcomes) > .scroll-hint")).to_be_visible()
        if language == "ar":
            screenshot("statistics-phone-ar")


def test_statistics_tables_on_a_desktop_need_no_hint(page, two_years_of_listings):
    page.set_viewport_size(DESKTOP)
    page.goto("/statistics/")
    expect(page.locator("#table-monthly-changes")).to_be_visible()
    expect(page.locator(".scroll-hint:visible")).to_have_count(0)
    assert page.evaluate(LAYOUT_PROBLEMS) == []


def test_the_check_answer_is_read_on_a_phone_without_scrolling_sideways(page, live_server, screenshot, italy, korea,
                                                                        list_targets):
    list_targets(italy, ["pirate-films.test"])
    list_targets(korea, ["pirate-films.test"])
    page.set_viewport_size(PHONE)
    for language in LANGUAGES:
        in_language(page, live_server, language)
        page.goto("/check/?q=https://www.pirate-films.test/watch")
        answers = page.locator("#check-matches > li")
        expect(answers).to_have_count(2)
        for answer in answers.all():
            facts = answer.locator("dt, dd")
            expect(facts).to_have_count(10)
            for fact in [*facts.all(), answer.locator("a[href*='/procedures/']")]:
                expect(fact).to_be_visible()
                box = fact.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (language, fact.inner_text())
        assert page.evaluate(LAYOUT_PROBLEMS) == [], language
        if language == "zh-hans":
            screenshot("check-phone-zh")


def rows_of(page, selector):
    """How many rows the elements matching `selector` are laid out on (by their vertical centres)."""
    centres = sorted(box["y"] + box["height"] / 2 for box in
                     (element.bounding_box() for element in page.locator(selector).all()) if box)
    rows = 0
    last = None
    for centre in centres:
        if last is None or centre > last + 12:
            rows += 1
            last = centre
    return rows


def test_the_contributor_header_fits_two_rows_at_1280_px(page, live_server, log_in, screenshot, alice, italy,
                                                         list_targets):
    from sitealert.listings.models import Listing

    list_targets(italy, ["streaming-films-and-series-archive.example", "live-football-every-weekend.test"])
    Listing.objects.update(note="Seen by the office during an advertising audit of the major sports leagues")
    page.set_viewport_size(DESKTOP)
    log_in("alice")
    for language in LANGUAGES:
        in_language(page, live_server, language)
        page.goto("/listings/")
        expect(page.locator(".site-nav li")).not_to_have_count(0)
        assert rows_of(page, ".site-header a, .site-header button, .site-header select") <= 2, language
        assert rows_of(page, ".site-nav li") == 1, language
        # Every column of the listings table is in view, the private note included.
        table_wrap = page.locator(".table-wrap:has(#listings-table)")
        assert table_wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), language
        assert page.evaluate(LAYOUT_PROBLEMS) == [], language
        if language == "ru":
            screenshot("listings-desktop-ru")


def test_a_form_with_errors_opens_on_its_error_summary(page, live_server, italy, list_targets):
    list_targets(italy, ["pirate.test"])
    page.goto("/review-requests/new/?target=pirate.test")
    page.locator("#review-submit").click()

    summary = page.locator("#form-errors")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("There is a problem")
    links = summary.locator("a")
    expect(links).to_have_count(4)
    expect(links.first).to_have_text("Your name: This field is required.")
    links.first.click()
    expect(page.get_by_label("Your name")).to_be_focused()

    # The same in Arabic, on a phone.
    page.set_viewport_size(PHONE)
    in_language(page, live_server, "ar")
    page.goto("/review-requests/new/?target=pirate.test")
    page.locator("#review-submit").click()
    expect(page.locator("#form-errors")).to_be_focused()
    expect(page.locator("#form-errors a")).to_have_count(4)


def test_no_page_runs_off_a_phone_in_any_language(page, live_server, log_in, alice, italy, korea, adco,
                                                   list_targets):
    """Every page a visitor or a contributor opens, at 390 px in the six languages: nothing wider than
    the window but tables that scroll in a container that says so."""
    from sitealert.core.actors import Actor
    from sitealert.procedures.services import save_procedure

    list_targets(italy, ["pirate-films.test", "a-rather-long-name-for-a-streaming-site.example"])
    list_targets(korea, ["pirate-films.test"])
    save_procedure(italy, "en", {"description": "We are the national authority.", "contact": "desk@agcom.test",
                                 "criteria": "Commercial scale.", "procedure": "A written decision."},
                   actor=Actor(user=alice, organization=italy))
    public = ["/", "/check/?q=pirate-films.test", "/procedures/", f"/procedures/{italy.slug}/",
              f"/procedures/{italy.slug}/history/", "/review-requests/new/?target=pirate-films.test", "/statistics/",
              f"/members/{adco.slug}/", "/login/"]
    contributor = ["/listings/", "/listings/upload/", "/monitoring/", "/review-requests/inbox/", "/tokens/"]
    page.set_viewport_size(PHONE)
    for language in LANGUAGES:
        in_language(page, live_server, language)
        for path in public:
            page.goto(path)
            assert page.evaluate(LAYOUT_PROBLEMS) == [], (language, path)
    in_language(page, live_server, "en")
    log_in("alice")
    for language in LANGUAGES:
        in_language(page, live_server, language)
        for path in contributor:
            page.goto(path)
            assert page.evaluate(LAYOUT_PROBLEMS) == [], (language, path)
