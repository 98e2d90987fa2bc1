"""Settings of the public pages, read from settings.SITEALERT with these defaults."""

from django.conf import settings

DEFAULTS = {
    "PUBLIC_CHECK_RATE": 30,  # checks per client and window
    "PUBLIC_CHECK_WINDOW": 60,  # seconds
    "REVIEW_REQUEST_IP_RATE": 10,  # review-request submissions per client address and window
    "REVIEW_REQUEST_EMAIL_RATE": 3,  # review requests per e-mail address and window
    "REVIEW_REQUEST_WINDOW": 86400,  # seconds
    "REVIEW_CONFIRM_HOURS": 48,  # the confirmation link expires after this
    "REVIEW_DUE_DAYS": 30,  # a contributor answers within this many days of confirmation
    "REVIEW_REMINDER_DAYS": 7,  # first reminder this long before the due date, then every this many days
    "STATISTICS_CACHE_SECONDS": 600,
}


def setting(name):
    return settings.SITEALERT.get(name, DEFAULTS[name])
