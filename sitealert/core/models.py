from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnly(models.Model):
    """Rows that are written once and never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{self._meta.verbose_name_plural} are append-only.")


class AuditEvent(AppendOnly):
    """Append-only record of every change: who, when, what, from which address."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    # No database constraint: the append-only log must neither block nor be blocked by changes to
    # accounts, and checking a million references of a bulk import at commit costs seconds on
    # PostgreSQL. Django still applies SET_NULL when a user or organization is deleted.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             db_constraint=False, verbose_name=_("user"))
    organization = models.ForeignKey("organizations.Organization", null=True, blank=True, db_constraint=False,
                                     on_delete=models.SET_NULL, related_name="+", verbose_name=_("organization"))
    token_hint = models.CharField(_("token"), max_length=12, blank=True)
    via = models.CharField(_("via"), max_length=10, blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class RangeIndex(models.Index):
    """An index for a column whose values grow with the table: BRIN on PostgreSQL, a B-tree elsewhere.

    A BRIN index keeps the smallest and largest value of each range of pages, so appending a row
    costs next to nothing, where a B-tree takes an entry per row (a second per million-row upload).
    It finds rows as long as equal values sit together on disk, which append-only rows written
    event by event do. SQLite has no BRIN and keeps the B-tree.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class AuditItem(AppendOnly):
    """One of the objects an event covers when it covers many (the listings of one upload).

    Who, when, from which address and the action are the event's, recorded once; the item says
    what happened to this object. Like events, items are append-only.
    """

    event = models.ForeignKey(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
                              related_name="items", verbose_name=_("event"))
    # Not indexed: the log is searched by substring, which no B-tree serves, and an index would
    # cost every bulk upload another write per listing.
    object_repr = models.CharField(_("object"), max_length=300)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        # Items are written right after their event, so the order they were written in is the
        # event's order, and the primary key serves it without a sort.
        ordering = ["id"]
        indexes = [RangeIndex(fields=["event"], name="audit_item_event")]
        verbose_name = _("audit item")
        verbose_name_plural = _("audit items")

    def __str__(self):
        return self.object_repr


class RateLimitCount(models.Model):
    """Requests one client made under one rate limit (sitealert.core.ratelimit): in the current
    fixed window (`bucket`) and in the one before, which the sliding window weighs.

    The key names the limit and the client; rows whose counts no longer weigh on the limit are
    deleted by the worker's maintenance.
    """

    key = models.CharField(_("key"), max_length=320, primary_key=True)
    bucket = models.BigIntegerField(_("window"), default=0,
                                    help_text="Number of the current window: Unix time // length.")
    count = models.PositiveIntegerField(_("requests"), default=0)
    previous = models.PositiveIntegerField(_("requests in the previous window"), default=0)
    expires = models.BigIntegerField(_("expires"), help_text="Unix time after which neither window counts.")

    class Meta:
        verbose_name = _("rate limit count")
        verbose_name_plural = _("rate limit counts")

    def __str__(self):
        return f"{self.key}: {self.count}"
