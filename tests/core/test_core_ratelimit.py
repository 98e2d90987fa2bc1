"""Rate limits: one atomic count per request in the database, per client and scope, over a sliding window."""

import threading

import pytest
from django.db import connection, transaction

from sitealert.core import ratelimit
from sitealert.core.models import RateLimitCount


@pytest.mark.django_db
def test_the_request_over_the_limit_is_told_how_long_to_wait(monkeypatch):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_030.0)  # 10 s into a 60 s window
    assert [ratelimit.hit("s", "1.2.3.4", 3, 60) for _ in range(4)] == [0, 0, 0, 80]
    assert ratelimit.hit("s", "5.6.7.8", 3, 60) == 0  # another client
    assert ratelimit.hit("other", "1.2.3.4", 3, 60) == 0  # another limit
    # 4 requests in the window before weigh 4 * (1 - 30/60) = 2: there is room for one more.
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_110.0)
    assert ratelimit.hit("s", "1.2.3.4", 3, 60) == 0
    assert ratelimit.hit("s", "1.2.3.4", 3, 60) > 0


@pytest.mark.django_db
def test_a_client_gets_no_second_limit_across_a_window_boundary(monkeypatch):
    """A fixed window let a client spend its limit at the end of one window and again at the
    start of the next: twice the limit within two seconds."""
    clock = [1_000_079.0]  # the last second of a 60 s window
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    assert all(ratelimit.hit("s", "k", 10, 60) == 0 for _ in range(10))
    clock[0] = 1_000_081.0  # one second into the next window
    wait = ratelimit.hit("s", "k", 10, 60)
    assert wait > 0
    # Told to wait until enough of the previous window has slid out: then it is let in.
    clock[0] += wait
    assert ratelimit.hit("s", "k", 10, 60) == 0
    # Over a whole window's length, never more than the limit (plus the one let in above).
    allowed = 0
    for second in range(60):
        clock[0] = 1_000_081.0 + wait + second
        allowed += ratelimit.hit("s", "k", 10, 60) == 0
    assert allowed <= 10


@pytest.mark.django_db
def test_a_steady_client_under_the_limit_is_never_refused(monkeypatch):
    clock = [5_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    for step in range(600):  # one request every 7 s under a limit of 10 a minute: 8.6 a minute
        clock[0] = 5_000_000.0 + 7 * step
        assert ratelimit.hit("s", "steady", 10, 60) == 0


@pytest.mark.django_db
def test_a_request_costs_one_statement(django_assert_num_queries):
    ratelimit.hit("s", "k", 5, 60)
    with django_assert_num_queries(1):
        ratelimit.hit("s", "k", 5, 60)


@pytest.mark.django_db
def test_refund_gives_back_one_request_and_never_goes_below_zero(monkeypatch):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 2_000_000.0)
    ratelimit.hit("login", "alice", 2, 60)
    ratelimit.hit("login", "alice", 2, 60)
    ratelimit.refund("login", "alice", 60)
    assert ratelimit.hit("login", "alice", 2, 60) == 0
    assert ratelimit.hit("login", "alice", 2, 60) > 0
    for _ in range(5):
        ratelimit.refund("login", "nobody", 60)
        ratelimit.refund("login", "alice", 60)
    assert set(RateLimitCount.objects.values_list("count", flat=True)) == {0}


@pytest.mark.django_db
def test_windows_that_are_over_are_purged(monkeypatch):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 3_000_000.0)
    ratelimit.hit("s", "old", 5, 60)
    monkeypatch.setattr(ratelimit.time, "time", lambda: 3_000_160.0)  # two windows on: the count no longer weighs
    ratelimit.hit("s", "new", 5, 60)
    assert ratelimit.purge_expired() == 1
    assert [k.split(":")[1] for k in RateLimitCount.objects.values_list("key", flat=True)] == ["new"]


@pytest.mark.django_db
def test_a_very_long_key_is_cut_to_fit():
    ratelimit.hit("review-email", "x" * 1000 + "@example.test", 5, 60)
    assert len(RateLimitCount.objects.get().key) == 320


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_client_are_all_counted():
    """Two read-then-write steps could both see the same count; the upsert cannot. On PostgreSQL
    four threads with their own connections race; the tests' in-memory SQLite refuses concurrent
    writers outright (a file database makes them wait), so there the hits only interleave."""
    errors = []

    def client():
        from django.db import connections

        try:
            for _ in range(25):
                ratelimit.hit("burst", "1.2.3.4", 1_000, 3600)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    if connection.vendor == "postgresql":
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for _ in range(4):
            for _ in range(25):
                ratelimit.hit("burst", "1.2.3.4", 1_000, 3600)
    assert not errors
    assert RateLimitCount.objects.get().count == 100


# --- Limits of reads: counted in the process, flushed as sums (ratelimit.tally) ------------------

