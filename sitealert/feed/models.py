import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Not in the feed documents: it makes a change of who lists a target a change of the aggregate, which
# a federated subscriber needs to attribute each listing to the authority that decided it. A default
# in the database (db_default), so rows written by SQL that predates the column stay valid.
CONTRIBUTORS_HELP = 'Sorted "<organization id>:<category>" of the active listings, comma-separated.'


def new_epoch():
    return secrets.token_hex(8)


class FeedState(models.Model):
    """Singleton row: the current version of the aggregated list and the retained history.

    Writers lock this row for the whole transaction, so change numbers are assigned and become
    visible strictly in order on PostgreSQL as on SQLite.
    """

    id = models.PositiveSmallIntegerField(_("ID"), primary_key=True, default=1)
    version = models.BigIntegerField(_("version"), default=0)
    pruned_through = models.BigIntegerField(_("pruned through"), default=0,
                                            help_text="Changes up to this number were pruned.")
    epoch = models.CharField(_("epoch"), max_length=32, default=new_epoch,
                             help_text="Random per database, so cached documents never outlive a reset.")

    class Meta:
        verbose_name = _("feed state")
        verbose_name_plural = _("feed states")


class FeedEntry(models.Model):
    """A target of the aggregated list, with the aggregate of its active listings."""

    # On PostgreSQL the column's collation is "C" and the primary key covers the columns a feed
    # document reads (migration 0003, so documents are built without a sort): a migration that
    # alters this field must restore both, as AlterField resets the collation.
    target = models.CharField(_("target"), max_length=300, primary_key=True)
    kind = models.CharField(_("kind"), max_length=10)
    countries = models.CharField(pgettext_lazy("feed field", "countries"), max_length=200,
                                 help_text="Sorted ISO codes, comma-separated.")
    categories = models.CharField(_("categories"), max_length=300, help_text="Sorted categories, comma-separated.")
    contributors = models.TextField(_("contributors"), db_default="", help_text=CONTRIBUTORS_HELP)
    first_listed_at = models.DateTimeField(_("first listed"))
    version = models.BigIntegerField(_("version"), help_text="Change number that last altered this entry.")

    class Meta:
        verbose_name = _("feed entry")
        verbose_name_plural = _("feed entries")


class Change(models.Model):
    """One alteration of the aggregated list. `listed=False` rows are tombstones."""

    seq = models.BigIntegerField(_("change number"), primary_key=True)
    target = models.CharField(_("target"), max_length=300)
    kind = models.CharField(_("kind"), max_length=10)
    listed = models.BooleanField(pgettext_lazy("feed field", "listed"))
    countries = models.CharField(pgettext_lazy("feed field", "countries"), max_length=200, blank=True)
    categories = models.CharField(_("categories"), max_length=300, blank=True)
    contributors = models.TextField(_("contributors"), blank=True, db_default="", help_text=CONTRIBUTORS_HELP)
    first_listed_at = models.DateTimeField(_("first listed"), null=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("change")
        verbose_name_plural = _("changes")
