"""The worker's scheduled tasks: each runs once per interval whatever the number of workers."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from sitealert.core.maintenance import TASKS, run_due_tasks
from sitealert.feed.models import Change, FeedState
from sitealert.listings.services import remove_listings
from tests.conftest import actor

pytestmark = pytest.mark.django_db


def test_each_task_runs_once_per_interval(italy, list_targets):
    list_targets(italy, ["a.example"])
    assert run_due_tasks() == [name for name, _, _ in TASKS]
    assert run_due_tasks() == []  # a second worker, or the same one a moment later


def test_old_history_is_pruned_so_old_clients_resync(italy, list_targets, settings):
    list_targets(italy, ["a.example", "b.example"])
    remove_listings(italy, ["a.example"], "closed", actor=actor(italy))
    Change.objects.update(created_at=timezone.now() - timedelta(days=400))
    settings.SITEALERT = {**settings.SITEALERT, "TOMBSTONE_RETENTION_DAYS": 90}
    cache.clear()
    assert "feed.prune" in run_due_tasks()
    assert not Change.objects.exists()
    assert FeedState.objects.get().pruned_through == 3
