"""A contributor's operating procedure: the published version per language and every revision."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitealert.organizations.models import Organization


class ProcedureText(models.Model):
    """The texts of a procedure in one language, as published and as each revision kept them."""

    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    description = models.TextField(_("description"))
    contact = models.TextField(_("contact"))
    criteria = models.TextField(_("criteria"))
    procedure = models.TextField(_("procedure"))
    # Added after the first four: versions published before it have none, and the page then omits it.
    appeal = models.TextField(_("review and appeal"), blank=True, default="")

    # The five fields of WIPO ALERT's procedures database, in the order the public page shows them.
    FIELDS = ("description", "contact", "criteria", "procedure", "appeal")

    class Meta:
        abstract = True


class OperatingProcedure(ProcedureText):
    """A contributor's published procedure in one language."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="procedures",
                                     verbose_name=_("contributor"))
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        unique_together = [("organization", "language")]
        verbose_name = _("operating procedure")
        verbose_name_plural = _("operating procedures")

    def __str__(self):
        return f"{self.organization} ({self.language})"


class ProcedureRevision(ProcedureText):
    """One published version of a contributor's operating procedure in one language."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="procedure_revisions",
                                     verbose_name=_("contributor"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("author"))
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "language", "created_at"])]
        verbose_name = _("procedure revision")
        verbose_name_plural = _("procedure revisions")

    def __str__(self):
        return f"{self.organization} ({self.language}) {self.created_at:%Y-%m-%d %H:%M}"

