"""The worker: targets follow the list, claims keep workers apart, SIGTERM stops it cleanly."""

import os
import re
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sitealert.listings.changelog import prune_history
from sitealert.listings.services import remove_listings
from sitealert.monitoring.conf import load
from sitealert.monitoring.models import ProbeTarget
from sitealert.monitoring.probe import Politeness, ProbeResult
from sitealert.monitoring.recording import record_results
from sitealert.monitoring.schedule import claim_due, next_probe_time, sync_targets
from tests.monitoring import harness as sites
from tests.monitoring.harness import ScratchDatabase


def _active():
    return set(ProbeTarget.objects.filter(active=True).values_list("target", flat=True))


def test_probe_targets_follow_the_domains_of_the_aggregated_list(italy, korea, list_targets, as_actor,
                                                                  django_assert_max_num_queries):
    list_targets(italy, ["one.test", "two.test", "android:com.example.app"])
    list_targets(korea, ["two.test", "three.test"])
    assert sync_targets() == 3
    assert _active() == {"one.test", "two.test", "three.test"}
    with django_assert_max_num_queries(2):
        assert sync_targets() == 0, "nothing to do while the list's version is unchanged"

    remove_listings(italy, ["one.test", "two.test"], "court order lifted", actor=as_actor(italy))
    sync_targets()
    assert _active() == {"two.test", "three.test"}, "two.test is still listed by korea"
    assert ProbeTarget.objects.get(target="one.test").retired_at is not None

    list_targets(italy, ["one.test"])
    prune_history(timezone.now() + timedelta(seconds=1))  # history gone: a full comparison instead
    remove_listings(korea, ["three.test"], "expired", actor=as_actor(korea))
    sync_targets()
    assert _active() == {"one.test", "two.test"}
    assert ProbeTarget.objects.get(target="one.test").retired_at is None


def test_a_claimed_target_cannot_be_claimed_again_until_its_lease_expires(italy, list_targets):
    list_targets(italy, [f"site{i}.test" for i in range(10)])
    sync_targets()
    now = timezone.now()
    first = claim_due("worker-a", 6, 60, now)
    second = claim_due("worker-b", 10, 600, now)
    assert len(first) == 6 and len(second) == 4
    assert not {c["target"] for c in first} & {c["target"] for c in second}
    assert claim_due("worker-c", 10, 60, now) == []
    # worker-a died: after its lease another worker takes its targets over...
    later = now + timedelta(seconds=61)
    taken = claim_due("worker-c", 10, 60, later)
    assert {c["target"] for c in taken} == {c["target"] for c in first}
    # ...and worker-a's late results are dropped rather than overwriting worker-c's.
    late = [(claim, ProbeResult(target=claim["target"], online=True)) for claim in first]
    assert record_results("worker-a", late, load(), later) == 0
    assert set(ProbeTarget.objects.filter(status="online").values_list("target", flat=True)) == set()


def test_schedule_has_jitter_and_backs_off_while_offline(settings):
    settings.SITEALERT = {**settings.SITEALERT, "MONITOR_INTERVAL": 3600.0, "MONITOR_RETRY": 60.0,
                          "MONITOR_BACKOFF_MAX": 600.0, "MONITOR_JITTER": 0.1}
    config = load()
    now = timezone.now()
    online = [(next_probe_time(now, True, 0, config) - now).total_seconds() for _ in range(50)]
    assert all(3240 <= s <= 3960 for s in online) and len(set(online)) > 1
    offline = [(next_probe_time(now, False, n, config) - now).total_seconds() for n in (1, 2, 3, 4, 5, 9)]
    expected = [60, 120, 240, 480, 600, 600]
    assert all(e * 0.9 <= s <= e * 1.1 for s, e in zip(offline, expected))


