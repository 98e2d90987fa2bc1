"""The public check: which authorities list one domain, web address or app right now."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from sitealert.core import ratelimit
from sitealert.core.conf import setting
from sitealert.core.target_messages import public_reason
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target, unicode_form
from sitealert.listings.models import Category, Listing
from sitealert.organizations.models import Organization
from sitealert.reviews.services import review_form_url, review_url_at, reviews_elsewhere

MAX_QUERY = 2000


class Contributor(NamedTuple):
    """What a check shows of the authority behind a listing."""

    name: str
    slug: str
    country: str
    origin: str = ""  # set for a federated authority (Organization.origin)
    origin_installation: str = ""  # the installation where a federated authority decides
    origin_url: str = ""
    review_url: str = ""  # its installation's review form, "{target}" standing for the target

    @property
    def is_federated(self):
        return bool(self.origin)

    @property
    def installation(self):
        """Where a federated authority decides; None for an authority of this installation."""
        return (self.origin_installation or self.origin) if self.is_federated else None


@dataclass
class Match:
    """One active listing that covers the checked target."""

    target: str
    contributor: Contributor
    category: str
    listed_at: datetime

    @property
    def country(self):
        return self.contributor.country

    @property
    def category_label(self):
        return Category(self.category).label if self.category in Category.values else self.category

    @property
    def procedure_url(self):
        return reverse("procedures:procedure", args=[self.contributor.slug])

    def review_url(self, checked, base_url=""):
        """Where to ask this listing's authority for a review of `checked`: its own installation's
        form for a federated authority, else this installation's."""
        if self.contributor.is_federated:
            return review_url_at(self.contributor, checked)
        return base_url + review_form_url(checked)

    def as_dict(self, checked, base_url=""):
        return {
            "target": self.target,
            "country": self.country,
            "contributor": self.contributor.name,
            "installation": self.contributor.installation,
            "category": self.category,
            "listed_at": self.listed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "procedure_url": base_url + self.procedure_url,
            "review_url": self.review_url(checked, base_url),
        }


@dataclass
class CheckResult:
    query: str
    target: str | None = None
    error: str | None = None  # why the query is not a valid target, in the active language
    error_code: str | None = None
    matches: list = field(default_factory=list)

    @property
    def listed(self):
        return bool(self.matches)

    @property
    def listed_here(self):
        """Whether an authority of this installation lists it: a review request here goes to it."""
        return any(not m.contributor.is_federated for m in self.matches)

    @property
    def reviews_elsewhere(self):
        """Where to ask each federated authority that lists it (ReviewElsewhere, once each)."""
        return reviews_elsewhere(self.target, [m.contributor for m in self.matches])

    @property
    def review_form_url(self):
        return review_form_url(self.target)

    @property
    def shown(self):
        """The target as people read it, for an internationalized domain name its Unicode form with
        the A-label form beside it: a look-alike (аррӏе.com, in Cyrillic) is never shown alone."""
        if not self.target:
            return self.target
        unicode = unicode_form(self.target)
        return unicode if unicode == self.target else f"{unicode} ({self.target})"

    def as_dict(self, base_url=""):
        """The shape of GET /api/v1/check (SPEC §4); `base_url` makes procedure links absolute."""
        data = {"query": self.query, "target": self.target, "listed": self.listed,
                "matches": [m.as_dict(self.target, base_url) for m in self.matches]}
        if self.error is not None:
            data["error"] = self.error
        return data


def check_target(query):
    """Which authorities list `query` (a host, URL or app id) right now. Never shows private notes,
    held or removed listings. A listed domain covers its subdomains."""
    query = (query or "")[:MAX_QUERY]
    result = CheckResult(query=query.strip())
    try:
        target = normalize_target(query)
    except InvalidTarget as exc:
        result.error, result.error_code = public_reason(exc), exc.code
        return result
    result.target = target
    covering = covering_targets(target)
    specificity = {t: i for i, t in enumerate(covering)}
    result.matches = sorted(
        (Match(target=listed, contributor=Contributor(*authority), category=category, listed_at=_aware(listed_at))
         for listed, category, listed_at, *authority in _active_listings(covering)),
        key=lambda m: (specificity[m.target], m.listed_at, m.contributor.name))
    return result


def _active_listings(targets):
    """(target, category, listed_at, then the Contributor's fields) of the active listings of
    `targets`: one statement, written once, not composed by the ORM at every public check."""
    marks = ", ".join(["%s"] * len(targets))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.target, l.category, l.listed_at, o.name, o.slug, o.country, o.origin, o.origin_installation, "
            f"o.origin_url, o.review_url "
            f"FROM {Listing._meta.db_table} l JOIN {Organization._meta.db_table} o ON o.id = l.contributor_id "
            f"WHERE l.target IN ({marks}) AND l.status = %s", [*targets, Listing.Status.ACTIVE])
        return cursor.fetchall()


def _aware(value):
    """A timestamp as the ORM gives it: SQLite's driver returns it naive (in UTC) or as text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def check_wait(ip):
    """Count one public check by this client; seconds to wait when over the limit, else 0."""
    return ratelimit.tally("public-check", ratelimit.client_key(ip), setting("PUBLIC_CHECK_RATE"),
                         setting("PUBLIC_CHECK_WINDOW"))
