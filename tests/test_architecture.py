"""The pure cores ship in the SDK alone: importing them, or reading the CLI's help, loads no Django.

Each check runs in a fresh interpreter, so modules that other tests imported cannot hide a leak.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("django", "ninja", "httpx", "httpcore", "dns")

IMPORT_CORES = """
import json, sys
import sitealert.hosts, sitealert.matcher, sitealert.client
print(json.dumps(sorted(sys.modules)))
"""

# Runs the console script's entry point; the help text goes to stderr so stdout stays JSON.
CLI_HELP = """
import contextlib, json, sys
from sitealert.cli import main
with contextlib.redirect_stdout(sys.stderr):
    try:
        status = main(sys.argv[1:])
    except SystemExit as exc:
        status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded_modules(program, *args):
    run = subprocess.run([sys.executable, "-c", program, *args], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), run.stderr


def forbidden(modules):
    return sorted(name for name in modules if name.split(".")[0] in FORBIDDEN)


def test_pure_cores_import_without_django_or_network_libraries():
    modules, _ = loaded_modules(IMPORT_CORES)
    assert {"sitealert.hosts", "sitealert.matcher", "sitealert.client"} <= set(modules)
    assert forbidden(modules) == []


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["sync", "--help"]], ids=" ".join)
def test_cli_help_does_not_import_django(argv):
    result, help_text = loaded_modules(CLI_HELP, *argv)
    assert result["status"] == 0, help_text
    assert "usage: sitealert" in help_text
    assert forbidden(result["modules"]) == []


def test_installed_sitealert_command_lists_every_command():
    command = Path(sys.executable).with_name("sitealert")
    run = subprocess.run([str(command), "--help"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in ("demo", "serve", "migrate", "org", "token", "import", "export", "sync", "check", "worker",
                 "backup", "restore"):
        assert f"    {name} " in run.stdout or f"    {name}\n" in run.stdout, name
