"""Aggregate statistics for the public: listings over time by country and category, additions and
removals per month, review outcomes per contributor.

History is reconstructed from each listing's `listed_at` and, for listings no longer active, its
`status_changed_at`: two GROUP BY queries over the listings table whatever its size, cached per
version of the aggregated list. (The change log is pruned after the tombstone retention, so it
cannot carry long-term statistics.) A listing removed and listed again counts from its latest
listing. A listing held by the operator from the start was never published and is not counted.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import CharField, Count, F, Func
from django.utils import timezone
from django.utils.translation import gettext as _

from sitealert.core.conf import setting
from sitealert.core.countries import country_name
from sitealert.feed.builder import feed_state
from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Category, Listing
from sitealert.monitoring.metadata import status_totals
from sitealert.organizations.models import Organization
from sitealert.reviews.services import ReviewCounts


class YearMonth(Func):
    """'YYYY-MM' of a datetime in UTC, computed by the database itself (fast on both backends)."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores datetimes on SQLite as UTC text 'YYYY-MM-DD HH:MM:SS…': the month is its prefix.
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 7)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM')",
                           **extra)


def month_range(first, last):
    """['2024-11', '2024-12', '2025-01', …] from first to last inclusive ('YYYY-MM' strings)."""
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@dataclass
class ListingHistory:
    months: list = field(default_factory=list)
    countries: list = field(default_factory=list)  # most active listings first
    categories: list = field(default_factory=list)  # in the order of listings.models.Category
    by_country: dict = field(default_factory=dict)  # country -> active listings at the end of each month
    by_category: dict = field(default_factory=dict)
    added: list = field(default_factory=list)  # listings published in each month
    removed: list = field(default_factory=list)  # removed by their contributor in each month
    held: list = field(default_factory=list)  # taken out of the list by the operator pending review
    active: list = field(default_factory=list)  # active listings at the end of each month


def _published():
    # A listing held from the moment it was created never reached the aggregated list.
    return Listing.objects.exclude(status=Listing.Status.HELD, status_changed_at=F("listed_at")).order_by()


def compute_listing_history(today=None):
    today = today or timezone.now().date()
    countries = dict(Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR).values_list("id", "country"))
    started = (_published().annotate(month=YearMonth("listed_at"))
               .values_list("month", "contributor_id", "category").annotate(n=Count("pk")))
    ended = (_published().exclude(status=Listing.Status.ACTIVE).annotate(month=YearMonth("status_changed_at"))
             .values_list("month", "contributor_id", "category", "status").annotate(n=Count("pk")))
    started, ended = list(started), list(ended)
    history = ListingHistory()
    if not started:
        return history
    first = min(row[0] for row in started)
    history.months = month_range(first, max(f"{today:%Y-%m}", max(row[0] for row in started + ended)))
    index = {m: i for i, m in enumerate(history.months)}
    n = len(history.months)
    delta_country, delta_category = {}, {}
    history.added, history.removed, history.held = [0] * n, [0] * n, [0] * n

    def add(month, org_id, category, count):
        i = index[month]
        country = countries.get(org_id, "")
        delta_country.setdefault(country, [0] * n)[i] += count
        delta_category.setdefault(category, [0] * n)[i] += count

    for month, org_id, category, count in started:
        add(month, org_id, category, count)
        history.added[index[month]] += count
    for month, org_id, category, status, count in ended:
        add(month, org_id, category, -count)
        (history.removed if status == Listing.Status.REMOVED else history.held)[index[month]] += count

    def cumulative(deltas):
        total, out = 0, []
        for d in deltas:
            total += d
            out.append(total)
        return out

    history.by_country = {c: cumulative(d) for c, d in delta_country.items()}
    history.by_category = {c: cumulative(d) for c, d in delta_category.items()}
    history.countries = sorted(history.by_country, key=lambda c: (-history.by_country[c][-1], c))
    order = {c: i for i, c in enumerate(Category.values)}
    history.categories = sorted(history.by_category, key=lambda c: (order.get(c, len(order)), c))
    history.active = cumulative(a - r - h for a, r, h in zip(history.added, history.removed, history.held))
    return history


def _history_key(today):
    state = feed_state()
    return f"public-stats:{state.epoch}:{state.version}:{today:%Y-%m}"


# The history a web process computed itself when the shared cache had none: the latest one only.
_computed_here = {}


