"""Real SiteAlert installations on loopback, configured with the real CLI, for the federation tests.

Used by tests/federation/test_federation_e2e.py. Each `Installation` has its own data directory,
database, SITE_URL (a free loopback port chosen up front, so that the links it writes are right),
SITE_NAME, keys and outbox (Django's file e-mail backend, under its data directory). Its database is
SQLite, or a database of its own on the test run's PostgreSQL server (`postgresql=True` when the
run has SITEALERT_DATABASE_URL: scripts/pg's server, see tests/conftest.py). `sitealert serve` runs
it as tests/cli/serve_harness.py starts one. Every configuration step is a `sitealert` command with
the installation's environment, as its operator would type it (several in one process: a Django
start costs seconds on a loaded machine); a contributor's later listings go through the API, as its
system sends them. The tests read the state (a source's, the listings) straight from the
installation's database, and `django(code)` does what an operator does in the admin (a protected
target, a source's setting) or what time does (the history pruned).

What the operator's commands cost is kept small, since the federation tests run about a hundred of
them: an installation starts from a copy of the database `sitealert migrate` made once for the test
run (tests/migrated.py), and its commands run one after the other in its `CommandProcess`, which set
Django up once, instead of a process each.
"""

import email
import email.policy
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import migrated
from tests.cli.serve_harness import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


class CommandFailed(AssertionError):
    pass


@dataclass
class Ran:
    args: list
    returncode: int
    stdout: str
    stderr: str


# The installation's command process: Django set up once, then each request (one JSON line on its
# socket) runs `sitealert.cli.main(args)` (or, for `django()`, Python code) with its output captured,
# and closes the database connections after it, as a process of its own would have at exit.
_COMMAND_PROCESS = """
import contextlib, io, json, logging, socket, sys, traceback
channel = socket.socket(fileno=int(sys.argv[1]))
requests, replies = channel.makefile("r", encoding="utf-8"), channel.makefile("w", encoding="utf-8")
import django
django.setup()
from django.db import connections
from sitealert.cli import main
# What the settings' console handler writes goes to the command's standard error, as it would in a
# process of its own.
console = [h for h in logging.root.handlers if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr]
for line in requests:
    request = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    for handler in console:
        handler.setStream(err)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if "python" in request:
                exec(request["python"], {"__name__": "__django__"})
                status = 0
            else:
                status = main(request["args"])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            connections.close_all()
    for handler in console:
        handler.setStream(sys.stderr)
    replies.write(json.dumps([status, out.getvalue(), err.getvalue()]) + "\\n")
    replies.flush()
"""


class CommandProcess:
    """A Python process with the installation's environment and Django set up, which runs `sitealert`
    commands one after the other: a start of Django costs seconds on a loaded machine, and the
    federation tests run a hundred commands. Started at once, so that it sets up while the caller
    goes on; the log of what it wrote outside a command is `log`."""

    def __init__(self, env, log):
        self.log = Path(log)
        ours, theirs = socket.socketpair()
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-c", _COMMAND_PROCESS, str(theirs.fileno())],
                                            env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT, pass_fds=[theirs.fileno()])
        theirs.close()
        ours.settimeout(600)
        self.channel = ours
        self.requests, self.replies = ours.makefile("w", encoding="utf-8"), ours.makefile("r", encoding="utf-8")

    def run(self, request):
        """(status, stdout, stderr) of one request: {"args": [...]} or {"python": code}."""
        try:
            self.requests.write(json.dumps(request) + "\n")
            self.requests.flush()
            reply = self.replies.readline()
        except OSError:
            reply = ""
        if not reply:  # it died, or hangs: the next request goes to a new one (Installation._run)
            stop(self.process)
            raise CommandFailed(f"the command process ended ({self.process.returncode}) during {request}:\n"
                                f"{self.log.read_text(errors='replace')[-3000:]}")
        return json.loads(reply)

    def close(self):
        for stream in (self.requests, self.replies, self.channel):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=30)  # it ends at the end of its requests
        except subprocess.TimeoutExpired:
            stop(self.process)


