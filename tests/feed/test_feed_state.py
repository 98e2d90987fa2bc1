"""The list's state kept by a web process (feed.state.current_state): read once per STATE_CACHE_SECONDS
at most, at once again after a publication in this process or a stamp replaced by another one."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sitealert.feed import state
from sitealert.feed.models import FeedState

pytestmark = pytest.mark.django_db


def _statements(call):
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return result, len(queries.captured_queries)


@pytest.fixture
def kept(settings):
    settings.SITEALERT = {**settings.SITEALERT, "STATE_CACHE_SECONDS": 3600}
    return state.current_state()


def test_the_state_is_read_once_then_kept(kept):
    assert _statements(state.current_state) == (kept, 0)


def test_a_publication_in_this_process_is_seen_at_once(kept, italy, list_targets):
    list_targets(italy, ["films.example"])
    now, statements = _statements(state.current_state)
    assert statements == 1 and now.version == kept.version + 1


def test_a_change_written_elsewhere_is_seen_when_the_stamp_changes(kept):
    FeedState.objects.filter(pk=1).update(version=kept.version + 5)  # another process, before its commit
    assert state.current_state() == kept
    state._tell_the_host()  # that process's commit
    assert state.current_state().version == kept.version + 5


def test_without_a_stamp_a_change_is_seen_within_the_cache_time(settings, kept):
    settings.SITEALERT = {**settings.SITEALERT, "STATE_CACHE_SECONDS": 0.2}  # another host: no shared stamp
    FeedState.objects.filter(pk=1).update(version=kept.version + 1)
    assert state.current_state() == kept
    time.sleep(0.25)
    assert state.current_state().version == kept.version + 1


def test_zero_reads_the_state_at_every_call(settings, kept):
    settings.SITEALERT = {**settings.SITEALERT, "STATE_CACHE_SECONDS": 0}
    assert _statements(state.current_state) == (kept, 1)
    assert _statements(state.current_state) == (kept, 1)


def test_a_stamp_that_cannot_be_written_leaves_the_cache_time(settings, kept, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": blocked, "STATE_CACHE_SECONDS": 0.2}
    state._tell_the_host()  # refused by the file system: nothing raised
    FeedState.objects.filter(pk=1).update(version=kept.version + 1)
    time.sleep(0.25)
    assert state.current_state().version == kept.version + 1


def test_answers_kept_per_version_start_afresh_with_a_new_version_or_after_their_time():
    answers = state.PerVersion(max_items=2, max_seconds=3600)
    first = state.State("e", 1)
    items = answers.items(first)
    answers.keep(items, "a", 1)
    assert answers.items(first) == {"a": 1}
    assert answers.items(state.State("e", 2)) == {}
    items = answers.items(first)
    answers.keep(items, "a", 1)
    answers.keep(items, "b", 2)
    answers.keep(items, "c", 3)  # over the limit: starts afresh
    assert answers.items(first) == {"c": 3}
    answers.max_seconds = 0
    assert answers.items(first) == {}
