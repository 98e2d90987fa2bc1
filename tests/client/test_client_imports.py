"""The SDK ships alone: matching, screening and exports load neither Django nor a network library;
a sync loads httpx, and only then."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NETWORK_OR_DJANGO = ("django", "ninja", "httpx", "httpcore", "socket", "_socket", "ssl", "urllib3", "requests")

PROGRAM = """
import json, sys
from sitealert.client import Replica, screen_bid_request
from sitealert.client.exports import export_lines, split_for_platform
replica = Replica(sys.argv[1])
replica.check_many(["https://www.example.com/", "android:com.example.app", "EXAMPLE.COM"])
screen_bid_request(replica, {"site": {"page": "https://a.example.com/"}, "app": {"bundle": "123"}})
export_lines(["example.com", "ios:1"], "csv-placement")
split_for_platform(["example.com"], "google-ads")
print(json.dumps(sorted(sys.modules)))
"""


def test_matching_and_screening_load_no_network_or_django_module(tmp_path):
    run = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, check=True)
    loaded = json.loads(run.stdout)
    assert [m for m in loaded if m.split(".")[0] in NETWORK_OR_DJANGO] == []
