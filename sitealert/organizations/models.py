import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    class Kind(models.TextChoices):
        CONTRIBUTOR = "contributor", _("Contributor (national authority)")
        USER = "user", _("Authorized user (advertiser, agency, ad-tech platform)")
        OPERATOR = "operator", _("Operator")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        APPROVED = "approved", _("Approved")
        SUSPENDED = "suspended", _("Suspended")

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    country = models.CharField(_("country"), max_length=2, blank=True,
                               help_text=_("ISO 3166-1 alpha-2 code; required for contributors."))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    terms_accepted_at = models.DateTimeField(_("terms accepted"), null=True, blank=True)
    # A federated authority (docs/federation.md) decides on another installation: its listings
    # arrive through a federation source and no local member edits them. `origin` is its key
    # there, "<installation id>:<slug>", unique across every installation; blank for a local one.
    origin = models.CharField(_("origin"), max_length=200, blank=True, default="",
                              help_text=_("Set for a federated authority: its key on the installation where "
                                          "it decides."))
    origin_installation = models.CharField(_("installation"), max_length=200, blank=True, default="",
                                           help_text=_("The name of the installation where a federated "
                                                       "authority decides."))
    origin_url = models.URLField(_("page at its installation"), max_length=500, blank=True, default="")
    # Where review requests about a federated authority's listings go: its installation's review
    # form, "{target}" standing for the listed target (quoted for a URL).
    review_url = models.CharField(_("review requests at"), max_length=500, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["origin"], condition=~models.Q(origin=""),
                                    name="organization_one_per_origin"),
        ]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status == self.Status.APPROVED

    @property
    def is_federated(self):
        """An authority that decides on another installation: read-only here."""
        return bool(self.origin)

    @property
    def is_contributor(self):
        return self.kind == self.Kind.CONTRIBUTOR

    @property
    def is_user(self):
        return self.kind == self.Kind.USER

    @property
    def is_operator(self):
        return self.kind == self.Kind.OPERATOR

    @classmethod
    def unique_slug(cls, name):
        base = slugify(name)[:70] or "org"
        slug, n = base, 1
        while cls.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


class Membership(models.Model):
    """An account's place in one organization."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        MEMBER = "member", _("Member")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership",
                                verbose_name=_("user"))
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships",
                                     verbose_name=_("organization"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.organization}"


class ApiToken(models.Model):
    """A bearer token of an organization. Only the SHA-256 of the secret is stored."""

    class Scope(models.TextChoices):
        FEED = "feed", _("Read the aggregated list (feed, changes, lookup)")
        LISTINGS = "listings", _("Manage the organization's listings")

    PREFIX = "sa_"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tokens",
                                     verbose_name=_("organization"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    hint = models.CharField(_("token starts with"), max_length=12)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   verbose_name=_("issued by"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.hint}… ({self.organization})"

    @staticmethod
    def hash_secret(secret):
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    @classmethod
    def issue(cls, organization, scope, *, name="", created_by=None, expires_at=None):
        """Create a token and return (token, secret); the secret is never stored."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            organization=organization, scope=scope, name=name, created_by=created_by,
            token_hash=cls.hash_secret(secret), hint=secret[:10], expires_at=expires_at,
        )
        return token, secret

    @property
    def is_usable(self):
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
