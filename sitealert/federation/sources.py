"""Operating federation sources: adding and removing them, the worker's due pulls, staleness (the
admin's flag, /metrics and one e-mail per stale period to the operator). The CLI (`sitealert
source …`) and the admin call these; the pull itself is sitealert.federation.pull."""

import logging
import shutil

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitealert.client.sync import base_url, mirror_url
from sitealert.core import audit
from sitealert.federation.models import FederatedAuthority, Source
from sitealert.federation.pull import federation_actor, is_due, is_stale, lag, metadata_directory, pull, targets_path
from sitealert.federation.results import PullResult
from sitealert.listings.models import Listing
from sitealert.listings.services import remove_listings
from sitealert.organizations import permissions
from sitealert.organizations.models import Organization

log = logging.getLogger("sitealert.federation")

MIN_EVERY = 60


class SourceError(ValueError):
    """A refusal the operator can act on; the message says why."""


def _check_root(root):
    from tuf.api.exceptions import RepositoryError
    from tuf.api.metadata import Metadata, Root

    try:
        Metadata[Root].from_bytes(root)
    except (RepositoryError, ValueError, TypeError, KeyError) as exc:
        raise SourceError(_("The trusted root is not TUF root metadata (the root.json of a published tree): "
                            "%(problem)s") % {"problem": exc}) from None


def add_source(name, *, kind, url, actor, token="", root=b"", contributor=None, every=3600, republish=True,
               max_removal_share=0.1):
    """Subscribe to a source (docs/federation.md); returns the Source. Refusals raise SourceError."""
    permissions.require(permissions.can_administer(actor))
    if not name or slugify(name) != name:
        raise SourceError(_("A source's name is a short slug of letters, digits and hyphens, such as "
                            "'arcom-fr'; '%(name)s' is not.") % {"name": name})
    if Source.objects.filter(name=name).exists():
        raise SourceError(_("There is already a source named '%(name)s'.") % {"name": name})
    if kind not in Source.Kind.values:
        raise SourceError(_("Unknown kind of source '%(kind)s'.") % {"kind": kind})
    try:
        url = {Source.Kind.API: base_url, Source.Kind.MIRROR: mirror_url}.get(kind, _list_url)(url)
    except ValueError as exc:
        raise SourceError(_("The address is not usable: %(problem)s") % {"problem": exc}) from None
    if kind == Source.Kind.API and not token:
        raise SourceError(_("A source read through an installation's API needs a feed token of that "
                            "installation (--token)."))
    if kind == Source.Kind.MIRROR:
        if not root:
            raise SourceError(_("A mirror source needs the trusted root metadata that pins its keys (--root)."))
        _check_root(root)
    if kind == Source.Kind.LIST:
        if contributor is None or not contributor.is_contributor or contributor.is_federated:
            raise SourceError(_("A plain-list source belongs to a local contributor (--org)."))
    elif contributor is not None:
        raise SourceError(_("Only a plain-list source belongs to a contributor."))
    if every < MIN_EVERY:
        raise SourceError(_("A source is pulled at most every %(n)d seconds.") % {"n": MIN_EVERY})
    if not 0 <= max_removal_share <= 1:
        raise SourceError(_("The largest share of removals is a number from 0 to 1."))
    with transaction.atomic():
        source = Source.objects.create(
            name=name, kind=kind, url=url, token=token, root=root.decode() if isinstance(root, bytes) else root,
            contributor=contributor, every=every, republish=republish, max_removal_share=max_removal_share,
            created_by=actor.user)
        audit.record(actor, "federation.source.add", name, {"kind": kind, "url": url, "every": every,
                                                             "republish": republish})
    return source


def _list_url(url):
    url = url.strip()
    if not url.startswith(("https://", "http://")) or len(url) > 500 or url.endswith("://"):
        raise ValueError(f"{url!r} is not an http:// or https:// address")
    return url


def source_named(name):
    try:
        return Source.objects.get(name=name)
    except Source.DoesNotExist:
        raise SourceError(_("There is no source named '%(name)s'; 'sitealert source list' shows them.") % {
            "name": name}) from None


def _live_listings(source):
    return Listing.objects.filter(contributor__federation__source=source,
                                  status__in=(Listing.Status.ACTIVE, Listing.Status.HELD))


