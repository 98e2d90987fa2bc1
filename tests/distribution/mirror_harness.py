"""A published tree served by Debian's nginx on loopback, and a tampering mirror in front of it.

Used by tests/distribution/test_mirror_*.py and benchmarks/bench_mirror.py.

- `StaticNginx(directory, tree)`: /usr/sbin/nginx, unprivileged, serving `tree` as static files
  (what any web server, CDN or bucket does with a published tree); its access log says which
  files a sync downloaded.
- `TamperingMirror(upstream)`: a small HTTP proxy that forwards to a mirror and, on request,
  modifies, truncates, drops or replaces what it serves, or serves an old copy of the tree: the
  attacks a compromised, broken or stale mirror can make.
"""

import getpass
import re
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.cli.serve_harness import NGINX, free_port, stop, wait_for_port


class StaticNginx:
    """nginx serving `tree` on a free loopback port; `url` is the mirror's address."""

    def __init__(self, directory, tree):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.access_log = self.directory / "access.log"
        temporary = {name: self.directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temporary.values():
            path.mkdir(exist_ok=True)
        (self.directory / "nginx.conf").write_text(f"""
user {getpass.getuser()};
daemon off;
worker_processes 1;
pid {self.directory}/nginx.pid;
error_log {self.directory}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format paths '$status $request_uri';
    access_log {self.access_log} paths;
    client_body_temp_path {temporary["body"]};
    proxy_temp_path {temporary["proxy"]};
    fastcgi_temp_path {temporary["fastcgi"]};
    uwsgi_temp_path {temporary["uwsgi"]};
    scgi_temp_path {temporary["scgi"]};
    server {{
        listen 127.0.0.1:{self.port};
        server_name 127.0.0.1;
        root {Path(tree).resolve()};
        location / {{ try_files $uri =404; }}
    }}
}}
""")
        self.process = subprocess.Popen([NGINX, "-c", str(self.directory / "nginx.conf"), "-p", str(self.directory),
                                         "-e", str(self.directory / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port, self.process, seconds=20)
        except RuntimeError:
            stop(self.process)
            raise RuntimeError("nginx did not start: " + self.process.stderr.read().decode()[-2000:]) from None

    def requests(self):
        """(status, path) of every request served so far, in order (nginx writes its log as it goes)."""
        if not self.access_log.exists():
            return []
        return [tuple(line.split(" ", 1)) for line in self.access_log.read_text().splitlines()]

    def forget(self):
        """Start the access log afresh: requests() then shows only what comes next."""
        self.access_log.write_text("")
        subprocess.run([NGINX, "-c", str(self.directory / "nginx.conf"), "-p", str(self.directory),
                        "-e", str(self.directory / "error.log"), "-s", "reopen"], check=True, capture_output=True)

    def stop(self):
        stop(self.process)


class TamperingMirror:
    """An HTTP proxy in front of `upstream` (a mirror's base URL). Honest until told otherwise:

    - `modify(pattern)`: flip one byte of each file whose path matches the regular expression;
    - `truncate(pattern)`: serve the first half of it;
    - `drop(pattern)`: answer 404;
    - `replace(pattern, body)`: serve `body` instead;
    - `serve_from(directory)`: serve the files of an old copy of the tree (a frozen or rolled-back mirror);
    - `honest()`: forget every rule.
    """

    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.rules = []
        self.old_tree = None
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = mirror.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path):
        if self.old_tree is not None:
            file = self.old_tree / path.lstrip("/")
            status, body = (200, file.read_bytes()) if file.is_file() else (404, b"")
        else:
            try:
                with urllib.request.urlopen(self.upstream + path, timeout=30) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
        for pattern, action in self.rules:
            if re.search(pattern, path) and status == 200:
                status, body = action(body)
        return status, body

    def modify(self, pattern):
        self.rules.append((pattern, lambda body: (200, body[:-1] + bytes([body[-1] ^ 1]))))

    def truncate(self, pattern):
        self.rules.append((pattern, lambda body: (200, body[: len(body) // 2])))

    def drop(self, pattern):
        self.rules.append((pattern, lambda body: (404, b"")))

    def replace(self, pattern, replacement):
        self.rules.append((pattern, lambda body: (200, replacement)))

    def serve_from(self, directory):
        self.old_tree = Path(directory)

    def honest(self):
        self.rules, self.old_tree = [], None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def replica_files(path, with_metadata=True):
    """{relative path: bytes} of a replica directory (without its lock file; without tuf/ unless
    with_metadata): what "the replica is unchanged" compares."""
    path = Path(path)
    return {str(file.relative_to(path)): file.read_bytes() for file in sorted(path.rglob("*"))
            if file.is_file() and file.name != ".lock"
            and (with_metadata or file.relative_to(path).parts[0] != "tuf")}
