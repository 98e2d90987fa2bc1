"""Work after the answer (core.after_response), and the planner statistics a large write leaves for it."""

import logging

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.http import HttpResponse
from django.urls import path

from sitealert.core import after_response as after_response_module
from sitealert.core import bulk
from sitealert.core.after_response import after_response
from sitealert.listings.models import Listing
from sitealert.listings.services import EntryInput, submit_entries
from tests.conftest import actor

events = []


def _view(request):
    after_response(lambda: events.append("after the answer"))
    events.append("view")
    return HttpResponse("answered")


urlpatterns = [path("after/", _view)]


def _send(signal):
    """The signal as the WSGI server's handler sends it, less Django's own connection upkeep (as
    the test client does), which needs a database."""
    signal.disconnect(close_old_connections)
    try:
        signal.send(sender=None)
    finally:
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_events():
    """No events, and outside a request: a test client request whose streamed answer an earlier test
    left unread never finished, as far as this thread knows."""
    events.clear()
    after_response_module._request.pending = None
    yield
    events.clear()


def test_outside_a_request_a_task_runs_at_once():
    after_response(lambda: events.append("task"))
    assert events == ["task"]


def test_in_a_request_a_task_waits_until_the_answer_has_gone_out():
    _send(request_started)
    after_response(lambda: events.append("first"))
    after_response(lambda: events.append("second"))
    assert events == []
    _send(request_finished)
    assert events == ["first", "second"]
    after_response(lambda: events.append("outside again"))
    assert events == ["first", "second", "outside again"]


def test_a_request_runs_its_tasks_after_the_view_has_answered(client, settings):
    settings.ROOT_URLCONF = __name__
    response = client.get("/after/")
    assert response.content == b"answered"
    assert events == ["view", "after the answer"]


def test_a_failing_task_is_logged_and_the_next_ones_still_run(caplog):
    _send(request_started)
    after_response(lambda: 1 / 0)
    after_response(lambda: events.append("next"))
    with caplog.at_level(logging.ERROR, logger="sitealert.core.after_response"):
        _send(request_finished)
    assert events == ["next"]
    assert "a task after the response failed" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_tasks_of_a_request_whose_answer_was_never_closed_run_before_the_next_request():
    _send(request_started)
    after_response(lambda: events.append("left"))
    _send(request_started)  # the server never closed the first answer
    assert events == ["left"]
    _send(request_finished)
    assert events == ["left"]


def _statistics(model):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = CAST(%s AS regclass)", [model._meta.db_table])
        return cursor.fetchone()[0]


def _rows(n, prefix="t"):
    return [EntryInput(target=f"{prefix}{i}.example", category="other") for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_a_large_write_is_analyzed_after_it_commits(italy, monkeypatch):
    analyzed = []
    analyze = bulk._analyze_grown
    monkeypatch.setattr(bulk, "_analyze_grown", lambda tables, rows: (analyzed.append(rows), analyze(tables, rows)))
    report = submit_entries(italy, _rows(10_000), actor=actor(italy))
    assert report.applied, report.summary
    if connection.vendor != "postgresql":
        assert analyzed == []  # SQLite keeps no statistics of its own to refresh
        return
    assert analyzed == [10_000, 10_000]  # the listings; then the change log and the entries
    assert _statistics(Listing) == 10_000


@pytest.mark.django_db(transaction=True)
def test_a_write_that_rolls_back_analyzes_nothing_and_a_small_one_is_left_to_autovacuum(italy, monkeypatch):
    analyzed = []
    monkeypatch.setattr(bulk, "_analyze_grown", lambda tables, rows: analyzed.append(rows))
    with pytest.raises(RuntimeError), transaction.atomic():
        assert submit_entries(italy, _rows(10_000), actor=actor(italy)).applied
        raise RuntimeError("the caller's transaction fails after the import")
    assert not Listing.objects.exists()
    assert submit_entries(italy, _rows(9_999), actor=actor(italy)).applied
    assert analyzed == []
