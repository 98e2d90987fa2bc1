"""`sitealert serve` answers reads without writing, and writes what they counted within seconds and at exit.

A real server in a subprocess with two worker processes on a SQLite file, which the test reads
beside it: rate limits hold across the processes within their stated bound, counted downloads and
checks arrive at the flush (and at a graceful stop), and a token revoked by another process (the
CLI) is refused within the token cache's time.
"""

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

from tests import migrated
from tests.cli.serving import serving

pytestmark = pytest.mark.slow

API_RATE = 10


class Installation:
    def __init__(self, data, **variables):
        self.data = data
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SITEALERT_")}
        self.env.update(SITEALERT_DATA_DIR=str(data), SITEALERT_SECRET_KEY="test-serve-reads",
                        SITEALERT_ACCESS_LOG=os.devnull, **{f"SITEALERT_{k}": str(v) for k, v in variables.items()})

    def sitealert(self, *args):
        return subprocess.run([sys.executable, "-m", "sitealert", *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=120).stdout.strip()

    def rows(self, sql):
        with sqlite3.connect(self.data / "sitealert.sqlite3") as db:
            return db.execute(sql).fetchall()

    @contextmanager
    def serving(self):
        with serving(self.env) as port:  # stopped gracefully: the workers flush as they exit
            yield f"http://127.0.0.1:{port}"


def installation(tmp_path, **variables):
    site = Installation(tmp_path, **{"API_RATE": API_RATE, **variables})
    migrated.sqlite(tmp_path)
    slug = site.sitealert("org", "create", "--kind", "user", "--name", "Ad Platform")
    site.token = site.sitealert("token", "create", "--org", slug).split()[-1]
    return site


def get(url, token=None, **params):
    # A new connection each time (gunicorn closes them anyway), so the workers share the requests.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(url, params=params, headers=headers, timeout=30)


def until(condition, seconds=60):  # generous: on a loaded machine a flush comes late, not wrong
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_limits_hold_across_workers_and_counts_arrive_while_serving(tmp_path):
    # Hour-long windows: requests that straddle a window's start still sum up to count + previous,
    # and still weigh whole on the limit.
    site = installation(tmp_path, TALLY_FLUSH_SECONDS=0.5, TOKEN_CACHE_SECONDS=1, API_WINDOW=3600,
                        PUBLIC_CHECK_WINDOW=3600)
    with site.serving() as url:
        statuses = [get(f"{url}/api/v1/feed/changes", site.token, since=0).status_code for _ in range(4 * API_RATE)]
        allowed = statuses.count(200)
        # The stated bound: each of the 2 processes holds the limit on what it knows.
        assert API_RATE <= allowed <= 2 * API_RATE and set(statuses) == {200, 429}
        assert until(lambda: site.rows("SELECT sum(count + previous) FROM core_ratelimitcount "
                                       "WHERE key LIKE 'api-token:%'") == [(4 * API_RATE,)])
        # Every count is written; a flush interval on, each process reads the shared count again at
        # its next request, however few of the client's requests it took.
        time.sleep(1)
        assert all(get(f"{url}/api/v1/feed/changes", site.token, since=0).status_code == 429 for _ in range(4))

        for _ in range(3):
            assert get(f"{url}/api/v1/check", q="films.example").status_code == 200
        assert until(lambda: site.rows("SELECT sum(count + previous) FROM core_ratelimitcount "
                                       "WHERE key LIKE 'public-check:%'") == [(3,)])
        assert until(lambda: site.rows("SELECT last_used_at IS NOT NULL FROM organizations_apitoken") == [(1,)])


def test_a_token_revoked_elsewhere_is_refused_within_the_cache_time(tmp_path):
    site = installation(tmp_path, TALLY_FLUSH_SECONDS=0.5, TOKEN_CACHE_SECONDS=1)
    with site.serving() as url:
        assert get(f"{url}/api/v1/token", site.token).status_code == 200
        site.sitealert("token", "revoke", site.token[:10])
        revoked_at = time.monotonic()
        assert until(lambda: get(f"{url}/api/v1/token", site.token).status_code == 401, seconds=10)
        assert time.monotonic() - revoked_at < 4  # the cache time (1 s), and room for a busy machine


def test_downloads_counted_since_the_last_flush_are_written_at_a_graceful_stop(tmp_path):
    site = installation(tmp_path, TALLY_FLUSH_SECONDS=3600)
    with site.serving() as url:
        for _ in range(5):
            assert get(f"{url}/api/v1/feed", site.token, format="txt").status_code == 200
        time.sleep(0.5)
        assert site.rows("SELECT count(*) FROM core_auditevent WHERE action = 'feed.download'") == [(0,)]
    counts = site.rows("SELECT json_extract(detail, '$.count') FROM core_auditevent WHERE action = 'feed.download'")
    assert sum(count for (count,) in counts) == 5 and 1 <= len(counts) <= 2  # one event per worker at most


def test_a_version_published_by_another_process_is_seen_at_once_by_every_worker(tmp_path):
    """The workers keep the list's state (here for an hour); an import by the CLI, another process,
    replaces the stamp they compare, and the next request of each worker sees the new version."""
    site = installation(tmp_path, STATE_CACHE_SECONDS=3600, API_RATE=1000)
    contributor = site.sitealert("org", "create", "--kind", "contributor", "--name", "Authority", "--country", "IT")
    upload = tmp_path / "list.csv"
    upload.write_text("target,category,reference,note\nfilms.example,streaming-video,,\n")
    with site.serving() as url:
        feed = f"{url}/api/v1/feed"
        etag = get(feed, site.token).headers["ETag"]
        unchanged = {"Authorization": f"Bearer {site.token}", "If-None-Match": etag}
        assert all(httpx.get(feed, headers=unchanged, timeout=30).status_code == 304 for _ in range(6))
        assert get(f"{url}/api/v1/check", q="films.example").json()["listed"] is False
        site.sitealert("import", "--org", contributor, str(upload))
        for _ in range(6):  # new connections: both workers answer some
            response = httpx.get(feed, headers=unchanged, timeout=30)
            assert response.status_code == 200 and response.headers["ETag"] != etag
            assert get(f"{url}/api/v1/check", q="films.example").json()["listed"] is True
