import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_epoch():
    return secrets.token_hex(8)


class FeedState(models.Model):
    """Singleton row: the current version of the aggregated list and the retained history.

    Writers lock this row for the whole transaction, so change numbers are assigned and become
    visible strictly in order on PostgreSQL as on SQLite.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)
    pruned_through = models.BigIntegerField(default=0, help_text="Changes up to this number were pruned.")
    epoch = models.CharField(max_length=32, default=new_epoch,
                             help_text="Random per database, so cached documents never outlive a reset.")

    class Meta:
        verbose_name = _("feed state")


class FeedEntry(models.Model):
    """A target of the aggregated list, with the aggregate of its active listings."""

    target = models.CharField(max_length=300, primary_key=True)
    kind = models.CharField(max_length=10)
    countries = models.CharField(max_length=200, help_text="Sorted ISO codes, comma-separated.")
    categories = models.CharField(max_length=300, help_text="Sorted categories, comma-separated.")
    first_listed_at = models.DateTimeField()
    version = models.BigIntegerField(help_text="Change number that last altered this entry.")

    class Meta:
        verbose_name = _("feed entry")
        verbose_name_plural = _("feed entries")


class Change(models.Model):
    """One alteration of the aggregated list. `listed=False` rows are tombstones."""

    seq = models.BigIntegerField(primary_key=True)
    target = models.CharField(max_length=300)
    kind = models.CharField(max_length=10)
    listed = models.BooleanField()
    countries = models.CharField(max_length=200, blank=True)
    categories = models.CharField(max_length=300, blank=True)
    first_listed_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("change")
        verbose_name_plural = _("changes")
