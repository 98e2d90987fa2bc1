"""Statistics: listings over time by country and category, monthly changes, review outcomes,
as SVG charts with tables beside them and CSV downloads."""

import csv
import io
from datetime import UTC, date, datetime

import pytest

from sitealert.core.actors import Actor
from sitealert.listings.models import Listing
from sitealert.listings.services import hold_listing, remove_listings
from sitealert.statistics.services import compute_listing_history, listing_history, month_range


def at(year, month, day=15):
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def history_world(italy, korea, olga, list_targets):
    """Italy lists a, b in Jan 2025 (b removed in Mar); Korea lists c (music) in Feb, d held by the
    operator in Mar after publication; Korea's e was held from the start and never published."""
    list_targets(italy, ["a.test", "b.test"], category="streaming-video")
    list_targets(korea, ["c.test"], category="streaming-music")
    list_targets(korea, ["d.test"], category="streaming-music")
    Listing.objects.filter(target__in=["a.test", "b.test"]).update(listed_at=at(2025, 1))
    Listing.objects.filter(target__in=["c.test", "d.test"]).update(listed_at=at(2025, 2))
    remove_listings(italy, ["b.test"], "Order annulled", actor=Actor(organization=italy))
    hold_listing(Listing.objects.get(target="d.test"), "Check it",
        actor=Actor(user=olga, organization=olga.membership.organization))
    Listing.objects.filter(target__in=["b.test", "d.test"]).update(status_changed_at=at(2025, 3))
    Listing.objects.create(target="e.test", kind="domain", contributor=korea, category="other",
                           status=Listing.Status.HELD, listed_at=at(2025, 3), status_changed_at=at(2025, 3))


def test_month_range_crosses_years():
    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]


@pytest.mark.django_db
def test_history_by_country_category_and_month(history_world):
    h = compute_listing_history(date(2025, 4, 2))

    assert h.months == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert h.by_country == {"IT": [2, 2, 1, 1], "KR": [0, 2, 1, 1]}
    assert h.by_category == {"streaming-video": [2, 2, 1, 1], "streaming-music": [0, 2, 1, 1]}
    assert h.added == [2, 2, 0, 0]
    assert h.removed == [0, 0, 1, 0]
    assert h.held == [0, 0, 1, 0]
    assert h.active == [2, 4, 2, 2]
    assert h.countries == ["IT", "KR"]
    assert h.categories == ["streaming-video", "streaming-music"]


@pytest.mark.django_db
def test_empty_history_and_page(client):
    assert compute_listing_history().months == []
    html = client.get("/statistics/").content.decode()
    assert "Nothing has been listed yet." in html


@pytest.mark.django_db
def test_history_cache_follows_the_list_version(italy, list_targets):
    list_targets(italy, ["a.test"])
    assert listing_history().active[-1] == 1
    list_targets(italy, ["b.test"])
    assert listing_history().active[-1] == 2


@pytest.mark.django_db
def test_the_worker_keeps_the_history_in_the_shared_cache_and_pages_only_read_it(italy, list_targets,
                                                                                 django_assert_max_num_queries):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from sitealert.statistics import services

    list_targets(italy, ["a.test", "b.test"])
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        assert listing_history().active[-1] == 2  # no worker yet: computed in the process
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE",
                                                                                              "DELETE"))]
    assert cache.get(services._history_key(now.date())) is None
    services.refresh_listing_history(now)
    assert cache.get(services._history_key(now.date())).active[-1] == 2
    services._computed_here.clear()
    with django_assert_max_num_queries(2):  # the version, the cache: nothing computed
        assert listing_history().active[-1] == 2
    services.refresh_listing_history(now)  # still there: kept alive, not computed again


@pytest.mark.django_db
def test_page_has_svg_charts_with_title_desc_and_tables(client, history_world):
    response = client.get("/statistics/")

    assert response.status_code == 200
    html = response.content.decode()
    for chart in ("chart-country", "chart-category", "chart-monthly"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert f'<title id="{chart}-title">' in html and f'<desc id="{chart}-desc">' in html
    for table in ("listings-by-country", "listings-by-category", "monthly-changes", "review-outcomes"):
        assert f'id="table-{table}"' in html
        assert f'href="/statistics/{table}.csv"' in html
    assert "<script" not in html and "style=" not in html  # no CDN, nothing the CSP would block
    assert 'id="online-share"' in html and "Not available yet" in html


@pytest.mark.django_db
def test_csv_of_listings_by_country(client, history_world):
    response = client.get("/statistics/listings-by-country.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Month", "Italy", "Republic of Korea", "Total"]  # names in the reader's language
    assert rows[1:4] == [["2025-01", "2", "0", "2"], ["2025-02", "2", "2", "4"], ["2025-03", "1", "1", "2"]]


@pytest.mark.django_db
def test_csv_of_categories_and_monthly_changes(client, history_world):
    categories = list(csv.reader(io.StringIO(client.get("/statistics/listings-by-category.csv").content.decode())))
    assert categories[0] == ["Month", "Video streaming", "Music streaming", "Total"]
    assert categories[2] == ["2025-02", "2", "2", "4"]

    monthly = list(csv.reader(io.StringIO(client.get("/statistics/monthly-changes.csv").content.decode())))
    assert monthly[0] == ["Month", "Added", "Removed by the authority", "Held by the operator",
                          "Active at the end of the month"]
    assert monthly[3] == ["2025-03", "0", "1", "1", "2"]


@pytest.mark.django_db
def test_review_outcomes_are_counted(client, alice, italy, korea, list_targets, confirmed_review):
    from sitealert.reviews.models import ReviewCase

    list_targets(italy, ["pirate.test"])
    list_targets(korea, ["pirate.test"])
    confirmed_review("pirate.test")
    client.force_login(alice)
    case = ReviewCase.objects.get(contributor=italy)
    client.post(f"/review-requests/inbox/{case.pk}/", {"outcome": "removed", "explanation": "Gone."})
    client.logout()

    rows = list(csv.reader(io.StringIO(client.get("/statistics/review-outcomes.csv").content.decode())))
    assert rows[0] == ["Contributor", "Country", "Received", "Upheld", "Removed", "Awaiting an answer", "Overdue",
                       "Median days to answer", "Decides at"]
    by_country = {r[1]: r for r in rows[1:]}
    assert by_country["Italy"][2:8] == ["1", "0", "1", "0", "0", "0.0"]
    assert by_country["Republic of Korea"][2:8] == ["1", "0", "0", "1", "0", ""]
    html = client.get("/statistics/").content.decode()
    assert 'aria-labelledby="chart-reviews-title chart-reviews-desc"' in html


@pytest.mark.django_db
def test_unknown_csv_is_404(client):
    assert client.get("/statistics/everything.csv").status_code == 404


def test_csv_cells_never_start_a_formula():
    from sitealert.statistics.views import _spreadsheet_safe

    assert [_spreadsheet_safe(v) for v in ["=HYPERLINK(1)", "+1", "-x", "@SUM", "\tx", "Office", 3, -1]] == [
        "'=HYPERLINK(1)", "'+1", "'-x", "'@SUM", "'\tx", "Office", 3, -1]
