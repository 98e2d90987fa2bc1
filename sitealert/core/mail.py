"""Plain-text e-mail to people, in their language, through Django's mail backend (the outbox)."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

log = logging.getLogger(__name__)


def send_in_language(subject, template, context, recipients, language):
    """Send one plain-text e-mail in `language`; a mail server failure is logged, not raised.

    `subject` is a callable, so that it is translated in `language` too."""
    if not recipients:
        return False
    with translation.override(language):
        body = render_to_string(template, {**context, "SITE_NAME": settings.SITE_NAME})
        subject = f"[{settings.SITE_NAME}] {subject()}"
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # noqa: BLE001 — any backend failure; the caller's state stays consistent
        log.exception("could not send %s to %d recipient(s)", template, len(recipients))
        return False
    return True


def member_emails(organization):
    """The addresses of an organization's active members, sorted."""
    User = get_user_model()
    return sorted(set(User.objects.filter(membership__organization=organization, is_active=True)
                      .exclude(email="").values_list("email", flat=True)))
