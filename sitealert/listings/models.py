from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sitealert.core.models import AuditEvent, RangeIndex
from sitealert.organizations.models import Organization


class Kind(models.TextChoices):
    DOMAIN = "domain", _("Domain")
    APP = "app", _("App")


class Category(models.TextChoices):
    STREAMING_VIDEO = "streaming-video", _("Video streaming")
    STREAMING_MUSIC = "streaming-music", _("Music streaming")
    LIVE_SPORTS_IPTV = "live-sports-iptv", _("Live sports / IPTV")
    TORRENT_INDEX = "torrent-index", _("Torrent index")
    CYBERLOCKER = "cyberlocker", _("Cyberlocker")
    PUBLISHING = "publishing", _("Publishing")
    SOFTWARE_GAMES = "software-games", _("Software and games")
    OTHER = "other", _("Other")


class ContributorIndex(models.Index):
    """The listings' index by contributor: (contributor) on PostgreSQL, (contributor, target) elsewhere.

    PostgreSQL reads a large contributor's listings in target order through the unique
    (target, contributor) index, as its statistics tell it to. SQLite plans without statistics:
    it would take every listing of the contributor through an index on the contributor alone and
    sort them for each page of the list (82 ms at 300,000 listings instead of 1 ms), so there the
    index carries the target too, at the cost of a random insertion per new listing that only
    PostgreSQL's ten-million-listing imports are measured by.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            wide = models.Index(fields=[*self.fields, "target"], name=self.name)
            return wide.create_sql(model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Listing(models.Model):
    """One contributor's decision about one target. One row per (contributor, target)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        HELD = "held", _("Held for operator review")
        REMOVED = "removed", _("Removed")

    # On PostgreSQL the column's collation is "C" (migration 0004, like the feed entries' target):
    # a migration that alters this field must restore it, as AlterField resets the collation.
    target = models.CharField(_("target"), max_length=300)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Indexed on its own (Meta): the unique index is (target, contributor), see there.
    # No database constraint: PostgreSQL checks a foreign key once per inserted row, and at commit a
    # million-row upload spent 5 s (a sixth of the import) proving a million times that its one
    # organization exists. Every write path takes the organization as a loaded object and locks
    # its row (listings.services.lock_contributor); deletion goes through Django, whose PROTECT
    # refuses to delete an organization that has listings.
    contributor = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="listings",
                                    db_index=False, db_constraint=False, verbose_name=_("contributor"))
    category = models.CharField(_("category"), max_length=30, choices=Category.choices)
    reference = models.CharField(_("reference"), max_length=200, blank=True,
                                 help_text=_("The national decision or case identifier."))
    listed_at = models.DateTimeField(_("listed"), default=timezone.now)
    review_after = models.DateField(_("review after"), null=True, blank=True)
    note = models.TextField(_("private note"), blank=True,
                            help_text=_("Seen only by your organization and the operator."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(_("reason"), blank=True)
    # A hold the service made itself is kept as the protected target it is for, so that its
    # reason reads in each reader's language (reason_text), not in the submitter's.
    held_for = models.CharField(_("held for protected target"), max_length=300, blank=True)
    status_changed_at = models.DateTimeField(_("status changed"), default=timezone.now)
    # The audit event of the submission that created the listing: who, when, from which address
    # and through which upload. The listing is the record of what that event created (its later
    # changes are audit items of their own events, with the values before and after), so a
    # million-row upload writes one event, not a million audit items repeating the listings.
    # Without a database constraint, like the audit log's own references; never changed.
    creation_event = models.ForeignKey(AuditEvent, null=True, blank=True, on_delete=models.DO_NOTHING,
                                       db_constraint=False, db_index=False, related_name="created_listings",
                                       verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # A federated authority's listing: the version of its installation's list at which it last
    # changed there (its origin is the contributor's, its first listing `listed_at`). Null for local ones.
    origin_version = models.BigIntegerField(_("upstream version"), null=True, blank=True)

    class Meta:
        # One B-tree over the targets serves both the uniqueness and every lookup by target (the
        # public check, the aggregate of a target's listings). A second one keyed by contributor
        # and then target, as before, took each new listing at a random place too: a contributor
        # adding to its own list of ten million paid for two random insertions per row (1.6 s of a
        # 666,667-row file). The contributor's own index takes a contributor's new listings at its
        # end (equal keys are kept in the order of the rows on disk). A contributor's listings in
        # target order are read through the unique index, filtered by contributor, or for a small
        # contributor through its own index and sorted: PostgreSQL's planner chooses by the
        # statistics. SQLite has none and sorts (see ContributorIndex).
        constraints = [
            models.UniqueConstraint(fields=["target", "contributor"], name="listing_one_per_target_contributor"),
        ]
        indexes = [
            ContributorIndex(fields=["contributor"], name="listing_contributor"),
            # Only the listings that are not active: they are the ones looked up by status (the
            # review inbox, a contributor's held or removed listings), and a million-row upload
            # of active listings then writes no entry here — a second each on PostgreSQL. A
            # contributor's active listings are most of its listings, read through the unique index.
            models.Index(fields=["contributor", "status"], condition=~models.Q(status="active"),
                         name="listing_contributor_inactive"),
            # Listings are written event by event, so a range index finds an event's listings.
            RangeIndex(fields=["creation_event"], name="listing_creation_event"),
        ]
        ordering = ["target"]
        verbose_name = _("listing")
        verbose_name_plural = _("listings")

    def __str__(self):
        return f"{self.target} ({self.contributor})"

    @property
    def reason_text(self):
        """Why the listing has its status, in the active language where SiteAlert wrote it."""
        return reason_text(self.target, self.status_reason, self.held_for)


def reason_text(target, status_reason, held_for):
    """A listing's reason from its stored fields: typed by a person, or rendered for its protected target."""
    return protected_target_reason(target, held_for) if held_for else status_reason


def protected_target_reason(target, protected):
    """Why a listing of `target` waits for the operator: it equals or overlaps `protected`."""
    if target == protected:
        return gettext("'%(target)s' is a protected target: the operator must review this listing before it is "
                       "published.") % {"target": target}
    return gettext("'%(target)s' overlaps the protected target '%(protected)s': the operator must review this "
                   "listing before it is published.") % {"target": target, "protected": protected}


class ProtectedTarget(models.Model):
    """A domain that is never published without operator review."""

    target = models.CharField(_("target"), max_length=300, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   verbose_name=_("added by"))

    class Meta:
        ordering = ["target"]
        verbose_name = _("protected target")
        verbose_name_plural = _("protected targets")

    def __str__(self):
        return self.target