@pytest.mark.django_db
def test_a_read_limit_holds_in_one_process_without_writing(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_030.0)
    process = ratelimit.InProcessCounts()
    assert process.hit("s", "1.2.3.4", 3, 60) == 0  # the first request of a key reads its row once
    with django_assert_max_num_queries(0):
        assert [process.hit("s", "1.2.3.4", 3, 60) for _ in range(3)] == [0, 0, 80]
    assert not RateLimitCount.objects.exists()
    process.flush()
    assert RateLimitCount.objects.get().count == 4  # refused requests count too, as with hit()
    assert process.hit("s", "1.2.3.4", 3, 60) > 0  # after the flush, from the shared row
    process.flush()
    assert RateLimitCount.objects.get().count == 5


@pytest.mark.django_db
def test_processes_exceed_a_read_limit_only_until_their_counts_are_flushed(monkeypatch):
    """The stated bound: each process holds the limit on what it knows; before a flush a client
    gets at most the limit from each process, after it the shared count refuses it everywhere."""
    clock = [1_000_010.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    one, two = ratelimit.InProcessCounts(), ratelimit.InProcessCounts()
    allowed = sum(p.hit("s", "k", 10, 60) == 0 for p in (one, two) for _ in range(15))
    assert allowed == 20  # 10 per process: the bound, 2 processes x the limit
    one.flush()
    two.flush()
    assert RateLimitCount.objects.get().count == 30
    clock[0] += 1
    assert one.hit("s", "k", 10, 60) > 0 and two.hit("s", "k", 10, 60) > 0
    assert ratelimit.InProcessCounts().hit("s", "k", 10, 60) > 0  # a new process reads the shared row first


@pytest.mark.django_db
def test_a_process_the_client_left_learns_the_others_counts_within_a_flush_interval(monkeypatch,
                                                                                   django_assert_num_queries):
    """A process that took a few early requests and then none knew only what its last flush
    returned: after the client spent its limit in another process, it allowed the client again."""
    clock = [1_000_010.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    left, busy = ratelimit.InProcessCounts(), ratelimit.InProcessCounts()
    assert all(left.hit("s", "k", 10, 60) == 0 for _ in range(3))
    left.flush()
    assert sum(busy.hit("s", "k", 10, 60) == 0 for _ in range(30)) == 7
    busy.flush()
    clock[0] += 0.5
    with django_assert_num_queries(0):  # within a flush interval, what it knows is enough
        assert left.hit("s", "k", 10, 60) == 0
    clock[0] += 2  # SITEALERT_TALLY_FLUSH_SECONDS
    with django_assert_num_queries(1):
        assert left.hit("s", "k", 10, 60) > 0
    with django_assert_num_queries(0):
        assert left.hit("s", "k", 10, 60) > 0


@pytest.mark.django_db
def test_a_read_limit_slides_across_windows_as_the_shared_one_does(monkeypatch):
    clock = [1_000_079.0]  # the last second of a 60 s window
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    process = ratelimit.InProcessCounts()
    assert all(process.hit("s", "k", 10, 60) == 0 for _ in range(10))
    process.flush()
    clock[0] = 1_000_081.0
    wait = process.hit("s", "k", 10, 60)
    assert wait > 0
    process.flush()
    clock[0] += wait
    assert process.hit("s", "k", 10, 60) == 0


@pytest.mark.django_db
def test_flushed_sums_merge_in_the_database_as_in_the_process(monkeypatch):
    """The upsert and ratelimit.merge agree on any order of windows, late flushes included."""
    import random

    rng = random.Random(14)
    for trial in range(40):
        key = f"merge-{trial}"
        expected = None
        for _ in range(rng.randint(1, 6)):
            tally = (1_000 + rng.randint(0, 4), rng.randint(0, 9), rng.randint(0, 9))
            with connection.cursor() as cursor:
                cursor.execute(ratelimit._upsert_sql(ratelimit._table(), 1),
                               [ratelimit._key("m", key), *tally, (tally[0] + 2) * 60])
                returned = cursor.fetchone()[1:]
            expected = tally if expected is None else ratelimit.merge(expected, tally)
            assert tuple(returned) == expected


@pytest.mark.django_db
def test_counts_that_could_not_be_written_wait_for_the_next_flush(monkeypatch):
    process = ratelimit.InProcessCounts()
    process.hit("s", "k", 10, 60)
    process.hit("s", "k", 10, 60)

    def broken(table, rows):
        return "INSERT INTO no_such_table VALUES (1)"

    monkeypatch.setattr(ratelimit, "_upsert_sql", broken)
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - whatever the database says
        process.flush()
    monkeypatch.undo()
    process.hit("s", "k", 10, 60)
    process.flush()
    assert RateLimitCount.objects.get().count == 3
