"""sitealert.hosts ships in the SDK alone: importing and using it pulls in no Django and no network code."""

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("django", "ninja", "httpx", "httpcore", "dns", "socket", "_socket", "ssl", "requests", "urllib3")

PROGRAM = """
import json, sys
import sitealert.hosts as hosts
hosts.normalize_target("https://Bücher.example/path")
hosts.registrable_domain("www.example.co.uk")
hosts.covering_targets("a.example.com")
try:
    hosts.normalize_target("co.uk")
except hosts.InvalidTarget:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_and_using_hosts_loads_no_django_or_network_module():
    repo = Path(__file__).parents[2]
    run = subprocess.run([sys.executable, "-c", PROGRAM], cwd=repo, capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert "sitealert.hosts" in loaded
    offenders = [name for name in loaded if name.split(".")[0] in FORBIDDEN]
    assert offenders == []
