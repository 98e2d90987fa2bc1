"""Server-side commands: they configure Django when they run, not when `sitealert --help` is read."""

import argparse
import os
import sys
import warnings


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitealert.settings")
    import django

    django.setup()


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def database_problem(exc):
    """What to do when a server command failed on a database without SiteAlert's tables; None for
    any other error. SQLite says "no such table" in English whatever the locale; PostgreSQL's
    SQLSTATE 42P01 (undefined_table) holds in every language."""
    if not type(exc).__module__.startswith("django.db"):
        return None
    if "no such table" not in str(exc) and getattr(exc.__cause__, "sqlstate", None) != "42P01":
        return None
    from django.conf import settings

    where = settings.DATABASES["default"]["NAME"]
    return (f"the database {where} has no SiteAlert tables ({exc}). Run 'sitealert migrate' first, or point "
            "SITEALERT_DATA_DIR or SITEALERT_DATABASE_URL at your installation (a relative data directory is "
            "relative to where the command runs).")


def cli_actor():
    """Commands run by whoever holds the server: an operator action, recorded as such."""
    from sitealert.core.actors import Actor

    return Actor(via="cli")


def register(subparsers):
    p = subparsers.add_parser("demo", help="run the embedded demo (SQLite under ./var/, fictional data)",
                              description="Embedded mode: SQLite under ./var/, migrate, load fictional demo data "
                                          "once, serve on 127.0.0.1 and print the URL and demo logins.")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--no-serve", action="store_true", help="prepare the database and data, then exit")
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("serve", help="production web server (multi-process) on the configured database",
                              description="Serve SiteAlert with gunicorn. Bind address from --bind or "
                                          "SITEALERT_BIND (default 127.0.0.1:8000); processes from --workers or "
                                          "SITEALERT_WORKERS (default 2 x cores + 1).")
    p.add_argument("--bind", default=os.environ.get("SITEALERT_BIND", "127.0.0.1:8000"),
                   help="address:port to listen on (default SITEALERT_BIND or 127.0.0.1:8000)")
    p.add_argument("--workers", type=int, default=int(os.environ.get("SITEALERT_WORKERS", "0") or 0),
                   help="number of server processes (default SITEALERT_WORKERS or 2 x cores + 1)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("migrate", help="apply database migrations",
                              description="Apply database migrations, create the cache table and compile the "
                                          "translation catalogs.")
    p.set_defaults(func=cmd_migrate)

    org = subparsers.add_parser("org", help="manage organizations",
                                description="Manage organizations (operator action).")
    org_sub = org.add_subparsers(dest="org_command", metavar="ACTION")
    p = org_sub.add_parser("create", help="create an approved organization and print its slug",
                           description="Create an organization. Created by the operator, so it is approved.")
    p.add_argument("--kind", required=True, choices=["contributor", "user", "operator"],
                   help="contributor (a national authority), user (advertiser, agency, ad-tech) or operator")
    p.add_argument("--name", required=True, help="the organization's display name")
    p.add_argument("--country", default="", help="ISO 3166-1 alpha-2 code (required for contributors)")
    p.set_defaults(func=cmd_org_create)
    org.set_defaults(func=lambda args: org.print_help() or 2)

    user = subparsers.add_parser("user", help="manage accounts", description="Manage accounts.")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION")
    p = user_sub.add_parser("create", help="create an account in an organization",
                            description="Create an account; the password is read from SITEALERT_PASSWORD or "
                                        "asked for interactively.")
    p.add_argument("--org", required=True, help="organization slug")
    p.add_argument("--username", required=True, help="login name")
    p.add_argument("--email", default="", help="e-mail address (for notifications)")
    p.add_argument("--staff", action="store_true", help="operator staff: may use the admin site")
    p.set_defaults(func=cmd_user_create)
    user.set_defaults(func=lambda args: user.print_help() or 2)

    token = subparsers.add_parser("token", help="manage API tokens", description="Manage API tokens.")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    p = token_sub.add_parser("create", help="print a new API token once",
                             description="Create an API token for an organization and print it once; only its "
                                         "hash is stored.")
    p.add_argument("--org", required=True, help="organization slug")
    p.add_argument("--scope", choices=["feed", "listings"],
                   help="feed (read the list) or listings (manage a contributor's listings); "
                        "default: listings for contributors, feed otherwise")
    p.add_argument("--name", default="", help="a label to recognise the token by")
    p.add_argument("--days", type=int, default=None, help="expire after this many days (default from settings)")
    p.set_defaults(func=cmd_token_create)
    p = token_sub.add_parser("revoke", help="revoke a token by the first characters shown at creation",
                             description="Revoke a token.")
    p.add_argument("hint", help="the token's first 10 characters")
    p.set_defaults(func=cmd_token_revoke)
    token.set_defaults(func=lambda args: token.print_help() or 2)

    p = subparsers.add_parser("import", help="import a CSV file of listings for a contributor",
                              description="Import a CSV file (columns target,category,reference,note; header row "
                                          "required; UTF-8 with or without BOM). All-or-nothing unless "
                                          "--accept-valid-rows. Exit 0 when applied (or a clean dry run), 1 when "
                                          "rows were rejected, 2 on a file-level error.")
    p.add_argument("file", help="CSV file, or - for standard input")
    p.add_argument("--org", required=True, help="contributor slug")
    p.add_argument("--dry-run", action="store_true", help="check and report, change nothing")
    p.add_argument("--accept-valid-rows", action="store_true", help="apply the valid rows even if others are rejected")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("export", help="write the aggregated list (server database or a replica)",
                              description="Write the aggregated list. Formats: txt (one target per line), json and "
                                          "csv (the feed API's documents; server only), plain (domains only), "
                                          "adblock (||domain^), hosts (0.0.0.0 domain) and csv-placement "
                                          "(placement-exclusion upload). With --platform the list is split into "
                                          "files that respect that ad platform's per-list cap, written into the "
                                          "directory given by -o. See docs/client.md for each format's limits. "
                                          "Exit 0 when written, 2 when the list cannot be read (no replica, no "
                                          "database) or the output cannot be written.")
    p.add_argument("--format", default="txt",
                   help="txt, json, csv, plain, adblock, hosts or csv-placement (default txt)")
    p.add_argument("--platform", help="split for an ad platform's exclusion lists (e.g. google-ads, microsoft-ads, "
                                      "dv360, the-trade-desk); -o names a directory")
    p.add_argument("--per-list", type=_positive, help="entries per file with --platform (default: the platform's cap)")
    p.add_argument("--replica", help="export from a client replica directory instead of the server database")
    p.add_argument("-o", "--output", default="-", help="file to write (default standard output), or directory "
                                                       "with --platform")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("worker", help="background jobs (monitoring probes, scheduled work)",
                              description="Run background jobs: monitoring probes and scheduled maintenance.")
    p.add_argument("--once", action="store_true", help="run what is due now and exit")
    p.set_defaults(func=cmd_worker)