def test_politeness_spaces_requests_to_one_registrable_domain(italy, list_targets, run_worker, harness):
    list_targets(italy, ["a.polite.test", "b.polite.test", "other.test"])
    stats = run_worker(POLITENESS_DELAY=0.5)
    assert (stats["probes"], stats["deferred"]) == (2, 1), "the second name of polite.test waits its turn"
    time.sleep(1.6)
    run_worker(POLITENESS_DELAY=0.5)
    hits = [r.at for r in harness.http.requests if r.host.endswith("polite.test")]
    assert len(hits) == 2 and hits[1] - hits[0] >= 0.5
    assert not ProbeTarget.objects.filter(status="unknown").exists()


def test_politeness_reserves_successive_slots():
    gate = Politeness(10)
    assert gate.try_acquire("example.test") == 0
    assert 9 < gate.try_acquire("example.test") <= 10, "busy: nothing reserved"
    assert 9 < gate.reserve("example.test") <= 10
    assert 19 < gate.reserve("example.test") <= 20
    assert gate.try_acquire("other.test") == 0


# --- worker processes: `sitealert worker` as operators run it -------------------------------------

SUMMARY = re.compile(r"(\d+) probes \((\d+) online, (\d+) offline, (\d+) deferred\).*?(\d+) claims released")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A database of its own for worker processes, with one contributor."""
    with ScratchDatabase(tmp_path_factory.mktemp("workers"), os.environ.get("SITEALERT_DATABASE_URL")) as db:
        db.slug = db.run("org", "create", "--kind", "contributor", "--name", "Worker Test Authority",
                         "--country", "FR").strip()
        yield db


def _import(scratch, targets):
    csv = "target,category,reference,note\n" + "".join(f"{t},cyberlocker,REF-1,\n" for t in targets)
    scratch.run("import", "-", "--org", scratch.slug, input=csv)


@pytest.mark.slow
def test_two_worker_processes_share_the_work_without_probing_a_target_twice(scratch, harness):
    targets = [f"shared{i:03d}.test" for i in range(240)]
    _import(scratch, targets)
    harness.http.default = sites.slow(0.02)
    env = harness.env(CONCURRENCY=8)
    workers = [scratch.start("worker", "--once", env=env) for _ in range(2)]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    probes = [int(SUMMARY.search(out).group(1)) for out, _ in outputs]
    assert sum(probes) == 240 and min(probes) > 0, f"both workers took part: {probes}"
    hosts = [r.host for r in harness.http.requests]
    assert sorted(hosts) == targets, "each target was probed exactly once"
    assert scratch.query("SELECT status, claimed_by, COUNT(*) FROM monitoring_probetarget "
                         "WHERE target LIKE 'shared%' GROUP BY status, claimed_by") == [("online", "", 240)]


@pytest.mark.slow
def test_sigterm_finishes_running_probes_releases_claims_and_exits_0(scratch, harness):
    targets = [f"term{i:02d}.test" for i in range(40)]
    _import(scratch, targets)
    harness.http.default = sites.slow(1.0)
    worker = scratch.start("worker", env=harness.env(CONCURRENCY=4, TOTAL_TIMEOUT=5))
    deadline = time.monotonic() + 20
    while not harness.http.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.http.requests, "the worker started probing"
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=15)
    assert worker.returncode == 0, err
    summary = SUMMARY.search(out)
    assert summary, out
    probed, released = int(summary.group(1)), int(summary.group(5))
    assert probed == len(harness.http.requests) and probed >= 1, "the running probes finished and were written"
    assert released > 0, "claimed but unstarted targets were given back"
    rows = dict(scratch.query("SELECT status, COUNT(*) FROM monitoring_probetarget "
                              "WHERE target LIKE 'term%' GROUP BY status"))
    assert rows == {"online": probed, "unknown": 40 - probed}
    assert scratch.query("SELECT COUNT(*) FROM monitoring_probetarget WHERE claimed_by <> ''") == [(0,)]


def test_the_worker_also_runs_the_scheduled_maintenance(db, monitor_settings):
    from django.core.cache import cache

    from sitealert.monitoring.worker import Worker

    Worker(load(), maintenance=True).run(once=True)
    assert cache.get("maintenance:feed.warm") is not None
