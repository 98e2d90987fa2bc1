"""The public side of SiteAlert: one-at-a-time checks, operating procedures, member verification.

Review requests live in `sitealert.public.reviews`, statistics in `sitealert.public.statistics`.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitealert.core import audit, ratelimit
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target, unicode_form
from sitealert.listings.models import Category, Listing
from sitealert.listings.target_messages import translated_reason
from sitealert.organizations import permissions
from sitealert.organizations.models import OperatingProcedure, Organization
from sitealert.public.conf import setting
from sitealert.public.models import ProcedureRevision

MAX_QUERY = 2000
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


# --- Public check ---------------------------------------------------------------------------

# The normalizer's reasons speak to contributors ("list the site's domain name instead"). Someone who
# checks a site, or asks for a review, is not listing anything: these codes get public wording.
PUBLIC_REASONS = {
    "contains_space": _("'%(text)s' contains a space or a line break; enter one domain name, web address or app "
                        "id."),
    "email_address": _("'%(text)s' looks like an e-mail address, not a web site; enter the site's domain name "
                       "instead."),
    "unsupported_scheme": _("'%(scheme)s:' addresses are not web sites; enter a domain name (such as example.com) "
                            "or a web address starting with http:// or https://."),
    "ip_address": _("'%(host)s' is an IP address; the list holds domain names and apps only, so enter the site's "
                    "domain name instead."),
    "numeric_tld": _("'%(host)s' ends in a number ('%(tld)s'), which browsers read as an IP address, not a domain "
                     "name; enter the site's domain name instead."),
    "single_label": _("'%(host)s' is not a complete domain name (it has no dot); enter the site's full domain "
                      "name, such as example.com."),
    "public_suffix": _("'%(host)s' is a public suffix: anyone can register names under it (as under com, co.uk or "
                       "blogspot.com), so it is never listed as a whole; enter the site's own domain name under it."),
}


def public_reason(exc):
    """Why a query cannot be checked, in the user's language and in words for the public."""
    template = PUBLIC_REASONS.get(getattr(exc, "code", None))
    if template is not None:
        try:
            return str(template) % getattr(exc, "params", {})
        except (KeyError, TypeError, ValueError):
            pass
    return translated_reason(exc)


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
        return reverse("public:procedure", args=[self.contributor.slug])

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
    return ratelimit.hit("public-check", ratelimit.client_key(ip), setting("PUBLIC_CHECK_RATE"), setting("PUBLIC_CHECK_WINDOW"))


# --- Operating procedures -------------------------------------------------------------------

def public_contributors():
    """Contributors the public may read about: every one that was ever approved."""
    return Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR, approved_at__isnull=False)


@dataclass
class ProcedureView:
    """The procedure to show for a wanted language, and whether it is a fallback."""

    procedure: OperatingProcedure | None
    wanted: str
    available: list  # language codes, in the order of settings.LANGUAGES

    @property
    def is_fallback(self):
        return self.procedure is not None and self.procedure.language != self.wanted


def procedure_for(organization, wanted):
    """The procedure in `wanted`, else in English, else in the first language it exists in."""
    by_language = {p.language: p for p in organization.procedures.all()}
    available = [code for code in LANGUAGE_CODES if code in by_language]
    for code in [wanted, settings.LANGUAGE_CODE, *available]:
        if code in by_language:
            return ProcedureView(by_language[code], wanted, available)
    return ProcedureView(None, wanted, available)


def can_edit_procedure(actor, organization):
    # A contributor's procedure is maintained by the people who manage its listings.
    return permissions.can_manage_listings(actor, organization) and actor.token is None


def save_procedure(organization, language, data, *, actor):
    """Publish a new version of `organization`'s procedure in `language`; keeps every version.

    Returns the new revision, or None when nothing changed."""
    permissions.require(can_edit_procedure(actor, organization), permissions.why_not(actor))
    if language not in LANGUAGE_CODES:
        raise ValueError(f"unknown language {language!r}")
    values = {name: (data.get(name) or "").strip() for name in ProcedureRevision.FIELDS}
    with transaction.atomic():
        current = (OperatingProcedure.objects.select_for_update()
                   .filter(organization=organization, language=language).first())
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            return None
        now = timezone.now()
        history = ProcedureRevision.objects.filter(organization=organization, language=language)
        if current is not None and not history.exists():
            # A version published before web editing (demo data, admin): keep it as the first revision.
            ProcedureRevision.objects.create(organization=organization, language=language, author=None,
                                             created_at=current.updated_at,
                                             **{k: getattr(current, k) for k in ProcedureRevision.FIELDS})
        OperatingProcedure.objects.update_or_create(organization=organization, language=language,
                                                    defaults={**values, "updated_at": now})
        revision = ProcedureRevision.objects.create(organization=organization, language=language,
                                                    author=actor.user, created_at=now, **values)
        audit.record(actor, "procedure.update", organization.slug, {
            "language": language, "revision": revision.pk,
            "fields": sorted(k for k, v in values.items() if current is None or getattr(current, k) != v)})
    return revision


def procedure_history(organization):
    """Revisions newest first, each with `.changed`: the fields that differ from the version before."""
    revisions = list(ProcedureRevision.objects.filter(organization=organization).select_related("author"))
    previous = {}
    for revision in reversed(revisions):
        before = previous.get(revision.language)
        revision.changed = [name for name in ProcedureRevision.FIELDS
                            if before is None or getattr(before, name) != getattr(revision, name)]
        previous[revision.language] = revision
    return revisions


# --- Member verification --------------------------------------------------------------------

def verifiable_member(slug):
    """The authorized user behind a badge, or None. Members that were never approved do not exist
    for the public; a suspended member is returned (its page says the badge is not valid)."""
    return Organization.objects.filter(slug=slug, kind=Organization.Kind.USER, approved_at__isnull=False).first()
