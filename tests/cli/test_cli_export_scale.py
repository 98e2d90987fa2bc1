"""`sitealert export` streams the list: its memory does not grow with the list, and what it writes is
byte for byte what /api/v1/feed sends.

A real installation of 200,000 synthetic domains (tests/cli/serve_harness.py: SQLite, the feed's
documents built), `sitealert export` in a process of its own that reports how far its peak memory
rose while exporting, and a real `sitealert serve` to compare with. Loading the list, as export did,
rose by the document's size (30.5 MB for the 31.8 MB JSON one here) or, for the client formats, by
every row of the list (105 MB for adblock); streamed, by about 2 MB for each format.
"""

import subprocess
import sys

import httpx
import pytest

from tests.cli import serve_harness as harness

pytestmark = pytest.mark.slow

ENTRIES = 200_000
GROWTH_MB = 6  # a block or two and the interpreter's own noise, whatever the list's size

MEASURED_EXPORT = r"""
import resource, sys
import django
django.setup()
from sitealert.cli import main, server_handlers  # noqa: F401 - loaded before the baseline
from sitealert.feed.builder import feed_state
feed_state()  # the database connection too
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
status = main(["export", "--format", sys.argv[1], "-o", sys.argv[2]])
print(status, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return harness.Installation(tmp_path_factory.mktemp("export"), ENTRIES)


def export(site, fmt, output):
    """(the exported bytes, how many MB the exporting process's peak memory rose)."""
    done = subprocess.run([sys.executable, "-c", MEASURED_EXPORT, fmt, str(output)],
                          env={**site.env, "DJANGO_SETTINGS_MODULE": "sitealert.settings"}, cwd=site.source,
                          check=True, capture_output=True, text=True, timeout=300)
    status, growth = done.stdout.split()[-2:]
    assert status == "0", done.stderr
    return output.read_bytes(), float(growth)


def test_export_streams_and_writes_what_the_feed_api_sends(site, tmp_path):
    for fmt in ("txt", "json", "csv"):  # csv is built by this first export: measured at the second
        export(site, fmt, tmp_path / f"warm.{fmt}")
    process, port = site.serve(1)
    try:
        for fmt in ("txt", "json", "csv"):
            body, growth = export(site, fmt, tmp_path / f"list.{fmt}")
            served = httpx.get(f"http://127.0.0.1:{port}/api/v1/feed", params={"format": fmt},
                               headers={"Authorization": f"Bearer {site.token}"}, timeout=60)
            assert served.status_code == 200
            assert body == served.content, fmt
            assert growth < GROWTH_MB, (fmt, growth, len(body))
    finally:
        harness.stop(process)

    body, growth = export(site, "adblock", tmp_path / "list.adblock")
    assert body.count(b"\n") == ENTRIES and body.startswith(b"||") and growth < GROWTH_MB, growth
