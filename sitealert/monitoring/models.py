from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sitealert.monitoring import probe
from sitealert.organizations.models import Organization


class Status(models.TextChoices):
    UNKNOWN = "unknown", _("Not checked yet")
    # A context: the listings page's column "Online" is translated as a heading, not a state.
    ONLINE = "online", pgettext_lazy("site status", "Online")
    OFFLINE = "offline", _("Offline")


class Failure(models.TextChoices):
    DNS_NXDOMAIN = probe.DNS_NXDOMAIN, _("the domain does not exist")
    DNS_NO_ADDRESS = probe.DNS_NO_ADDRESS, _("the domain has no address")
    DNS_ERROR = probe.DNS_ERROR, _("DNS resolution failed")
    BLOCKED_ADDRESS = probe.BLOCKED_ADDRESS, _("points to a private or reserved address")
    CONNECT_REFUSED = probe.CONNECT_REFUSED, _("connection refused")
    CONNECT_TIMEOUT = probe.CONNECT_TIMEOUT, _("connection timed out")
    CONNECT_ERROR = probe.CONNECT_ERROR, _("connection failed")
    TLS_ERROR = probe.TLS_ERROR, _("TLS certificate or handshake error")
    CONNECTION_RESET = probe.CONNECTION_RESET, _("connection reset")
    TIMEOUT = probe.TIMEOUT, _("no answer in time")
    PROTOCOL_ERROR = probe.PROTOCOL_ERROR, _("invalid HTTP answer")
    HTTP_ERROR = probe.HTTP_ERROR, _("server error (HTTP 5xx)")
    REDIRECT_LIMIT = probe.REDIRECT_LIMIT, _("too many redirects")
    REDIRECT_INVALID = probe.REDIRECT_INVALID, _("invalid redirect")


class MonitorState(models.Model):
    """Singleton: how far the probe targets follow the aggregated list's change log."""

    id = models.PositiveSmallIntegerField(_("ID"), primary_key=True, default=1)
    synced_version = models.BigIntegerField(_("synced version"), default=-1)

    class Meta:
        verbose_name = _("monitor state")
        verbose_name_plural = _("monitor states")


class ProbeTarget(models.Model):
    """A domain of the aggregated list, its schedule, the worker holding it and its current status."""

    # On PostgreSQL the column's collation is "C" (migration 0002), as the listings' target is, so
    # that a listing's status is looked up by index: restore it after any AlterField of this field.
    target = models.CharField(_("target"), max_length=300, unique=True)
    active = models.BooleanField(_("active"), default=True,
                                 help_text="False once the target left the aggregated list.")
    next_probe_at = models.DateTimeField(_("next probe"), default=timezone.now)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True, default="")
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.UNKNOWN)
    failure = models.CharField(_("failure"), max_length=30, choices=Failure.choices, blank=True, default="")
    status_since = models.DateTimeField(_("since"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_online_at = models.DateTimeField(_("last online"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    last_result = models.JSONField(_("last result"), default=dict, blank=True,
                                   help_text="The last probe: status code, final URL, hops, bytes, timing.")
    current_period = models.BigIntegerField(_("current period"), null=True, blank=True,
                                            help_text="StatusPeriod the last probe extended.")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        # Partial: SQLite cannot use (active, next_probe_at) for Django's bare `WHERE "active"`.
        indexes = [models.Index(fields=["next_probe_at"], condition=models.Q(active=True),
                                name="monitoring_due_active")]
        verbose_name = _("probe target")
        verbose_name_plural = _("probe targets")

    def __str__(self):
        return self.target


class StatusPeriod(models.Model):
    """A run of consecutive probes with the same outcome: the status history, summarized."""

    probe_target = models.ForeignKey(ProbeTarget, on_delete=models.CASCADE, related_name="periods",
                                     verbose_name=_("probe target"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    failure = models.CharField(_("failure"), max_length=30, choices=Failure.choices, blank=True, default="")
    started_at = models.DateTimeField(_("started"), help_text="The first probe with this outcome.")
    ended_at = models.DateTimeField(_("ended"), help_text="The last probe with this outcome so far.")
    probes = models.PositiveIntegerField(_("probes"), default=1)

    class Meta:
        indexes = [models.Index(fields=["probe_target", "started_at"])]
        ordering = ["-started_at"]
        verbose_name = _("status period")
        verbose_name_plural = _("status periods")


class RedirectEdge(models.Model):
    """A redirect from one registrable domain to another, seen while probing `probe_target`."""

    probe_target = models.ForeignKey(ProbeTarget, on_delete=models.CASCADE, related_name="edges",
                                     verbose_name=_("probe target"))
    from_host = models.CharField(_("from host"), max_length=300)
    to_host = models.CharField(_("to host"), max_length=300)
    from_site = models.CharField(_("from site"), max_length=300, default="",
                                 help_text="Registrable domain of from_host.")
    to_site = models.CharField(_("to site"), max_length=300,
                               help_text="Registrable domain of to_host (or the address).")
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    count = models.PositiveIntegerField(_("times seen"), default=1)
    chain = models.JSONField(_("redirect chain"), default=list,
                             help_text="The hops of the last probe that took this redirect.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["probe_target", "from_host", "to_host"],
                                               name="monitoring_edge_unique")]
        indexes = [models.Index(fields=["to_site"]), models.Index(fields=["from_site"])]
        verbose_name = _("redirect")
        verbose_name_plural = _("redirects")


class HoppingCandidate(models.Model):
    """An unlisted domain that a contributor's listed site redirects to."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        LISTED = "listed", _("Listed")
        DISMISSED = "dismissed", _("Dismissed")

    contributor = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="hopping_candidates",
                                    verbose_name=_("contributor"))
    target = models.CharField(_("candidate"), max_length=300, help_text="The registrable domain to list.")
    destination = models.CharField(_("redirect destination"), max_length=300)
    source = models.ForeignKey(ProbeTarget, on_delete=models.CASCADE, related_name="candidates",
                               verbose_name=_("listed site"))
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    verbose_name=_("resolved by"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contributor", "target"], name="monitoring_candidate_unique")]
        ordering = ["-last_seen"]
        verbose_name = _("hopping candidate")
        verbose_name_plural = _("hopping candidates")


class StaleConfirmation(models.Model):
    """A contributor confirmed a long-offline listing: it stays out of the stale review for a period."""

    listing = models.OneToOneField("listings.Listing", on_delete=models.CASCADE, related_name="stale_confirmation",
                                   verbose_name=_("listing"))
    confirmed_at = models.DateTimeField(_("confirmed"))
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     verbose_name=_("confirmed by"))

    class Meta:
        verbose_name = _("stale-listing confirmation")
        verbose_name_plural = _("stale-listing confirmations")
