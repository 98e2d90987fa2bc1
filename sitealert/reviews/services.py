"""Review requests: anyone affected by a listing asks the listing authorities to review it.

submit_review_request -> e-mail with a confirmation link -> confirm_review_request opens one
ReviewCase per contributor that lists the target and gives the requester an unguessable status
link -> each contributor answers in its inbox (answer_case: upheld with an explanation, or removed
through the listing services) -> the requester is told. `send_due_reminders(now)` is called by the
worker; `review_counts()` feeds the public pages.
"""

import secrets
import statistics as stats
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sitealert.core import audit, ratelimit
from sitealert.core.actors import Actor
from sitealert.core.conf import setting
from sitealert.core.mail import member_emails as _contributor_emails
from sitealert.core.mail import send_in_language as _send
from sitealert.hosts import covering_targets
from sitealert.listings.models import Listing
from sitealert.listings.services import remove_listings
from sitealert.organizations import permissions
from sitealert.reviews.models import ReviewCase, ReviewRequest, hash_token


class ReviewError(ValueError):
    """A refusal the person can act on; the message says why."""


def absolute_url(path):
    return settings.SITE_URL + path


# --- Submission and confirmation ------------------------------------------------------------

def active_listings_covering(target):
    return (Listing.objects.filter(target__in=covering_targets(target), status=Listing.Status.ACTIVE)
            .select_related("contributor"))


def local_listings_covering(target):
    """The active listings a review request here goes to: those of authorities that decide on this
    installation. A federated authority answers at its own installation (`reviews_elsewhere`)."""
    return active_listings_covering(target).filter(contributor__origin="")


def review_form_url(target):
    """This installation's review form with `target` filled in (a path)."""
    return reverse("reviews:review_new") + "?target=" + quote(target, safe="")


def review_url_at(authority, target):
    """A federated authority's review form: its installation's `review_url` with `target` put in for
    `{target}` (its page there when the installation gave no form)."""
    if not authority.review_url:
        return authority.origin_url
    return authority.review_url.replace("{target}", quote(target, safe=""))


@dataclass(frozen=True)
class ReviewElsewhere:
    """Where to ask a federated authority that lists a target for a review: at its own installation."""

    authority: str
    installation: str
    url: str


def reviews_elsewhere(target, authorities):
    """A ReviewElsewhere for each federated one of `authorities` (organizations, or anything with
    their name, origin_installation and review_url), once each, in the order given."""
    seen, links = set(), []
    for org in authorities:
        if not org.origin or org.origin in seen:
            continue
        seen.add(org.origin)
        links.append(ReviewElsewhere(org.name, org.origin_installation or org.origin, review_url_at(org, target)))
    return links


@dataclass(frozen=True)
class ReviewRoutes:
    """Where a review of `target` is asked: here (this installation's form, to its own authorities
    that list it) and at the installations of the federated authorities that list it."""

    here: bool
    elsewhere: list

    @property
    def only_elsewhere(self):
        return bool(self.elsewhere) and not self.here


NO_ROUTES = ReviewRoutes(here=False, elsewhere=[])


def review_routes(target):
    """The ReviewRoutes of a normalized `target` (or a domain covering it)."""
    listings = list(active_listings_covering(target).order_by("contributor__name"))
    return ReviewRoutes(here=any(not listing.contributor.is_federated for listing in listings),
                        elsewhere=reviews_elsewhere(target, [listing.contributor for listing in listings]))


def submission_wait(ip, email):
    """Count one accepted submission; seconds to wait when the client or the e-mail address is over its limit.

    Only submissions that would be stored count: a refused one is given back, so a client over
    one limit does not use up the other."""
    window = setting("REVIEW_REQUEST_WINDOW")
    counters = [("review-ip", ratelimit.client_key(ip), setting("REVIEW_REQUEST_IP_RATE"))]
    if email:
        counters.append(("review-email", email.strip().lower(), setting("REVIEW_REQUEST_EMAIL_RATE")))
    wait = max(ratelimit.hit(scope, key, limit, window) for scope, key, limit in counters)
    if wait:
        for scope, key, _limit in counters:
            ratelimit.refund(scope, key, window)
    return wait


def invalid_submission_wait(ip):
    """Count one post that was not accepted (errors, honeypot); seconds to wait when the client is over
    REVIEW_INVALID_POST_RATE. Separate from, and more generous than, the limit on accepted requests:
    correcting typos never uses up the requests a client may send."""
    return ratelimit.hit("review-invalid", ratelimit.client_key(ip), setting("REVIEW_INVALID_POST_RATE"),
                         setting("REVIEW_INVALID_POST_WINDOW"))