def listing_history(today=None):
    """compute_listing_history() of the current version and month, without writing: from the shared
    cache, which the worker keeps (`refresh_listing_history`), else computed here and kept in the
    process until the list changes or the month turns."""
    today = today or timezone.now().date()
    key = _history_key(today)
    history = cache.get(key)
    if history is None:
        history = _computed_here.get(key)
    if history is None:
        history = compute_listing_history(today)
        _computed_here.clear()
        _computed_here[key] = history
    return history


def refresh_listing_history(now):
    """The worker's task: put the history of the current version in the shared cache, or keep the one
    there alive, so that pages find it there (a page's read of an expired entry would delete it)."""
    today = now.date()
    key = _history_key(today)
    if not cache.touch(key, setting("STATISTICS_CACHE_SECONDS")):
        cache.set(key, compute_listing_history(today), setting("STATISTICS_CACHE_SECONDS"))


def top_series(values_by_key, keys, limit, other_label):
    """At most `limit` series: the first limit-1 keys, then the rest summed as `other_label`."""
    if len(keys) <= limit:
        return [(k, values_by_key[k]) for k in keys]
    head = [(k, values_by_key[k]) for k in keys[:limit - 1]]
    rest = [values_by_key[k] for k in keys[limit - 1:]]
    return head + [(other_label, [sum(column) for column in zip(*rest)])]


@dataclass
class Headline:
    targets: int  # on the aggregated list now (a target listed by two authorities counts once)
    listings: int  # active listings now
    authorities: int  # contributors with at least one active listing
    countries: int


def headline():
    active = Listing.objects.filter(status=Listing.Status.ACTIVE)
    return Headline(
        targets=FeedEntry.objects.count(),
        listings=active.count(),
        authorities=active.values("contributor_id").distinct().count(),
        countries=active.values("contributor__country").distinct().count(),
    )


def online_share():
    """Share of the probed listed domains that answered at their last probe, as text ("62%"),
    or None while the monitoring worker has probed none (never an estimate)."""
    totals = status_totals()
    probed = totals.get("online", 0) + totals.get("offline", 0)
    if not probed:
        return None
    return f"{totals['online'] / probed:.0%}"


def review_rows(contributors, counts):
    """[(contributor, ReviewCounts)] for each contributor, zero counts where nothing was received."""
    return [(org, counts.get(org.pk) or ReviewCounts()) for org in contributors]


@dataclass
class Table:
    """The numbers behind one chart: shown beside it and downloadable as CSV."""

    name: str  # also the CSV file name
    caption: str
    header: list
    rows: list


def listing_tables(history):
    by_country = Table(
        "listings-by-country", _("Active listings at the end of each month, by country of the listing authority"),
        [_("Month"), *(country_name(c) for c in history.countries), _("Total")],
        [[m, *(history.by_country[c][i] for c in history.countries), history.active[i]]
         for i, m in enumerate(history.months)])
    by_category = Table(
        "listings-by-category", _("Active listings at the end of each month, by category"),
        [_("Month"), *(category_label(c) for c in history.categories), _("Total")],
        [[m, *(history.by_category[c][i] for c in history.categories), history.active[i]]
         for i, m in enumerate(history.months)])
    monthly = Table(
        "monthly-changes", _("Listings added and removed each month"),
        [_("Month"), _("Added"), _("Removed by the authority"), _("Held by the operator"),
         _("Active at the end of the month")],
        [[m, history.added[i], history.removed[i], history.held[i], history.active[i]]
         for i, m in enumerate(history.months)])
    return [by_country, by_category, monthly]


def review_table(rows):
    return Table(
        "review-outcomes", _("Review requests received and answered, by contributor"),
        [_("Contributor"), _("Country"), _("Received"), _("Upheld"), _("Removed"), _("Awaiting an answer"),
         _("Overdue"), _("Median days to answer"), _("Decides at")],
        # A federated authority is named as itself, and where it decides (and answers its reviews).
        [[org.name, country_name(org.country), c.received, c.upheld, c.removed, c.open, c.overdue,
          "" if c.median_days is None else c.median_days, decides_at(org)] for org, c in rows])


def decides_at(org):
    """The installation where an authority decides: its own for a federated one, else this one."""
    return org.origin_installation or org.origin if org.is_federated else settings.SITE_NAME


def category_label(value):
    return str(Category(value).label) if value in Category.values else value
