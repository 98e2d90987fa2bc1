"""Review requests from people affected by a listing, and the case each listing authority answers."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitealert.organizations.models import Organization


def hash_token(token):
    """Links sent by e-mail carry a random token; only its SHA-256 is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ReviewRequest(models.Model):
    """Someone affected by a listing asks the listing authorities to review it."""

    class Relationship(models.TextChoices):
        OPERATOR = "operator", _("I operate the site or app")
        OWNER = "owner", _("I own the domain name or the app")
        PROVIDER = "provider", _("Hosting or service provider of the site")
        RIGHTS_HOLDER = "rights-holder", _("Rights holder or their representative")
        VISITOR = "visitor", _("User or visitor of the site")
        OTHER = "other", _("Other")

    query = models.CharField(_("site or app as entered"), max_length=300)
    target = models.CharField(_("target"), max_length=300, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    relationship = models.CharField(_("relationship to the site"), max_length=20, choices=Relationship.choices)
    reasons = models.TextField(_("reasons"))
    evidence = models.TextField(_("evidence links"), blank=True, help_text=_("One address per line."))
    language = models.CharField(_("language"), max_length=10, default="en")
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    confirm_token_hash = models.CharField(_("confirmation token hash"), max_length=64, unique=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    status_token_hash = models.CharField(_("status token hash"), max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("review request")
        verbose_name_plural = _("review requests")

    def __str__(self):
        return f"{self.target} ({self.created_at:%Y-%m-%d})"

    @property
    def evidence_links(self):
        return [line for line in self.evidence.splitlines() if line.strip()]


class ReviewCase(models.Model):
    """A confirmed review request as it reaches one contributor that lists the target."""

    class Outcome(models.TextChoices):
        OPEN = "open", _("Awaiting an answer")
        UPHELD = "upheld", _("Listing upheld")
        REMOVED = "removed", _("Listing removed")

    request = models.ForeignKey(ReviewRequest, on_delete=models.CASCADE, related_name="cases",
                                verbose_name=_("review request"))
    contributor = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="review_cases",
                                    verbose_name=_("contributor"))
    listed_targets = models.JSONField(_("listed targets"), default=list,
                                      help_text=_("The contributor's listings that cover the requested target."))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN)
    opened_at = models.DateTimeField(_("received"), default=timezone.now)
    due_at = models.DateTimeField(_("answer due"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("answered by"))
    explanation = models.TextField(_("explanation"), blank=True)
    next_reminder_at = models.DateTimeField(_("next reminder"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(_("reminders sent"), default=0)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "contributor"], name="review_case_one_per_contributor"),
        ]
        indexes = [
            models.Index(fields=["contributor", "outcome"]),
            models.Index(fields=["outcome", "next_reminder_at"]),
        ]
        verbose_name = _("review case")
        verbose_name_plural = _("review cases")

    def __str__(self):
        return f"{self.request.target} → {self.contributor} ({self.outcome})"

    @property
    def is_open(self):
        return self.outcome == self.Outcome.OPEN

    @classmethod
    def overdue(cls, now=None):
        """Open cases due before `now`: those the reviews/outcome.html badge calls overdue."""
        return cls.objects.filter(outcome=cls.Outcome.OPEN, due_at__lt=now or timezone.now())
