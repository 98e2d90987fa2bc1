"""Organizations, accounts and tokens: created and changed only through these functions."""

import re
import threading
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sitealert.core import audit, tallies
from sitealert.core.conf import setting
from sitealert.core.countries import is_country_code
from sitealert.organizations import permissions
from sitealert.organizations.models import ApiToken, Membership, Organization

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


class OrganizationError(ValueError):
    pass


def clean_organization_fields(kind, name, country=""):
    """Validate and normalize an organization's kind, name and country; returns (name, country)."""
    name = (name or "").strip()
    country = (country or "").strip().upper()
    if kind not in Organization.Kind.values:
        raise OrganizationError(_("Unknown kind '%(kind)s'; use contributor, user or operator.") % {"kind": kind})
    if not name:
        raise OrganizationError(_("A name is required."))
    if len(name) > 200:
        raise OrganizationError(_("The name is longer than 200 characters."))
    if kind == Organization.Kind.CONTRIBUTOR and not country:
        raise OrganizationError(
            _("A contributor needs a country code: the two-letter ISO 3166-1 alpha-2 code of its country, e.g. IT."))
    if country and not (COUNTRY_RE.match(country) and is_country_code(country)):
        raise OrganizationError(_("'%(country)s' is not an ISO 3166-1 alpha-2 country code (two letters, e.g. IT).") % {
            "country": country})
    return name, country


def create_organization(*, kind, name, country="", actor, status=Organization.Status.APPROVED):
    permissions.require(permissions.can_administer(actor))
    name, country = clean_organization_fields(kind, name, country)
    with transaction.atomic():
        now = timezone.now()
        org = Organization.objects.create(
            slug=Organization.unique_slug(name), name=name, kind=kind, country=country, status=status,
            approved_at=now if status == Organization.Status.APPROVED else None,
        )
        audit.record(actor, "organization.create", org.slug, {"kind": kind, "country": country, "status": status})
    return org


def set_organization_status(org, status, *, actor, reason=""):
    permissions.require(permissions.can_administer(actor))
    if status not in Organization.Status.values:
        raise OrganizationError(_("Unknown status '%(status)s'.") % {"status": status})
    with transaction.atomic():
        org.status = status
        if status == Organization.Status.APPROVED and org.approved_at is None:
            org.approved_at = timezone.now()
        org.save(update_fields=["status", "approved_at"])
        token_cache.forget()
        audit.record(actor, "organization.status", org.slug, {"status": status, "reason": reason})
    return org


def create_member(org, *, username, password, email="", staff=False, role=Membership.Role.MEMBER, actor):
    permissions.require(permissions.can_administer(actor))
    permissions.require(permissions.can_change_here(actor, org), permissions.read_only_reason(org))
    User = get_user_model()
    if staff and org.kind != Organization.Kind.OPERATOR:
        raise OrganizationError(_("Staff accounts belong to the operator organization only."))
    username = (username or "").strip()
    if not username:
        raise OrganizationError(_("A username is required."))
    if User.objects.filter(username__iexact=username).exists():
        raise OrganizationError(_("The username '%(username)s' is taken.") % {"username": username})
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise OrganizationError(_("'%(email)s' is not an e-mail address.") % {"email": email[:100]}) from None
    user = User(username=username, email=email, is_staff=staff)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise OrganizationError(" ".join(exc.messages)) from exc
    with transaction.atomic():
        user.set_password(password)
        user.save()
        Membership.objects.create(user=user, organization=org, role=role)
        audit.record(actor, "member.create", username, {"organization": org.slug, "staff": staff})
    return user


MAX_TOKEN_DAYS = 3650


def default_scope(org):
    return ApiToken.Scope.LISTINGS if org.kind == Organization.Kind.CONTRIBUTOR else ApiToken.Scope.FEED


def issue_token(org, *, scope=None, name="", days=None, actor):
    """Create a token; returns (token, secret). The secret is shown once and never stored."""
    permissions.require(permissions.can_change_here(actor, org), permissions.read_only_reason(org))
    permissions.require(permissions.can_administer_tokens(actor, org), permissions.why_not(actor))
    scope = scope or default_scope(org)
    if scope not in ApiToken.Scope.values:
        raise OrganizationError(_("Unknown scope '%(scope)s'; use feed or listings.") % {"scope": scope})
    if scope == ApiToken.Scope.LISTINGS and org.kind != Organization.Kind.CONTRIBUTOR:
        raise OrganizationError(_("Only a contributor can have a token with the listings scope."))
    if scope == ApiToken.Scope.FEED and org.kind == Organization.Kind.CONTRIBUTOR:
        raise OrganizationError(_("The aggregated list is for authorized users; a contributor token manages "
                                  "listings (scope listings)."))
    if days is None:
        # A configured default of 0 means tokens do not expire unless asked to.
        days = setting("TOKEN_DEFAULT_DAYS") or None
    elif days <= 0:
        raise OrganizationError(_("A token must be valid for at least one day."))
    elif days > MAX_TOKEN_DAYS:
        raise OrganizationError(_("A token can be valid for at most %(days)d days (ten years); issue a new one "
                                  "before it expires.") % {"days": MAX_TOKEN_DAYS})
    expires_at = timezone.now() + timedelta(days=days) if days else None
    with transaction.atomic():
        token, secret = ApiToken.issue(org, scope, name=name[:100], created_by=actor.user, expires_at=expires_at)
        audit.record(actor, "token.create", token.hint, {"organization": org.slug, "scope": scope, "name": name})
    return token, secret