def remove_source(source, *, actor, purge=False):
    """Stop carrying a source. While its authorities list anything here, only with `purge`, which
    removes those listings first. The authorities stay (read-only, with their procedures); another
    source that brings them later takes them over."""
    permissions.require(permissions.can_administer(actor))
    kept = targets_path(source)
    with transaction.atomic():
        live = _live_listings(source)
        count = live.count()
        if count and not purge:
            raise SourceError(ngettext("%(name)s still brings %(n)d listing; remove it with --purge to remove it "
                                       "too.",
                                       "%(name)s still brings %(n)d listings; remove it with --purge to remove them "
                                       "too.", count) % {"name": source.name, "n": count})
        reason = _("Its federation source was removed")
        for org in Organization.objects.filter(federation__source=source):
            targets = list(live.filter(contributor=org).values_list("target", flat=True))
            if targets:
                remove_listings(org, targets, reason, actor=federation_actor(org), accept_valid_rows=True)
        FederatedAuthority.objects.filter(source=source).delete()
        audit.record(actor, "federation.source.remove", source.name, {"listings_removed": count})
        source.delete()
    shutil.rmtree(metadata_directory(source), ignore_errors=True)
    kept.unlink(missing_ok=True)
    return count


def pull_sources(sources, *, full=False, now=None):
    """Pull each of `sources` now (the CLI, the admin's action); their PullResults."""
    return [_pulled(source, full=full, now=now) for source in sources]


def _pulled(source, *, full=False, now=None):
    """pull(source), with an unexpected failure (a bug, the database gone) recorded on the source
    like any other, so that the operator sees it, and the other sources still pulled."""
    now = now or timezone.now()
    try:
        return pull(source, full=full, now=now)
    except Exception as exc:  # noqa: BLE001 — the pull's transaction is rolled back; say so and go on
        log.exception("federation source %s: the pull failed", source.name)
        message = _("The pull failed unexpectedly (%(error)s); the source keeps its last verified state.") % {
            "error": f"{type(exc).__name__}: {exc}"}
        Source.objects.filter(pk=source.pk).update(last_error=message, last_error_at=now)
        return PullResult(source=source.name, version=source.version, error=message)


def pull_due_sources(now=None):
    """The worker: pull every enabled source whose interval has passed since its last attempt.

    Each source is claimed with a conditional UPDATE of its last attempt, so any number of workers
    pull it once."""
    now = now or timezone.now()
    results = []
    for source in Source.objects.filter(enabled=True).order_by("last_attempt_at", "name"):
        if not is_due(source, now):
            continue
        claimed = Source.objects.filter(pk=source.pk, last_attempt_at=source.last_attempt_at).update(
            last_attempt_at=now)
        if not claimed:
            continue
        result = _pulled(source, now=now)
        if result.error:
            log.warning("federation source %s: %s", source.name, result.error)
        results.append(result)
    alert_stale_sources(now)
    return results


def operator_emails():
    User = get_user_model()
    return sorted(set(User.objects.filter(
        is_active=True, membership__organization__kind=Organization.Kind.OPERATOR,
        membership__organization__status=Organization.Status.APPROVED).exclude(email="")
        .values_list("email", flat=True)))


def alert_stale_sources(now=None):
    """E-mail the operator once per stale period of each source; returns the names alerted about.

    A source's alert is claimed with a conditional UPDATE (stale_alerted_at from empty); a
    successful pull empties it again (pull._store), which starts the next period."""
    now = now or timezone.now()
    alerted = []
    for source in Source.objects.filter(enabled=True, stale_alerted_at__isnull=True):
        if not is_stale(source, now):
            continue
        if not Source.objects.filter(pk=source.pk, stale_alerted_at__isnull=True).update(stale_alerted_at=now):
            continue
        _send_stale(source, now)
        alerted.append(source.name)
    return alerted


def _send_stale(source, now):
    recipients = operator_emails()
    if not recipients:
        log.warning("federation source %s is stale and no operator account has an e-mail address", source.name)
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = f"[{settings.SITE_NAME}] " + _("Federation source %(name)s is stale") % {"name": source.name}
        body = render_to_string("federation/email/stale.txt", {
            "source": source, "hours": round(lag(source, now) / 3600, 1), "SITE_NAME": settings.SITE_NAME})
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # noqa: BLE001 — any backend failure; the alert is not sent twice
        log.exception("could not send the stale alert of federation source %s", source.name)


class Gauges:
    """/metrics: each source's lag and stale flag (sitealert.operations.exposition collects it)."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        now = timezone.now()
        lag_family = GaugeMetricFamily(
            "sitealert_federation_lag_seconds",
            "Seconds since the last successful pull of a federation source (since it was added, before any).",
            labels=["source"])
        stale_family = GaugeMetricFamily(
            "sitealert_federation_stale",
            "1 when a federation source has not been pulled successfully for 3 times its interval (and at "
            "least SITEALERT_FEDERATION_STALE_AFTER), else 0.", labels=["source"])
        for source in Source.objects.filter(enabled=True):
            lag_family.add_metric([source.name], lag(source, now))
            stale_family.add_metric([source.name], 1 if is_stale(source, now) else 0)
        yield lag_family
        yield stale_family
