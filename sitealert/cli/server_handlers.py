"""What the server commands do. sitealert.cli.server_commands loads this module once Django is set
up, so that its imports can sit here at the top while `sitealert --help` imports no Django."""

import contextlib
import getpass
import json
import os
import sys
import warnings
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import DatabaseError
from django.utils import timezone
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from sitealert.cli.errors import CommandError
from sitealert.core import metrics, tallies
from sitealert.core.actors import Actor
from sitealert.core.conf import setting
from sitealert.core.i18n import compile_catalogs
from sitealert.core.request_body import BodyReader
from sitealert.demo.data import load_demo_data
from sitealert.distribution import keys, s3
from sitealert.distribution.publish import PublishError, publish, upload
from sitealert.feed.builder import open_feed
from sitealert.listings.csv_import import import_csv
from sitealert.listings.services import REJECTED
from sitealert.monitoring.worker import run_worker
from sitealert.operations.backup import BackupError, backup, restore
from sitealert.organizations.models import Organization
from sitealert.organizations.services import (
    OrganizationError,
    create_member,
    create_organization,
    issue_token,
    revoke_token_by_hint,
)

# Commands run by whoever holds the server: operator actions, recorded as such.
CLI_ACTOR = Actor(via="cli")


@contextlib.contextmanager
def tables_required():
    """A database without SiteAlert's tables is a CommandError that says what to do."""
    try:
        yield
    except DatabaseError as exc:
        # SQLite says "no such table" in English whatever the locale; PostgreSQL's SQLSTATE 42P01
        # (undefined_table) holds in every language.
        if "no such table" not in str(exc) and getattr(exc.__cause__, "sqlstate", None) != "42P01":
            raise
        where = settings.DATABASES["default"]["NAME"]
        raise CommandError(
            f"the database {where} has no SiteAlert tables ({exc}). Run 'sitealert migrate' first, or point "
            "SITEALERT_DATA_DIR or SITEALERT_DATABASE_URL at your installation (a relative data directory is "
            "relative to where the command runs).") from exc


def cmd_migrate(args):
    call_command("migrate", interactive=False, verbosity=1)
    call_command("createcachetable", verbosity=0)
    compile_catalogs()
    return 0


def cmd_demo(args):
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    compile_catalogs()
    created, logins = load_demo_data()
    url = f"http://127.0.0.1:{args.port}/"
    print(("Loaded the fictional demo data." if created else "Reusing the demo data in ./var/.") + "\n")
    print(f"SiteAlert demo: {url}" if not args.no_serve else
          f"SiteAlert demo data ready; 'sitealert demo --port {args.port}' serves it at {url}")
    print("Demo logins (username / password):")
    for role, username, password in logins:
        print(f"  {role:<34} {username} / {password}")
    sys.stdout.flush()
    if args.no_serve:
        return 0
    return _gunicorn(f"127.0.0.1:{args.port}", workers=2)


def cmd_serve(args):
    compile_catalogs()
    # Each gunicorn process keeps its counters in a file here; /metrics adds them up.
    metrics.share_between_processes(Path(settings.DATA_DIR) / "metrics")
    workers = args.workers or setting("WORKERS") or 2 * (os.cpu_count() or 1) + 1
    return _gunicorn(args.bind or setting("BIND"), workers=workers, threads=args.threads)


class DownloadFriendlyWorker(ThreadWorker):
    """gunicorn's threaded worker that takes a new connection only while one of its threads is free.

    A download of the feed holds a thread for as long as its client reads (sendfile, which releases
    the GIL); gunicorn's own worker would go on accepting connections and queue a quick request
    behind those downloads while another process has threads to spare. Downloads never count against
    the worker timeout: the worker's main loop reports alive while its threads send. A client that
    takes no byte for that long, though, is disconnected: it would otherwise hold its thread forever.
    """

    def handle_request(self, req, conn):
        conn.sock.settimeout(self.cfg.timeout)  # each wait for the client, not the whole answer
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            self.log.info("Closed the connection of %s, which took nothing for %s s", conn.client, self.cfg.timeout)
            return False

    def busy_threads(self):
        return self.nr_conns - len(self.keepalived_conns) - len(self.pending_conns)

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.busy_threads() < self.cfg.threads)

    def accept(self, listener):
        super().accept(listener)
        if self.busy_threads() >= self.cfg.threads:
            super().set_accept_enabled(False)


