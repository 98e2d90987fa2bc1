"""Public statistics: listed targets over time, by country and category, and review outcomes."""

import csv

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from sitealert.core.countries import country_name
from sitealert.organizations.services import public_contributors
from sitealert.reviews.services import review_counts
from sitealert.statistics import charts, services

TOP_SERIES = 7


def _listing_tables():
    return services.listing_tables(services.listing_history())


def _review_table():
    contributors = public_contributors().order_by("name")
    counts = review_counts()
    return services.review_table(services.review_rows(contributors, counts))


def statistics_page(request):
    history = services.listing_history()
    by_country, by_category, monthly = services.listing_tables(history)
    review_table = _review_table()
    others = _("Other countries")
    figures = []
    # A single month makes no line: show it as bars.
    over_time = charts.line_chart if len(history.months) > 1 else charts.bar_chart
    if history.months:
        figures = [
            (by_country, over_time(
                "chart-country", by_country.caption,
                _("Chart of active listings per month for the countries with the most listings."),
                history.months, [(country_name(c) if c != others else c, values) for c, values in
                                 services.top_series(history.by_country, history.countries, TOP_SERIES, others)])),
            (by_category, over_time(
                "chart-category", by_category.caption, _("Chart of active listings per month for each category."),
                history.months, [(services.category_label(c), history.by_category[c]) for c in history.categories])),
            (monthly, charts.bar_chart(
                "chart-monthly", monthly.caption, _("Bar chart of listings added and removed in each month."),
                history.months, [(_("Added"), history.added), (_("Removed by the authority"), history.removed),
                                 (_("Held by the operator"), history.held)])),
        ]
    review_rows = [row for row in review_table.rows if row[2]]
    review_chart = None
    if review_rows:
        review_chart = charts.stacked_bars(
            "chart-reviews", review_table.caption,
            _("Bar chart of review requests per contributor: upheld, removed and awaiting an answer."),
            [row[0] for row in review_rows],
            [(_("Upheld"), [r[3] for r in review_rows]), (_("Removed"), [r[4] for r in review_rows]),
             (_("Awaiting an answer"), [r[5] for r in review_rows])])
    return render(request, "statistics/statistics.html", {
        "headline": services.headline(), "figures": figures, "review_table": review_table,
        "review_chart": review_chart, "online_share": services.online_share()})


CSV_TABLES = {
    "listings-by-country": lambda: _listing_tables()[0],
    "listings-by-category": lambda: _listing_tables()[1],
    "monthly-changes": lambda: _listing_tables()[2],
    "review-outcomes": _review_table,
}


def statistics_csv(request, name):
    build = CSV_TABLES.get(name)
    if build is None:
        raise Http404
    table = build()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sitealert-{name}.csv"'
    writer = csv.writer(response)
    writer.writerow([str(h) for h in table.header])
    writer.writerows([[_spreadsheet_safe(value) for value in row] for row in table.rows])
    return response


def _spreadsheet_safe(value):
    """A text cell a spreadsheet program will not run as a formula (an organization's name is typed
    by people): a leading = + - @ tab or carriage return is quoted with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
