"""`sitealert serve` in a subprocess on loopback, for the tests that need the real server."""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(env, workers=2):
    """Yield the port of `sitealert serve` with `env`, once it accepts connections; stop it gracefully
    (SIGTERM: gunicorn lets its workers finish and exit) when done."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sitealert", "serve", "--bind", f"127.0.0.1:{port}",
                                "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("sitealert serve did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