def submit_review_request(*, query, target, name, email, relationship, reasons, evidence, language, ip, now=None):
    """Store an unconfirmed request and e-mail its confirmation link. Returns the request.

    `target` is the normalized form of `query`; the form checked that it is listed."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        request = ReviewRequest.objects.create(
            query=query[:300], target=target, name=name, email=email, relationship=relationship, reasons=reasons,
            evidence="\n".join(evidence), language=language, ip_address=ip, created_at=now,
            confirm_token_hash=hash_token(token))
        audit.record(Actor(ip=ip, via="web"), "review.submit", target, {"request": request.pk})
    hours = setting("REVIEW_CONFIRM_HOURS")
    _send(lambda: _("Confirm your review request for %(target)s") % {"target": target},
          "reviews/email/confirm.txt",
          {"request": request, "hours": hours,
           "confirm_url": absolute_url(reverse("reviews:review_confirm", args=[token]))},
          [email], language)
    return request


def request_for_confirmation(token):
    """The request a confirmation link belongs to, or None."""
    if not token or len(token) > 100:
        return None
    return ReviewRequest.objects.filter(confirm_token_hash=hash_token(token)).first()


def confirmation_expired(request, now=None):
    limit = request.created_at + timedelta(hours=setting("REVIEW_CONFIRM_HOURS"))
    return request.confirmed_at is None and (now or timezone.now()) > limit


def confirm_review_request(request, *, ip=None, now=None):
    """Open one case per contributor that lists the target; returns the secret status token.

    The token is shown once and e-mailed to the requester; only its hash is stored."""
    now = now or timezone.now()
    if confirmation_expired(request, now):
        raise ReviewError(_("This confirmation link has expired. Please submit your request again."))
    status_token = secrets.token_urlsafe(32)
    due = now + timedelta(days=setting("REVIEW_DUE_DAYS"))
    first_reminder = due - timedelta(days=setting("REVIEW_REMINDER_DAYS"))
    with transaction.atomic():
        claimed = ReviewRequest.objects.filter(pk=request.pk, confirmed_at__isnull=True).update(
            confirmed_at=now, status_token_hash=hash_token(status_token))
        if not claimed:
            raise ReviewError(_("This review request is already confirmed. Follow it with the status link we "
                                "sent you by e-mail."))
        by_contributor = {}
        for listing in local_listings_covering(request.target):
            by_contributor.setdefault(listing.contributor, []).append(listing.target)
        cases = [ReviewCase(request=request, contributor=contributor, listed_targets=sorted(targets),
                            opened_at=now, due_at=due, next_reminder_at=max(first_reminder, now))
                 for contributor, targets in by_contributor.items()]
        ReviewCase.objects.bulk_create(cases)
        audit.record(Actor(ip=ip, via="web"), "review.confirm", request.target, {
            "request": request.pk, "contributors": sorted(c.slug for c in by_contributor)})
    request.refresh_from_db()
    status_url = absolute_url(reverse("reviews:review_status", args=[status_token]))
    _send(lambda: _("Your review request for %(target)s is confirmed") % {"target": request.target},
          "reviews/email/confirmed.txt", {"request": request, "status_url": status_url,
                                         "cases": list(request.cases.select_related("contributor"))},
          [request.email], request.language)
    inbox_url = absolute_url(reverse("reviews:inbox"))
    for case in request.cases.select_related("contributor"):
        _send(lambda: _("New review request for %(target)s") % {"target": request.target},
              "reviews/email/new_case.txt", {"request": request, "case": case, "inbox_url": inbox_url},
              _contributor_emails(case.contributor), settings.LANGUAGE_CODE)
    return status_token


def request_for_status(token):
    if not token or len(token) > 100:
        return None
    return ReviewRequest.objects.filter(status_token_hash=hash_token(token), confirmed_at__isnull=False).first()


# --- The contributor's answer ---------------------------------------------------------------

def inbox_cases(actor):
    """The cases of the actor's contributor, open ones first (earliest due date first)."""
    org = actor.organization
    permissions.require(permissions.can_answer_reviews(actor, org), permissions.why_not(actor))
    return (ReviewCase.objects.filter(contributor=org).select_related("request")
            .order_by(F("answered_at").desc(nulls_first=True), "due_at", "id"))


def case_listings(case):
    """The contributor's listings of the case's targets, as they are now."""
    return list(Listing.objects.filter(contributor=case.contributor, target__in=case.listed_targets)
                .order_by("target"))


