"""`sitealert serve` in a subprocess on loopback, for the tests that need the real server."""

import subprocess
import sys
from contextlib import contextmanager

from tests.cli.serve_harness import free_port, stop, wait_for_port


@contextmanager
def serving(env, workers=2):
    """Yield the port of `sitealert serve` with `env`, once it accepts connections; stop it gracefully
    (SIGTERM: gunicorn lets its workers finish and exit) when done."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sitealert", "serve", "--bind", f"127.0.0.1:{port}",
                                "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)
