"""Federation: this installation's identity, and the sources it subscribes to (docs/federation.md)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitealert.organizations.models import Organization


def new_installation_id():
    return secrets.token_hex(16)


class Installation(models.Model):
    """Singleton row: the random identity of this installation, the origin of its own authorities.

    Subscribers key this installation's authorities by it and recognise their own entries when a
    list comes back to them (no echoes). A backup carries it; a second installation restored from
    the same backup must be given a new one (docs/federation.md).
    """

    id = models.PositiveSmallIntegerField(_("ID"), primary_key=True, default=1)
    uid = models.CharField(_("installation ID"), max_length=32, unique=True, default=new_installation_id)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("installation")
        verbose_name_plural = _("installation")


class Source(models.Model):
    """A list this installation carries: another installation (its API or its signed mirror) or a plain list URL."""

    class Kind(models.TextChoices):
        API = "api", _("SiteAlert installation, through its API")
        MIRROR = "mirror", _("SiteAlert installation, through its signed mirror")
        LIST = "list", _("Plain list at a URL (CSV or one target a line)")

    name = models.SlugField(_("name"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    url = models.URLField(_("URL"), max_length=500)
    # A feed token of the upstream installation (kinds api and mirror). It must be sent as it is,
    # so it is stored as it is: the database holds it like the operator's other credentials.
    token = models.CharField(_("token"), max_length=200, blank=True, default="")
    # The upstream's pinned root metadata (kind mirror): the trust every pull verifies against.
    root = models.TextField(_("trusted root metadata"), blank=True, default="")
    # Kind list: the local contributor whose whole list the URL holds.
    contributor = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="list_sources", verbose_name=_("contributor"))
    every = models.PositiveIntegerField(_("pull every (seconds)"), default=3600)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Whether subscribers of this installation receive this source's listings too.
    republish = models.BooleanField(_("re-publish to subscribers"), default=True)
    # Kind list: a run that would remove more than this share of the contributor's listings
    # waits for the contributor's confirmation.
    max_removal_share = models.FloatField(_("largest share of removals applied without confirmation"),
                                          default=0.1)

    # State, written by each pull.
    upstream_id = models.CharField(_("upstream installation ID"), max_length=32, blank=True, default="")
    epoch = models.CharField(_("upstream epoch"), max_length=32, blank=True, default="")
    version = models.BigIntegerField(_("last verified version"), default=0)
    # The checksum of the upstream's published set at that version: an upstream that changes what
    # it re-publishes without a new version (its `republish` switched) is noticed by it.
    checksum = models.CharField(_("last verified checksum"), max_length=80, blank=True, default="")
    upstream_version_at = models.DateTimeField(_("upstream version seen"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    stale_alerted_at = models.DateTimeField(_("stale alert sent"), null=True, blank=True)
    # Kind list: the validators of the last fetched document, and a run held for confirmation.
    etag = models.CharField(_("ETag"), max_length=300, blank=True, default="")
    last_modified = models.CharField(_("Last-Modified"), max_length=100, blank=True, default="")
    pending = models.JSONField(_("run awaiting confirmation"), null=True, blank=True)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("added by"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("federation source")
        verbose_name_plural = _("federation sources")

    def __str__(self):
        return self.name


class FederatedAuthority(models.Model):
    """An authority that a source brings: a read-only contributor here (Organization.origin)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="federation",
                                        verbose_name=_("authority"))
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="authorities",
                               verbose_name=_("source"))
    # The installation that decides (for a chain A -> B -> here, A's ID, not B's).
    installation_id = models.CharField(_("installation ID"), max_length=32)
    seen_at = models.DateTimeField(_("last seen upstream"), default=timezone.now)

    class Meta:
        verbose_name = _("federated authority")
        verbose_name_plural = _("federated authorities")

    def __str__(self):
        return str(self.organization)
