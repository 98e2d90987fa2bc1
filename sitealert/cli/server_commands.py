"""Server commands: their arguments, and what runs them.

`sitealert --help` must import no Django, and this module imports none: each command sets Django
up, then loads sitealert.cli.server_handlers (what the commands do, with Django and the apps'
services imported at its top) through `on_server`. The function-local imports here are for that
reason only. `sitealert export` from a replica needs no server at all.
"""

import argparse
import functools
import importlib
import os
import sys

from sitealert.cli.client_commands import open_replica
from sitealert.cli.errors import CommandError
from sitealert.client.errors import ClientError
from sitealert.client.exports import FORMATS, stream_lines, write_platform_files

FEED_FORMATS = ("txt", "json", "csv")


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitealert.settings")
    import django

    from sitealert.core.conf import ConfigurationError

    try:
        django.setup()
    except ConfigurationError as exc:  # a SITEALERT_* variable SiteAlert cannot use
        raise CommandError(exc) from None


def on_server(handler, *args, module="server_handlers"):
    """sitealert.cli.<module>.<handler>(*args), with Django set up first."""
    setup_django()
    from sitealert.cli import server_handlers

    handlers = importlib.import_module(f"sitealert.cli.{module}")
    with server_handlers.tables_required():
        return getattr(handlers, handler)(*args)


def whole_number(minimum, unit=""):
    """An argparse type: a whole number of at least `minimum` (of `unit`, named in the messages)."""
    of, suffix = (f" of {unit}", f" {unit}") if unit else ("", "")

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{of}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{suffix}")
        return value

    return parse


