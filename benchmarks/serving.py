"""Servers and processes for benchmarks/bench_scale.py and bench_http.py: start, wait, measure, stop.

A `Served` process writes its output to files (a full pipe would stall a server), is stopped with
SIGTERM (then SIGKILL) and reaped with os.wait4, whose resource usage covers the processes it
reaped in turn: a gunicorn master's `peak_rss_mb` is the largest of itself and its workers.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kib_field(pid, name, filename="status"):
    """A `Name:  N kB` field of /proc/PID/status (or smaps_rollup), in MB; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/{filename}") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def children(pid):
    """The direct children of a process (a gunicorn master's workers)."""
    pids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def wait_with_rusage(process, timeout):
    """Wait for a Popen like Popen.wait, also returning the rusage (peak RSS, CPU) os.wait4 reports."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return rusage
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(process.args, timeout)
        time.sleep(0.02)


def http(url, token=None, method="GET", body=None, headers=None, timeout=600):
    """One request; (status, headers, body length, seconds). The body is read and dropped."""
    request = urllib.request.Request(url, method=method, data=body, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None and not request.has_header("Content-type"):
        request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        size = 0
        while chunk := response.read(1 << 20):
            size += len(chunk)
        return response.status, response.headers, size, time.perf_counter() - started


class Served:
    """`command` run in the background until stop(); `url` once its port answers (for servers)."""

    def __init__(self, command, env, log_dir, name, port=None, start_timeout=120, preexec_fn=None):
        self.command, self.env, self.port, self.name = command, env, port, name
        self.start_timeout = start_timeout
        self.preexec_fn = preexec_fn
        self.out_path = Path(log_dir) / f"{name}.out"
        self.err_path = Path(log_dir) / f"{name}.err"
        self.process = None
        self.rusage = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, preexec_fn=self.preexec_fn)
        if self.port:
            deadline = time.monotonic() + self.start_timeout
            while True:
                try:
                    with urllib.request.urlopen(self.url + "/healthz", timeout=5):
                        break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"{self.name} did not start: {self.errors()}") from None
                    time.sleep(0.2)
        return self

    def errors(self):
        try:
            return self.err_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def workers(self):
        return children(self.process.pid)

    def worker_peak_rss_mb(self):
        """The largest peak RSS (VmHWM) among the server's worker processes, now."""
        return max((kib_field(pid, "VmHWM") or 0 for pid in self.workers()), default=0)

    def wait(self, timeout):
        self.rusage = wait_with_rusage(self.process, timeout)
        return self.process.returncode

    def stop(self, timeout=30):
        if self.process is None or self.process.returncode is not None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.wait(10)

    @property
    def peak_rss_mb(self):
        return self.rusage.ru_maxrss / 1024 if self.rusage else None


def measure(command, env, log_dir, name, timeout, preexec_fn=None):
    """Run `command` to completion: wall seconds, peak RSS and CPU (os.wait4), its output; raise on failure."""
    run = Served(command, env, log_dir, name, preexec_fn=preexec_fn)
    started = time.perf_counter()
    run.start()
    try:
        run.wait(timeout)
    except subprocess.TimeoutExpired:
        run.stop()
        raise RuntimeError(f"{name} took longer than {timeout} s") from None
    seconds = time.perf_counter() - started
    output = run.out_path.read_text(errors="replace")
    if run.process.returncode != 0:
        raise RuntimeError(f"{name} exited {run.process.returncode}: {output[-1000:]} {run.errors()}")
    return {"seconds": seconds, "peak_rss_mb": run.peak_rss_mb,
            "cpu_seconds": run.rusage.ru_utime + run.rusage.ru_stime, "output": output.strip()[-500:]}