def answer_case(case, outcome, explanation, *, actor, now=None):
    """Record the contributor's answer. 'removed' removes the listings through the listing services,
    so the removal reaches the change log like any other."""
    permissions.require(permissions.can_answer_reviews(actor, case.contributor))
    explanation = (explanation or "").strip()
    if outcome not in (ReviewCase.Outcome.UPHELD, ReviewCase.Outcome.REMOVED):
        raise ReviewError(_("Choose whether the listing is upheld or removed."))
    if not explanation:
        raise ReviewError(_("An explanation is required: it is shown to the person who asked for the review."))
    now = now or timezone.now()
    with transaction.atomic():
        case = ReviewCase.objects.select_for_update().select_related("request").get(pk=case.pk)
        if not case.is_open:
            raise ReviewError(_("This request was already answered."))
        # Active or held by the operator: either way the contributor still stands by the listing.
        standing = [l.target for l in case_listings(case) if l.status != Listing.Status.REMOVED]
        if outcome == ReviewCase.Outcome.UPHELD and not standing:
            raise ReviewError(_("None of these listings is active any more; answer that the listing was removed."))
        removal = None
        if outcome == ReviewCase.Outcome.REMOVED and standing:
            removal = remove_listings(case.contributor, standing, explanation, actor=actor)
            if not removal.applied:
                raise ReviewError(removal.summary)
        case.outcome, case.explanation = outcome, explanation
        case.answered_at, case.answered_by = now, actor.user
        case.next_reminder_at = None
        case.save(update_fields=["outcome", "explanation", "answered_at", "answered_by", "next_reminder_at"])
        audit.record(actor, "review.answer", case.request.target, {
            "request": case.request_id, "case": case.pk, "outcome": outcome, "explanation": explanation,
            "removed": standing if removal is not None else [], "version": removal.version if removal else None})
    request = case.request
    _send(lambda: _("Answer to your review request for %(target)s") % {"target": request.target},
          "reviews/email/answered.txt", {"request": request, "case": case}, [request.email], request.language)
    return case


# --- Reminders ------------------------------------------------------------------------------

def send_due_reminders(now=None):
    """E-mail the contributors whose answers are due soon or overdue; returns how many were sent.

    The first reminder goes out REVIEW_REMINDER_DAYS before the due date, the next ones every
    REVIEW_REMINDER_DAYS while the case stays open. Each case is claimed with a conditional UPDATE,
    so any number of workers can call this at once without sending a reminder twice."""
    now = now or timezone.now()
    interval = timedelta(days=setting("REVIEW_REMINDER_DAYS"))
    due_cases = (ReviewCase.objects.filter(outcome=ReviewCase.Outcome.OPEN, next_reminder_at__lte=now)
                 .select_related("request", "contributor").order_by("next_reminder_at")[:500])
    inbox_url = absolute_url(reverse("reviews:inbox"))
    sent = 0
    for case in due_cases:
        # "Due soon" reminders lead to one on the due date; after it, one every interval.
        following = case.due_at if case.due_at > now else now + interval
        claimed = ReviewCase.objects.filter(pk=case.pk, outcome=ReviewCase.Outcome.OPEN,
                                            next_reminder_at=case.next_reminder_at).update(
            next_reminder_at=following, reminders_sent=F("reminders_sent") + 1)
        if not claimed:
            continue
        overdue = case.due_at <= now
        # Bound as defaults: _send calls the subject at once, in the recipients' language.
        _send(lambda overdue=overdue, case=case: (
                  _("Overdue: review request for %(target)s") if overdue
                  else _("Reminder: review request for %(target)s")) % {"target": case.request.target},
              "reviews/email/reminder.txt", {"case": case, "request": case.request, "overdue": overdue,
                                            "inbox_url": inbox_url},
              _contributor_emails(case.contributor), settings.LANGUAGE_CODE)
        sent += 1
    return sent


def purge_unconfirmed_requests(now=None):
    """Delete requests whose confirmation link expired; they never reached anyone."""
    now = now or timezone.now()
    limit = now - timedelta(hours=setting("REVIEW_CONFIRM_HOURS"))
    deleted, _ignored = ReviewRequest.objects.filter(confirmed_at__isnull=True, created_at__lt=limit).delete()
    return deleted


# --- Public counts --------------------------------------------------------------------------

@dataclass
class ReviewCounts:
    received: int = 0
    upheld: int = 0
    removed: int = 0
    open: int = 0
    overdue: int = 0
    median_days: float | None = None  # from receipt to answer, over answered requests

    @property
    def answered(self):
        return self.upheld + self.removed


def review_counts(contributor_ids=None, now=None):
    """{contributor id: ReviewCounts} over confirmed review requests."""
    now = now or timezone.now()
    cases = ReviewCase.objects.all()
    if contributor_ids is not None:
        cases = cases.filter(contributor_id__in=list(contributor_ids))
    counts, durations = {}, {}
    for org_id, outcome, opened, answered, due in cases.values_list(
            "contributor_id", "outcome", "opened_at", "answered_at", "due_at").iterator():
        c = counts.setdefault(org_id, ReviewCounts())
        c.received += 1
        if outcome == ReviewCase.Outcome.OPEN:
            c.open += 1
            c.overdue += due < now
        else:
            setattr(c, outcome, getattr(c, outcome) + 1)
            durations.setdefault(org_id, []).append((answered - opened).total_seconds() / 86400)
    for org_id, values in durations.items():
        counts[org_id].median_days = round(stats.median(values), 1)
    return counts