def revoke_token(token, *, actor):
    permissions.require(permissions.can_administer_tokens(actor, token.organization), permissions.why_not(actor))
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            token_cache.forget(token.token_hash)
            audit.record(actor, "token.revoke", token.hint, {"organization": token.organization.slug})
    return token


def revoke_token_by_hint(hint, *, actor):
    tokens = list(ApiToken.objects.filter(hint=hint).select_related("organization"))
    if not tokens:
        raise OrganizationError(_("No token starts with '%(hint)s'.") % {"hint": hint})
    if len(tokens) > 1:
        raise OrganizationError(
            _("Several tokens start with '%(hint)s'; revoke it in the admin site.") % {"hint": hint})
    return revoke_token(tokens[0], actor=actor)


class TokenCache:
    """The tokens this process has read, each for TOKEN_CACHE_SECONDS: a call with a bearer token then
    costs no query. A revocation, an expiry or a suspended organization takes effect within that time
    (an expiry at once: it is checked against the clock at every call), a revocation in this process
    at once. When a token was last used is kept here too and written at every flush (`core.tallies`),
    at most once a minute per token, so a call never writes."""

    MAX_TOKENS = 10_000  # an attacker sending unknown tokens adds nothing: only found tokens are kept
    LAST_USED_EVERY = timedelta(minutes=1)

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens, self.last_used = {}, {}

    def token(self, token_hash):
        """The token with this hash, from the cache while it is fresh, else read (None if unknown)."""
        ttl = setting("TOKEN_CACHE_SECONDS")
        cached = self.tokens.get(token_hash)
        if cached is not None and time.monotonic() - cached[1] < ttl:
            return cached[0]
        token = ApiToken.objects.select_related("organization").filter(token_hash=token_hash).first()
        if token is not None and ttl > 0:
            with self.lock:
                if len(self.tokens) >= self.MAX_TOKENS:
                    self.tokens = {}
                self.tokens[token_hash] = (token, time.monotonic())
        return token

    def used(self, token, now):
        if token.last_used_at is None or now - token.last_used_at > self.LAST_USED_EVERY:
            token.last_used_at = now
            with self.lock:
                self.last_used[token.pk] = now
            tallies.wake()

    def forget(self, token_hash=None):
        """Read this token (None: every token) from the database at its next call."""
        with self.lock:
            if token_hash is None:
                self.tokens = {}
            else:
                self.tokens.pop(token_hash, None)

    def flush(self):
        with self.lock:
            last_used, self.last_used = self.last_used, {}
        try:
            with transaction.atomic():
                for pk, when in last_used.items():
                    ApiToken.objects.filter(pk=pk).update(last_used_at=when)
        except Exception:
            with self.lock:
                for pk, when in last_used.items():
                    self.last_used.setdefault(pk, when)
            raise

    def clear(self):
        with self.lock:
            self.tokens, self.last_used = {}, {}


token_cache = TokenCache()
tallies.register(token_cache.flush, token_cache.clear)


def authenticate_token(secret):
    """Return (token, None) or (None, reason) for a bearer secret. Reads the database at most once per
    token and TOKEN_CACHE_SECONDS in a process, and never writes (see TokenCache)."""
    if not secret or not secret.startswith(ApiToken.PREFIX) or len(secret) > 100:
        return None, _("The token is not a SiteAlert API token.")
    token = token_cache.token(ApiToken.hash_secret(secret))
    if token is None:
        return None, _("Unknown token.")
    if token.revoked_at is not None:
        return None, _("This token was revoked.")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None, _("This token expired on %(date)s.") % {"date": token.expires_at.strftime("%Y-%m-%d")}
    if token.organization.status != Organization.Status.APPROVED:
        return None, (_("The organization is suspended.") if token.organization.status == Organization.Status.SUSPENDED
                      else _("The organization is not approved yet."))
    token_cache.used(token, now)
    return token, None


def public_contributors():
    """Contributors the public may read about: every one that was ever approved."""
    return Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR, approved_at__isnull=False)


def verifiable_member(slug):
    """The authorized user behind a badge, or None. Members that were never approved do not exist
    for the public; a suspended member is returned (its page says the badge is not valid)."""
    return Organization.objects.filter(slug=slug, kind=Organization.Kind.USER, approved_at__isnull=False).first()