def _gunicorn(bind, workers, threads=None):
    """Serve the WSGI application with gunicorn: `workers` processes of `threads` (default
    SITEALERT_THREADS) threads each."""
    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", DownloadFriendlyWorker)
            self.cfg.set("threads", threads or setting("THREADS"))
            self.cfg.set("timeout", setting("WORKER_TIMEOUT"))
            self.cfg.set("accesslog", setting("ACCESS_LOG"))
            self.cfg.set("forwarded_allow_ips", setting("FORWARDED_ALLOW_IPS"))
            # gunicorn's control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): two servers on
            # one machine (a demo beside an installation) would take each other's. Nothing uses it.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            tallies.start()  # in each worker: what reads count is written every few seconds and at exit
            return BodyReader(get_wsgi_application())

    Server().run()
    return 0


def _org(slug):
    try:
        return Organization.objects.get(slug=slug)
    except Organization.DoesNotExist:
        raise CommandError(f"no organization with slug {slug!r}") from None


@contextlib.contextmanager
def _refusals():
    """A service's refusal (OrganizationError, or PermissionDenied: a federated authority's members
    and tokens are its installation's) is the command's one line."""
    try:
        yield
    except (OrganizationError, PermissionDenied) as exc:
        raise CommandError(exc) from None


def cmd_org_create(args):
    with _refusals():
        org = create_organization(kind=args.kind, name=args.name, country=args.country, actor=CLI_ACTOR)
    print(org.slug)
    return 0


def _password():
    password = os.environ.get("SITEALERT_PASSWORD")
    if password:
        return password
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", getpass.GetPassWarning)  # no terminal: not an echoed prompt
            password = getpass.getpass("Password: ")
    except (EOFError, OSError, getpass.GetPassWarning):
        password = ""
    if not password:
        raise CommandError("no password: set SITEALERT_PASSWORD, or run the command in a terminal to be asked "
                           "for one")
    return password


def cmd_user_create(args):
    password = _password()
    with _refusals():
        user = create_member(_org(args.org), username=args.username, email=args.email, password=password,
                             staff=args.staff, actor=CLI_ACTOR)
    print(user.username)
    return 0


def cmd_token_create(args):
    org = _org(args.org)
    with _refusals():
        token, secret = issue_token(org, scope=args.scope, name=args.name, days=args.days, actor=CLI_ACTOR)
    print(secret)
    print(f"(scope {token.scope}; expires {token.expires_at:%Y-%m-%d}; shown once, store it now)"
          if token.expires_at else f"(scope {token.scope}; shown once, store it now)", file=sys.stderr)
    return 0


def cmd_token_revoke(args):
    started = timezone.now()
    with _refusals():
        token = revoke_token_by_hint(args.hint, actor=CLI_ACTOR)
    if token.revoked_at < started:
        print(f"{token.hint}… of {token.organization.slug} was already revoked on "
              f"{token.revoked_at:%Y-%m-%d %H:%M} UTC")
    else:
        print(f"revoked {token.hint}… of {token.organization.slug}")
    return 0


