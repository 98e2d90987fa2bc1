"""`sitealert demo` end to end: a real process in a fresh directory, served on loopback, stopped cleanly."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from sitealert.demo.data import demo_logins

START_TIMEOUT = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env():
    """The environment of someone who just cloned the repository: no SITEALERT_* settings."""
    return {name: value for name, value in os.environ.items() if not name.startswith("SITEALERT_")}


class DemoProcess:
    def __init__(self, workdir, name):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = workdir / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sitealert", "demo", "--port", str(self.port)],
            cwd=workdir, env=clean_env(), stdout=self.log, stderr=subprocess.STDOUT,
        )

    @property
    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"sitealert demo exited early:\n{self.output}"
            try:
                httpx.get(self.url + "admin/login/", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"sitealert demo did not answer within {START_TIMEOUT}s:\n{self.output}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sitealert demo ignored SIGTERM:\n{self.output}") from None
        self.log.close()
        return self.proc.returncode


def serve_and_check(workdir, name):
    demo = DemoProcess(workdir, name)
    try:
        demo.wait_until_serving()
        with httpx.Client(base_url=demo.url, timeout=10) as client:
            assert client.get("/").status_code == 200
            login_page = client.get("/admin/login/")
            assert login_page.status_code == 200
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
            staff = next((u, p) for role, u, p in demo_logins() if "operator" in role)
            answer = client.post("/admin/login/?next=/admin/", data={
                "csrfmiddlewaretoken": csrf, "username": staff[0], "password": staff[1], "next": "/admin/"})
            assert answer.status_code == 302 and answer.headers["location"] == "/admin/", answer.text[:500]
    finally:
        status = demo.stop()
    assert status == 0, demo.output
    output = demo.output
    assert demo.url in output
    for _, username, password in demo_logins():
        assert f"{username} / {password}" in output
    return output


@pytest.mark.slow
def test_demo_serves_in_a_fresh_directory_and_reuses_its_data(tmp_path):
    first = serve_and_check(tmp_path, "first")
    assert "Loaded the fictional demo data" in first
    assert (tmp_path / "var" / "sitealert.sqlite3").is_file()

    second = serve_and_check(tmp_path, "second")
    assert "Reusing the demo data" in second
    assert "Loaded the fictional demo data" not in second