def _drop_postgresql_database(server_url, name):
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Installation:
    """One SiteAlert installation, its database migrated; `start()` serves it at `url`."""

    def __init__(self, directory, name, *, postgresql=False):
        self.name = name
        self.directory = Path(directory)
        self.data_dir = self.directory / "data"
        self.data_dir.mkdir(parents=True)
        self.mail_dir = self.data_dir / "mail"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SITEALERT_")}
        self.env.update(
            SITEALERT_DATA_DIR=str(self.data_dir), SITEALERT_SITE_URL=self.url, SITEALERT_SITE_NAME=name,
            SITEALERT_SECRET_KEY=f"federation-{secrets.token_hex(8)}",
            SITEALERT_PUBLIC_CHECK_RATE="1000000", SITEALERT_API_RATE="1000000",
            SITEALERT_REVIEW_REQUEST_IP_RATE="1000", SITEALERT_REVIEW_REQUEST_EMAIL_RATE="1000",
            SITEALERT_SECOND_FACTOR_REQUIRED="none",
            SITEALERT_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            SITEALERT_EMAIL_FILE_PATH=str(self.mail_dir),
            SITEALERT_ACCESS_LOG=str(self.data_dir / "access.log"), SITEALERT_PASSWORD=PASSWORD,
            PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="sitealert.settings")
        self.server_url = self.database = None
        if postgresql and os.environ.get("SITEALERT_DATABASE_URL"):
            self.server_url = os.environ["SITEALERT_DATABASE_URL"]
            self.database = f"federation_{re.sub(r'[^a-z0-9]', '_', name.lower())}_{secrets.token_hex(4)}"
            self.env["SITEALERT_DATABASE_URL"] = migrated.postgresql(self.server_url, self.database)
        else:
            migrated.sqlite(self.data_dir)
        self.command_process = CommandProcess(self.env, self.directory / "commands.log")

    @property
    def engine(self):
        return "postgresql" if self.database else "sqlite"

    # --- The operator's commands ------------------------------------------------------------

    def _run(self, request):
        """(status, stdout, stderr) of a request to the command process; a new process after one that failed."""
        if self.command_process.process.poll() is not None:
            self.command_process = CommandProcess(self.env, self.directory / "commands.log")
        return self.command_process.run(request)

    def commands(self, *commands, check=True):
        """Run `sitealert` commands (each a list of arguments) for this installation, in order, in its
        command process (`sitealert.cli.main`, the console script's entry point, once per command);
        returns a Ran for each. Fails the test on a non-zero exit unless check=False."""
        ran = []
        for command in commands:
            args = [str(a) for a in command]
            one = Ran(args, *self._run({"args": args}))
            if check and one.returncode != 0:
                raise CommandFailed(f"{self.name}: sitealert {' '.join(one.args)} exited {one.returncode}:\n"
                                    f"{one.stdout[-3000:]}\n{one.stderr[-3000:]}")
            ran.append(one)
        return ran

    def cli(self, *args, check=True):
        """`sitealert ARGS…` for this installation: a Ran (returncode, stdout, stderr)."""
        return self.commands(args, check=check)[0]

    def contributor(self, name, country, username=None):
        """A contributor made with `org create` (and a member with `user create`); returns (slug, a
        listings token)."""
        slug = self.cli("org", "create", "--kind", "contributor", "--name", name, "--country",
                        country).stdout.split()[-1]
        commands = [["token", "create", "--org", slug, "--scope", "listings"]]
        if username:
            commands.append(["user", "create", "--org", slug, "--username", username,
                             "--email", f"{username}@example.test"])
        return slug, self.commands(*commands)[0].stdout.split()[0]

    def import_listings(self, slug, listings, reference="case-1"):
        """`sitealert import` of (target, category) pairs for the contributor `slug`."""
        rows = "".join(f"{target},{category},{reference},\n" for target, category in listings)
        csv = self.directory / f"import-{secrets.token_hex(4)}.csv"
        csv.write_text("target,category,reference,note\n" + rows)
        self.cli("import", csv, "--org", slug)

    def feed_token(self, subscriber):
        """A feed token of an authorized user named after the subscribing installation."""
        slug = self.cli("org", "create", "--kind", "user", "--name", subscriber).stdout.split()[-1]
        return self.cli("token", "create", "--org", slug, "--scope", "feed").stdout.split()[0]

    def add_source(self, name, *args):
        """`sitealert source add NAME ARGS…` unless a source of that name exists already."""
        if name not in self.source_names():
            self.cli("source", "add", name, *args)

    def pull(self, *names, check=True):
        return self.cli("source", "pull", *names, check=check)

    # --- Through the API, as a contributor's system does it ---------------------------------------

    def api(self, path, token, payload):
        response = httpx.post(self.url + path, json=payload, headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        assert response.status_code == 200, response.text[:2000]
        return response.json()

    def submit(self, token, *targets, category="streaming-video"):
        return self.api("/api/v1/listings", token, {"entries": [
            {"target": target, "category": category, "reference": "case-2"} for target in targets]})

    def remove(self, token, *targets):
        return self.api("/api/v1/listings/remove", token,
                        {"targets": list(targets), "reason": "The site took the material down."})

    # --- Looking inside ---------------------------------------------------------------------

    def sql(self, query, *params):
        """Rows of a read-only query on the installation's database (%s placeholders)."""
        if self.database:
            import psycopg

            with psycopg.connect(self.env["SITEALERT_DATABASE_URL"]) as connection:
                return [tuple(row) for row in connection.execute(query, params).fetchall()]
        connection = sqlite3.connect(f"file:{self.data_dir / 'sitealert.sqlite3'}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(query.replace("%s", "?"), params).fetchall()
        finally:
            connection.close()

    def django(self, code):
        """Run `code` with this installation's Django set up (for what an operator does in the admin),
        in its command process; returns what it printed."""
        status, stdout, stderr = self._run({"python": code})
        if status != 0:
            raise CommandFailed(f"{self.name}: python failed:\n{code}\n{stderr[-3000:]}")
        return stdout

    def source_names(self):
        return [name for (name,) in self.sql("SELECT name FROM federation_source ORDER BY name")]

    def source(self, name):
        """The stored state of source `name` (what the admin shows), with the origin keys of the
        authorities it brought."""
        cursor_columns = [c for (c,) in self._columns("federation_source")]
        [row] = self.sql(f"SELECT {', '.join(cursor_columns)} FROM federation_source WHERE name = %s", name)
        state = dict(zip(cursor_columns, row))
        state["authorities"] = sorted(origin for (origin,) in self.sql(
            "SELECT o.origin FROM federation_federatedauthority f "
            "JOIN organizations_organization o ON o.id = f.organization_id WHERE f.source_id = %s", state["id"]))
        return state

    def _columns(self, table):
        if self.database:
            return self.sql("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                            "ORDER BY ordinal_position", table)
        return [(row[1],) for row in self.sql(f"PRAGMA table_info({table})")]

    def feed_version(self):
        return (self.sql("SELECT version FROM feed_feedstate WHERE id = 1") or [(0,)])[0][0]

    def listings_of(self, origin, status="active"):
        """{target: category} of the listings (active by default) of the authority whose origin key is `origin`."""
        return dict(self.sql("SELECT l.target, l.category FROM listings_listing l "
                             "JOIN organizations_organization o ON o.id = l.contributor_id "
                             "WHERE o.origin = %s AND l.status = %s", origin, status))

    def origins(self):
        """{origin key: name} of every federated authority here."""
        return dict(self.sql("SELECT origin, name FROM organizations_organization WHERE origin <> '' ORDER BY origin"))

    def uid(self):
        rows = self.sql("SELECT uid FROM federation_installation WHERE id = 1")
        if rows:
            return rows[0][0]
        return self.django("from sitealert.federation.models import Installation\n"
                           "print(Installation.objects.get_or_create(pk=1)[0].uid)").split()[-1]

    def mail(self):
        """(recipients, subject, text) of every e-mail sent so far (the file backend writes one file per
        connection, its messages separated by a line of dashes)."""
        messages = []
        for path in sorted(self.mail_dir.iterdir()) if self.mail_dir.exists() else ():
            for raw in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
                if raw.strip():
                    message = email.message_from_string(raw.strip("\n"), policy=email.policy.default)
                    body = message.get_body(("plain",))
                    messages.append((message["To"], message["Subject"], body.get_content() if body else ""))
        return messages

    # --- Serving ------------------------------------------------------------------------------

    def start(self):
        """`sitealert serve` on the installation's own port (the one in SITE_URL)."""
        self.launch()
        self.wait_serving()

    def launch(self):
        """Start `sitealert serve`, not waiting for it (`wait_serving`): several start side by side."""
        assert self.process is None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sitealert", "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", "4"], env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_serving(self):
        try:
            wait_for_port(self.port, self.process)
        except RuntimeError:
            stop(self.process)
            message = self.process.stderr.read().decode()[-2000:]
            self.process = None
            raise RuntimeError(f"{self.name}: sitealert serve did not start: {message}") from None

    def stop(self):
        if self.process is not None:
            stop(self.process)
            self.process = None

    def get(self, path, token=None, **params):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def check(self, target):
        """The public check API's answer about `target`."""
        response = self.get("/api/v1/check", q=target)
        assert response.status_code == 200, response.text[:2000]
        return response.json()

    def metrics(self):
        response = self.get("/metrics")
        assert response.status_code == 200, response.text[:2000]
        return response.text

    def browser(self):
        """An HTTP client with a cookie jar, for the pages (CSRF cookie and form token)."""
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    def close(self):
        self.stop()
        self.command_process.close()
        if self.database:
            _drop_postgresql_database(self.server_url, self.database)


def serve_all(*installations):
    """`start()` these installations side by side."""
    for installation in installations:
        installation.launch()
    for installation in installations:
        installation.wait_serving()


def form_token(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def submit_form(client, path, data):
    """GET the form at `path` (a relative path or a full URL), then POST `data` to it with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:2000]
    return client.post(path, data={"csrfmiddlewaretoken": form_token(page.text), **data})


def sign_in(client, username):
    response = submit_form(client, "/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text[:2000]
    return client