_positive = whole_number(1)


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
                                          "SITEALERT_WORKERS (default 2 x cores + 1); threads per process from "
                                          "--threads or SITEALERT_THREADS (default 8). Each thread serves one "
                                          "request at a time, a feed download for as long as its client reads "
                                          "unless the proxy sends the file (SITEALERT_ACCEL_REDIRECT).")
    p.add_argument("--bind", help="address:port to listen on (default SITEALERT_BIND or 127.0.0.1:8000)")
    p.add_argument("--workers", type=_positive,
                   help="number of server processes (default SITEALERT_WORKERS or 2 x cores + 1)")
    p.add_argument("--threads", type=_positive,
                   help="threads per process (default SITEALERT_THREADS or 8)")
    p.set_defaults(func=functools.partial(on_server, "cmd_serve"))

    p = subparsers.add_parser("migrate", help="apply database migrations",
                              description="Apply database migrations, create the cache table and compile the "
                                          "translation catalogs.")
    p.set_defaults(func=functools.partial(on_server, "cmd_migrate"))

    org = subparsers.add_parser("org", help="manage organizations",
                                description="Manage organizations (operator action).")
    org_sub = org.add_subparsers(dest="org_command", metavar="ACTION")
    p = org_sub.add_parser("create", help="create an approved organization and print its slug",
                           description="Create an organization. Created by the operator, so it is approved.")
    p.add_argument("--kind", required=True, choices=["contributor", "user", "operator"],
                   help="contributor (a national authority), user (advertiser, agency, ad-tech) or operator")
    p.add_argument("--name", required=True, help="the organization's display name")
    p.add_argument("--country", default="", help="ISO 3166-1 alpha-2 code (required for contributors)")
    p.set_defaults(func=functools.partial(on_server, "cmd_org_create"))
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
    p.set_defaults(func=functools.partial(on_server, "cmd_user_create"))
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
    p.set_defaults(func=functools.partial(on_server, "cmd_token_create"))
    p = token_sub.add_parser("revoke", help="revoke a token by the first characters shown at creation",
                             description="Revoke a token.")
    p.add_argument("hint", help="the token's first 10 characters")
    p.set_defaults(func=functools.partial(on_server, "cmd_token_revoke"))
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
    p.set_defaults(func=functools.partial(on_server, "cmd_import"))

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

    p = subparsers.add_parser("backup", help="back up the database (a consistent snapshot, while writers run)",
                              description="Write the whole database to one file: a tar holding manifest.json (the "
                                          "list's version, epoch and checksum) and the database (SQLite: the online "
                                          "backup API; PostgreSQL: pg_dump's custom format, from the PATH). Prints "
                                          "the file's path. Exit 0 when written, 2 when it cannot be.")
    p.add_argument("-o", "--output", help="file to write, or a directory for a generated name (default: the current "
                                          "directory)")
    p.set_defaults(func=functools.partial(on_server, "cmd_backup"))

    p = subparsers.add_parser("restore", help="replace the database with a backup; the list keeps its versions",
                              description="Replace the configured database with a backup made by 'sitealert backup' "
                                          "(stop the server and the worker first). The newest backup continues the "
                                          "list at the same version and checksum; an older one moves the list to a "
                                          "new epoch and a version past every one clients may hold, so they "
                                          "download the full list. Exit 0 when restored, 2 when nothing was changed.")
    p.add_argument("file", help="the backup file")
    p.add_argument("--resync", action="store_true",
                   help="make every client download the full list even if nothing here shows the backup is older "
                        "(a database lost together with this machine's feed cache)")
    p.set_defaults(func=functools.partial(on_server, "cmd_restore"))

    keys = subparsers.add_parser("keys", help="signing keys of the signed distribution (init, rotate, show)",
                                 description="Manage the Ed25519 keys that sign the static tree of 'sitealert "
                                             "publish' (TUF roles root, targets, snapshot, timestamp). Keys are "
                                             "files in SITEALERT_KEYS_DIR (default <data dir>/keys, mode 0700, "
                                             "files 0600; looser permissions are refused). See "
                                             "docs/distribution.md for the key ceremony.")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    p = keys_sub.add_parser("init", help="create the four keys and root version 1",
                            description="Create a key for each role and sign root version 1 (root/1.root.json in "
                                        "the keys directory): the file clients pin with --root. Existing keys are "
                                        "never replaced unless --force.")
    p.add_argument("--dir", help="keys directory (default SITEALERT_KEYS_DIR)")
    p.add_argument("--force", action="store_true",
                   help="replace existing keys and start a new root chain (every client must pin the new root)")
    p.set_defaults(func=functools.partial(on_server, "cmd_keys_init"))
    p = keys_sub.add_parser("rotate", help="replace one role's key (needs the root key)",
                            description="Generate a new key for ROLE and sign root version N+1 that trusts it "
                                        "instead of the old one (with the old and the new root key when ROLE is "
                                        "root). The next publish signs with it; clients follow the root chain.")
    p.add_argument("role", choices=["root", "targets", "snapshot", "timestamp"], help="the role whose key to replace")
    p.add_argument("--dir", help="keys directory (default SITEALERT_KEYS_DIR)")
    p.set_defaults(func=functools.partial(on_server, "cmd_keys_rotate"))
    p = keys_sub.add_parser("show", help="print key ids, roles and the root's expiry (never a secret)",
                            description="Print the current root's version and expiry, and each role's key ids and "
                                        "whether its private key is in this directory. Never prints a secret.")
    p.add_argument("--dir", help="keys directory (default SITEALERT_KEYS_DIR)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=functools.partial(on_server, "cmd_keys_show"))
    keys.set_defaults(func=lambda args: keys.print_help() or 2)

    p = subparsers.add_parser("publish", help="write the signed static tree of the list into a directory",
                              description="Write or update the signed static tree of the current version in DIR: "
                                          "TUF metadata under DIR/metadata/ (root.json, timestamp.json, ...), the "
                                          "full lists (txt, csv, json; gzip) and deltas from recent versions under "
                                          "DIR/targets/. Any web server, CDN or object store can serve it. "
                                          "Idempotent, atomic for readers, safe to kill; old versions are pruned. "
                                          "Needs the online keys (targets, snapshot, timestamp). Exit 0 when the "
                                          "tree is current, 2 when nothing could be published.")
    p.add_argument("directory", metavar="DIR", help="the tree's directory (created if need be)")
    p.add_argument("--keys", help="keys directory (default SITEALERT_KEYS_DIR)")
    p.add_argument("--s3", metavar="s3://BUCKET/PREFIX",
                   help="then upload the tree to this S3-compatible bucket: only new or changed objects, "
                        "timestamp.json last, old objects deleted after it (endpoint and region: "
                        "SITEALERT_S3_ENDPOINT_URL, SITEALERT_S3_REGION; credentials: AWS_ACCESS_KEY_ID, "
                        "AWS_SECRET_ACCESS_KEY or another boto3 source; needs pip install 'sitealert[s3]'). "
                        "Exit 1 when the upload fails")
    p.set_defaults(func=functools.partial(on_server, "cmd_publish"))

    p = subparsers.add_parser("worker", help="background jobs (monitoring probes, scheduled work, publishing)",
                              description="Run background jobs: monitoring probes and scheduled maintenance, and "
                                          "with SITEALERT_MIRROR_DIR set, publishing the signed tree after every "
                                          "new version.")
    p.add_argument("--once", action="store_true", help="run what is due now and exit")
    p.set_defaults(func=functools.partial(on_server, "cmd_worker"))


def cmd_demo(args):
    # Embedded mode whatever the environment says: settings.py reads these when Django is set up.
    os.environ.setdefault("SITEALERT_DATA_DIR", os.path.join(os.getcwd(), "var"))
    os.environ.pop("SITEALERT_DATABASE_URL", None)
    os.environ.setdefault("SITEALERT_SITE_URL", f"http://127.0.0.1:{args.port}")
    os.environ.setdefault("SITEALERT_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    os.environ["SITEALERT_DEMO_OUTBOX"] = "1"  # staff read that mail at /outbox/
    return on_server("cmd_demo", args)


def _export_targets(args):
    """The listed targets, from a replica (no Django) or from the server database."""
    if args.replica:
        return open_replica(args.replica).iter_targets()
    return on_server("listed_targets")


def cmd_export(args):
    fmt = args.format
    if fmt not in FEED_FORMATS + FORMATS:
        raise CommandError(f"unknown format {fmt!r}; choose one of {', '.join(FEED_FORMATS + FORMATS)}")
    if args.platform and args.output == "-":
        raise CommandError("--platform writes several files: give a directory with -o")
    if not args.platform and args.replica and fmt in ("json", "csv"):
        raise CommandError("json and csv exports come from the server; from a replica use txt or a client format")
    try:
        if args.platform:
            export = write_platform_files(_export_targets(args), args.platform, args.output, per_list=args.per_list)
            for export_file in export.files:
                print(f"{os.path.join(args.output, export_file.name)}: {export_file.entries} entries")
            for warning in export.warnings:
                print(f"sitealert: warning: {warning}", file=sys.stderr)
            return 0
        # Streamed a block at a time, whatever the list's size: from the server, the feed's cached
        # document (the txt one for the client formats); a replica's targets come sorted.
        if fmt in FEED_FORMATS and not args.replica:
            blocks = _file_blocks(on_server("feed_document", fmt))
        elif fmt in FEED_FORMATS:
            blocks = _encoded_blocks(t + "\n" for t in _export_targets(args))
        else:
            blocks = _encoded_blocks(line + "\n" for line in stream_lines(_export_targets(args), fmt))
        _write_export(blocks, args.output)
    except (ValueError, OSError, ClientError) as exc:
        raise CommandError(exc) from None
    return 0


EXPORT_BLOCK = 1 << 20
# Lines are joined into smaller blocks: each line is a Python string, several times its length.
LINES_BLOCK = 1 << 16


def _file_blocks(f):
    with f:
        while block := f.read(EXPORT_BLOCK):
            yield block


def _encoded_blocks(lines):
    """Lines of text as UTF-8 blocks of about LINES_BLOCK bytes."""
    batch, size = [], 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= LINES_BLOCK:
            yield "".join(batch).encode("utf-8")
            batch, size = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


def _write_export(blocks, output):
    if output == "-":
        for block in blocks:
            sys.stdout.buffer.write(block)
        sys.stdout.flush()
        return
    if os.path.isdir(output):
        raise CommandError(f"{output} is a directory; give a file name with -o")
    # Written beside the target and renamed over it: a reader never sees half a list.
    tmp = output + ".tmp"
    try:
        with open(tmp, "wb") as f:
            for block in blocks:
                f.write(block)
        os.replace(tmp, output)
    except BaseException as exc:  # the list could not be read, or written: nothing half-written stays
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        raise
