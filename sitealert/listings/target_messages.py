"""Translated reasons for refused targets, keyed by `InvalidTarget.code`."""

from django.utils.translation import gettext_lazy as _

# Filled from sitealert.hosts.MESSAGES; the English text there is the source of truth for meaning.
REASONS = {}


def translated_reason(exc):
    template = REASONS.get(getattr(exc, "code", None))
    if template is None:
        return str(exc)
    try:
        return str(template) % getattr(exc, "params", {})
    except (KeyError, TypeError, ValueError):
        return str(exc)
