"""The public check: which authorities list one domain, web address or app right now."""

from dataclasses import dataclass, field
from datetime import datetime

from django.urls import reverse

from sitealert.core import ratelimit
from sitealert.core.conf import setting
from sitealert.core.target_messages import public_reason
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target, unicode_form
from sitealert.listings.models import Category, Listing
from sitealert.organizations.models import Organization

MAX_QUERY = 2000


@dataclass
class Match:
    """One active listing that covers the checked target."""

    target: str
    contributor: Organization
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

    def as_dict(self, base_url=""):
        return {
            "target": self.target,
            "country": self.country,
            "contributor": self.contributor.name,
            "category": self.category,
            "listed_at": self.listed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "procedure_url": base_url + self.procedure_url,
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
                "matches": [m.as_dict(base_url) for m in self.matches]}
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
    listings = (Listing.objects.filter(target__in=covering, status=Listing.Status.ACTIVE)
                .select_related("contributor").only("target", "category", "listed_at", "contributor"))
    result.matches = sorted(
        (Match(target=l.target, contributor=l.contributor, category=l.category, listed_at=l.listed_at)
         for l in listings),
        key=lambda m: (specificity[m.target], m.listed_at, m.contributor.name))
    return result


def check_wait(ip):
    """Count one public check by this client; seconds to wait when over the limit, else 0."""
    return ratelimit.tally("public-check", ratelimit.client_key(ip), setting("PUBLIC_CHECK_RATE"),
                         setting("PUBLIC_CHECK_WINDOW"))