def _compile_catalogs():
    from sitealert.core.i18n import compile_catalogs

    compile_catalogs()


def cmd_migrate(args):
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    call_command("createcachetable", verbosity=0)
    _compile_catalogs()
    return 0


def cmd_demo(args):
    os.environ.setdefault("SITEALERT_DATA_DIR", os.path.join(os.getcwd(), "var"))
    os.environ.pop("SITEALERT_DATABASE_URL", None)
    os.environ.setdefault("SITEALERT_SITE_URL", f"http://127.0.0.1:{args.port}")
    os.environ.setdefault("SITEALERT_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    _compile_catalogs()
    from sitealert.demo.data import load_demo_data

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
    setup_django()
    _compile_catalogs()
    return _gunicorn(args.bind, workers=args.workers or (2 * (os.cpu_count() or 1) + 1))


def _gunicorn(bind, workers):
    from gunicorn.app.base import BaseApplication

    from sitealert.wsgi import application

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", os.environ.get("SITEALERT_ACCESS_LOG", "-"))
            self.cfg.set("forwarded_allow_ips", os.environ.get("SITEALERT_FORWARDED_ALLOW_IPS", "127.0.0.1"))
            # gunicorn's control socket is one per user ($HOME/.gunicorn/gunicorn.ctl): two servers on
            # one machine (a demo beside an installation) would take each other's. Nothing uses it.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            return application

    Server().run()
    return 0


def _org(slug):
    from sitealert.organizations.models import Organization

    try:
        return Organization.objects.get(slug=slug)
    except Organization.DoesNotExist:
        print(f"sitealert: no organization with slug {slug!r}", file=sys.stderr)
        raise SystemExit(2)


def cmd_org_create(args):
    setup_django()
    from sitealert.organizations.services import OrganizationError, create_organization

    try:
        org = create_organization(kind=args.kind, name=args.name, country=args.country, actor=cli_actor())
    except OrganizationError as exc:
        print(f"sitealert: {exc}", file=sys.stderr)
        return 2
    print(org.slug)
    return 0


def cmd_user_create(args):
    setup_django()
    import getpass

    from sitealert.organizations.services import OrganizationError, create_member

    password = os.environ.get("SITEALERT_PASSWORD")
    if not password:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", getpass.GetPassWarning)  # no terminal: not an echoed prompt
                password = getpass.getpass("Password: ")
        except (EOFError, OSError, getpass.GetPassWarning):
            password = ""
        if not password:
            print("sitealert: no password: set SITEALERT_PASSWORD, or run the command in a terminal to be asked "
                  "for one", file=sys.stderr)
            return 2
    try:
        user = create_member(_org(args.org), username=args.username, email=args.email, password=password,
                             staff=args.staff, actor=cli_actor())
    except OrganizationError as exc:
        print(f"sitealert: {exc}", file=sys.stderr)
        return 2
    print(user.username)
    return 0


def cmd_token_create(args):
    setup_django()
    from sitealert.organizations.services import OrganizationError, issue_token

    org = _org(args.org)
    try:
        token, secret = issue_token(org, scope=args.scope, name=args.name, days=args.days, actor=cli_actor())
    except OrganizationError as exc:
        print(f"sitealert: {exc}", file=sys.stderr)
        return 2
    print(secret)
    print(f"(scope {token.scope}; expires {token.expires_at:%Y-%m-%d}; shown once, store it now)"
          if token.expires_at else f"(scope {token.scope}; shown once, store it now)", file=sys.stderr)
    return 0


def cmd_token_revoke(args):
    setup_django()
    from django.utils import timezone

    from sitealert.organizations.services import OrganizationError, revoke_token_by_hint

    started = timezone.now()
    try:
        token = revoke_token_by_hint(args.hint, actor=cli_actor())
    except OrganizationError as exc:
        print(f"sitealert: {exc}", file=sys.stderr)
        return 2
    if token.revoked_at < started:
        print(f"{token.hint}… of {token.organization.slug} was already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC")
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
    setup_django()
    import json

    from django.core.exceptions import PermissionDenied

    from sitealert.core.actors import Actor
    from sitealert.listings.csv_import import import_csv
    from sitealert.listings.services import REJECTED

    org = _org(args.org)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    except OSError as exc:
        print(f"sitealert: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    actor = Actor(organization=org, via="cli")
    progress = ProgressBar()
    try:
        report = import_csv(org, data, actor=actor, dry_run=args.dry_run, accept_valid_rows=args.accept_valid_rows,
                            progress=progress)
    except PermissionDenied as exc:
        print(f"sitealert: {org.slug} cannot import listings: {exc}", file=sys.stderr)
        return 2
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


FEED_FORMATS = ("txt", "json", "csv")


def _export_targets(args):
    """The listed targets, from a replica (no Django) or from the server database."""
    if args.replica:
        from sitealert.cli.client_commands import open_replica

        return open_replica(args.replica).targets()
    setup_django()
    from sitealert.feed.builder import snapshot

    return [row[0] for row in snapshot()[1]]


def cmd_export(args):
    from sitealert.client.errors import ClientError
    from sitealert.client.exports import FORMATS, export_lines, write_platform_files

    fmt = args.format
    if fmt not in FEED_FORMATS + FORMATS:
        print(f"sitealert: unknown format {fmt!r}; choose one of {', '.join(FEED_FORMATS + FORMATS)}", file=sys.stderr)
        return 2
    try:
        if args.platform:
            if args.output == "-":
                print("sitealert: --platform writes several files: give a directory with -o", file=sys.stderr)
                return 2
            export = write_platform_files(_export_targets(args), args.platform, args.output, per_list=args.per_list)
            for export_file in export.files:
                print(f"{os.path.join(args.output, export_file.name)}: {export_file.entries} entries")
            for warning in export.warnings:
                print(f"sitealert: warning: {warning}", file=sys.stderr)
            return 0
        if fmt in FEED_FORMATS and not args.replica:
            setup_django()
            from sitealert.feed.builder import cached_feed

            body = cached_feed(fmt)[2]
        elif fmt in FEED_FORMATS:
            if fmt != "txt":
                print("sitealert: json and csv exports come from the server; from a replica use txt or a client "
                      "format", file=sys.stderr)
                return 2
            body = "".join(t + "\n" for t in _export_targets(args)).encode("utf-8")
        else:
            body = "".join(line + "\n" for line in export_lines(_export_targets(args), fmt)).encode("utf-8")
    except (ValueError, OSError, ClientError) as exc:
        print(f"sitealert: {exc}", file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    if os.path.isdir(args.output):
        print(f"sitealert: {args.output} is a directory; give a file name with -o", file=sys.stderr)
        return 2
    # Written beside the target and renamed over it: a reader never sees half a list.
    tmp = args.output + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, args.output)
    except OSError as exc:
        print(f"sitealert: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        if os.path.exists(tmp):
            os.unlink(tmp)
        return 2
    return 0


def cmd_worker(args):
    setup_django()
    from sitealert.monitoring.worker import run_worker

    return run_worker(once=args.once)
