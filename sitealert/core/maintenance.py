"""Scheduled work the worker runs besides probes: one place that knows what is due and when.

Each task is claimed through the shared cache (the database cache table in production):
`cache.add` succeeds for one worker only until the interval has passed, so any number of workers
on any number of machines run each task once per interval, on SQLite and PostgreSQL alike.
"""

import logging

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("sitealert.maintenance")


# (name, interval in seconds, function of `now`), in the order they run; apps add theirs in ready().
TASKS = []


def register(name, interval):
    """Decorator: run `task(now)` at most once per `interval` seconds across every worker."""
    def add(task):
        if any(existing == name for existing, _interval, _task in TASKS):
            raise ValueError(f"maintenance task {name!r} is registered twice")
        TASKS.append((name, interval, task))
        return task
    return add


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
