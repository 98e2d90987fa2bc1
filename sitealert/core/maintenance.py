"""Scheduled work the worker runs besides probes: one place that knows what is due and when.

Each task is claimed through the shared cache (the database cache table in production):
`cache.add` succeeds for one worker only until the interval has passed, so any number of workers
on any number of machines run each task once per interval, on SQLite and PostgreSQL alike.
"""

import logging

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("sitealert.maintenance")


def _warm_feed(now):
    from sitealert.feed.builder import warm

    warm()


def _prune_history(now):
    from sitealert.feed.changelog import prune_expired_history

    return prune_expired_history(now)


def _remind_reviews(now):
    from sitealert.public.reviews import send_due_reminders

    return send_due_reminders(now)


def _purge_review_requests(now):
    from sitealert.public.reviews import purge_unconfirmed_requests

    return purge_unconfirmed_requests(now)


def _purge_rate_limits(now):
    from sitealert.core.ratelimit import purge_expired

    return purge_expired(now.timestamp())


# (name, interval in seconds, function): the feed is rebuilt ahead of clients at most every minute.
TASKS = [
    ("feed.warm", 60, _warm_feed),
    ("feed.prune", 86400, _prune_history),
    ("reviews.remind", 3600, _remind_reviews),
    ("reviews.purge", 86400, _purge_review_requests),
    ("ratelimit.purge", 3600, _purge_rate_limits),
]


def run_due_tasks(now=None):
    """Run every task whose interval has passed since any worker last ran it; returns their names."""
    now = now or timezone.now()
    ran = []
    for name, interval, task in TASKS:
        if not cache.add(f"maintenance:{name}", now.isoformat(), timeout=interval):
            continue
        try:
            task(now)
        except Exception:  # one failing task must not stop the others or the probes
            logger.exception("maintenance task %s failed", name)
            cache.delete(f"maintenance:{name}")
            continue
        ran.append(name)
    return ran