class ProgressBar:
    """The import's progress on a terminal: the valid rows checked against the database and written."""

    def __init__(self, stream=None, width=40):
        self.stream, self.width = stream or sys.stderr, width
        self.enabled = self.stream.isatty() or os.environ.get("SITEALERT_PROGRESS") == "1"
        self.open = False  # a bar is on the line, not yet ended

    def __call__(self, done, total):
        if not self.enabled or not total:
            return
        filled = int(self.width * done / total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} valid rows")
        self.open = done < total
        if not self.open:
            self.stream.write("\n")
        self.stream.flush()

    def finish(self):
        """End the bar's line where the import stopped (a dry run or rejected rows write nothing)."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


def cmd_import(args):
    org = _org(args.org)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    actor = Actor(organization=org, via="cli")
    progress = ProgressBar()
    try:
        report = import_csv(org, data, actor=actor, dry_run=args.dry_run, accept_valid_rows=args.accept_valid_rows,
                            progress=progress)
    except PermissionDenied as exc:
        raise CommandError(f"{org.slug} cannot import listings: {exc}") from None
    finally:
        progress.finish()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        for row in report.rows:
            if row.status != "accepted":
                line = f"row {row.row}: {row.status}"
                if row.target:
                    line += f" {row.target}"
                if row.reason:
                    line += f" — {row.reason}"
                print(line)
        print(report.summary)
        if report.applied and report.version is not None:
            print(f"The aggregated list is now at version {report.version}.")
    if report.error:
        return 2
    return 1 if report.counts[REJECTED] else 0


def listed_targets():
    """The targets of the aggregated list, sorted, for `sitealert export`: the lines of the cached
    txt document (built if need be), read as they are used."""
    return _targets_of(open_feed("txt").file)


def _targets_of(txt):
    with txt:
        for line in txt:
            yield line[:-1].decode("utf-8")


def feed_document(fmt):
    """The feed API's document in `fmt` (txt, json or csv) as an open binary file, for `sitealert
    export`: the cached document itself (built if need be), byte for byte what /api/v1/feed sends."""
    return open_feed(fmt).file


@contextlib.contextmanager
def _key_refusals():
    try:
        yield
    except (keys.KeysError, PublishError) as exc:
        raise CommandError(exc) from None
    except OSError as exc:
        raise CommandError(f"{exc.filename or 'file'}: {exc.strerror}") from None


def cmd_keys_init(args):
    with _key_refusals():
        path = keys.init(args.dir, force=args.force)
        _print_keys(args.dir)
    print(f"Root version 1: {path}\nClients pin it with --root. Keep root.key offline once the online keys "
          "(targets, snapshot, timestamp) and the root directory are copied to the server (docs/distribution.md).",
          file=sys.stderr)
    return 0


def cmd_keys_rotate(args):
    with _key_refusals():
        path = keys.rotate(args.role, args.dir)
        _print_keys(args.dir)
    print(f"New root: {path}. Copy it (and the new {args.role}.key if the server uses it) to the server; the next "
          "publish signs with the new key.", file=sys.stderr)
    return 0


def cmd_keys_show(args):
    with _key_refusals():
        if args.json:
            print(json.dumps(keys.describe(args.dir), indent=2))
        else:
            _print_keys(args.dir)
    return 0


def _print_keys(directory):
    described = keys.describe(directory)
    print(f"root version {described['root_version']}, expires {described['root_expires']}")
    for role in described["roles"]:
        where = "private key here" if role["private_key_here"] else "private key not here"
        print(f"{role['role']:<10} {', '.join(role['keyids'])} (threshold {role['threshold']}; {where})")


def cmd_publish(args):
    client = None
    if args.s3:
        try:  # a bad URL, or no boto3, is refused before anything is written
            s3.S3Location.parse(args.s3)
            client = s3.s3_client(setting("S3_ENDPOINT_URL"), setting("S3_REGION"))
        except s3.S3Error as exc:
            raise CommandError(f"--s3: {exc}") from None
    with _key_refusals():
        publication = publish(args.directory, keys_dir=args.keys)
    if publication.changed:
        print(f"published version {publication.version} (epoch {publication.epoch}) into {args.directory}: "
              f"{len(publication.written)} files written, {len(publication.removed)} removed")
    else:
        print(f"{args.directory} is up to date at version {publication.version}")
    if client is not None:
        try:
            report = upload(args.directory, args.s3, client=client)
        except s3.S3Error as exc:
            raise CommandError(f"upload to {args.s3} failed: {exc}", status=1) from None
        print(f"uploaded to {args.s3}: {report.summary()}")
    return 0


def cmd_worker(args):
    return run_worker(once=args.once)


def cmd_backup(args):
    try:
        path, manifest = backup(args.output)
    except BackupError as exc:
        raise CommandError(exc) from None
    print(path)
    print(f"(list version {manifest.version}, {manifest.checksum}, {manifest.vendor}; "
          f"'sitealert restore {os.path.basename(path)}' puts it back)", file=sys.stderr)
    return 0


def cmd_restore(args):
    try:
        restored = restore(args.file, resync=args.resync)
    except BackupError as exc:
        raise CommandError(exc) from None
    manifest = restored.manifest
    print(f"Restored {args.file} (made {manifest.created_at}, list version {manifest.version}, {manifest.checksum}).")
    if restored.resync:
        known = f" (clients may hold up to version {restored.known_version})" if restored.known_version else ""
        print(f"The list continues at version {restored.version} with a new epoch{known}: every client gets "
              f"410 resync_required at its next sync and downloads the full list.")
    else:
        print(f"The list continues at version {restored.version} with the same checksum: replicas keep syncing "
              f"incrementally.")
    print("Run 'sitealert migrate' if this version of SiteAlert is newer than the backup, then start the server "
          "and the worker.")
    return 0
