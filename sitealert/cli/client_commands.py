"""`sitealert sync` and `sitealert check`: the client side of the command. Never imports Django."""

import argparse
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sitealert.cli.errors import CommandError
from sitealert.client import AuthError, IncompatibleServer, Replica, ReplicaDamaged, SyncError, store
from sitealert.client.sync import base_url, mirror_url
from sitealert.hosts import InvalidTarget, normalize_target

SYNC_EPILOG = """\
The token can also come from the SITEALERT_TOKEN environment variable, which other users of the
machine cannot read from the process list as they can a command-line argument.

From signed mirrors (--mirror URL, repeatable, tried in order, and --root ROOT_JSON, the published
tree's root metadata obtained out of band; needed for the first sync only): every file is verified
against the trusted root (signatures, versions that never go back, expiry, length and SHA-256), and
a modified, dropped, expired or rolled-back file is refused; the replica keeps its last verified
version. A mirror that fails is reported and the next one tried.

exit status:
  0  the replica is current (with --every: stopped by SIGTERM or Ctrl-C)
  1  the sync failed; the replica keeps the version it had (with --every: only for errors that
     retrying cannot fix, a refused token or an incompatible server; others are reported and
     retried at the next tick)
  2  usage error
"""

CHECK_EPILOG = """\
Items are raw URLs, hosts or app ids (android:<package>, ios:<digits>, store links), from the
arguments, from -f FILE (one per line; blank lines and lines starting with # are skipped), or from
standard input when neither is given (or with -f -). A listed domain covers its subdomains.

output: one line per item, "ITEM: listed (TARGET; countries ...; categories ...)", "ITEM: not listed"
or "ITEM: invalid (REASON)"; with --json one object per line:
  {"item": ..., "listed": true|false, "matched": TARGET|null, "countries": [...], "categories": [...]}
  plus "error": REASON for an item that is not a valid domain, URL or app id.

exit status:
  0  no item is listed
  1  at least one item is listed
  2  usage error, or the replica is missing (never synced), damaged, or a file cannot be read
"""

STDIN_BATCH = 1000
FILE_BATCH = 10000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sync", help="client: keep a local replica of the list current",
        description="Bring the replica in DIR up to date with a SiteAlert server, or with signed mirrors of "
                    "its list: incrementally from the change log (or a mirror's delta) when possible, in full "
                    "for a new or damaged replica, on 410 or on a checksum mismatch; verified against the "
                    "list's checksum every time. An interrupted sync leaves the previous replica intact.",
        epilog=SYNC_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the server's base address, e.g. https://sitealert.example.org")
    source.add_argument("--mirror", action="append", metavar="URL",
                        help="a signed mirror's address (the directory holding metadata/ and targets/); "
                             "repeat for fallbacks, tried in order")
    p.add_argument("--root", metavar="ROOT_JSON",
                   help="with --mirror: the TUF root metadata that pins the trust (needed for the first sync; "
                        "kept in DIR/tuf/ afterwards)")
    p.add_argument("--token", default=os.environ.get("SITEALERT_TOKEN") or None,
                   help="API token of an authorized user (feed scope); default $SITEALERT_TOKEN "
                        "(with --mirror only if the mirror asks for one)")
    p.add_argument("--replica", required=True, metavar="DIR", help="the replica's directory (created if missing)")
    p.add_argument("--every", type=_seconds, metavar="SECONDS",
                   help="keep running and sync every SECONDS (60 to 300 is plenty)")
    p.add_argument("--full", action="store_true",
                   help="download the whole list even if changes would do (repairs a replica ahead of the server)")
    p.add_argument("--no-compact", action="store_true",
                   help="do not compact after the sync: by default, once the overlay of changes has grown past "
                        "1/16 of the base, it is merged into a new base after the sync is reported (a step of "
                        "its own, a few seconds at 10 million entries; Replica.compact() does it too)")
    p.add_argument("--metrics-file", metavar="FILE",
                   help="after every attempt, write the replica's version and the times of its last attempt and "
                        "last success to FILE in the Prometheus text format (for node_exporter's textfile "
                        "collector): the sync lag an alert watches")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=cmd_sync)

    p = subparsers.add_parser(
        "check", help="client: which items are listed, from the replica",
        description="Say which items the replica's list covers, without any network call.",
        epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("items", nargs="*", metavar="ITEM", help="URLs, hosts or app ids to check")
    p.add_argument("-f", "--file", metavar="FILE", help="read items from FILE, one per line ('-': standard input)")
    p.add_argument("--replica", required=True, metavar="DIR", help="the replica's directory, as given to sync")
    p.add_argument("--json", action="store_true", help="print one JSON object per item")
    p.set_defaults(func=cmd_check)


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


# -- sync -----------------------------------------------------------------------------------------


def _sync_once(replica, args, stamp, status):
    status.attempted_at = time.time()
    try:
        if args.mirror:
            result = replica.sync(mirror=args.mirror, root=args.root, token=args.token, full=args.full)
        else:
            result = replica.sync(args.url, args.token, full=args.full)
    except SyncError:
        status.failures += 1
        raise
    else:
        status.succeeded_at = status.attempted_at
        status.seconds = result.seconds
    finally:
        if args.metrics_file:
            status.write(args.metrics_file, replica)
    for failure in result.failed_mirrors:  # a broken or attacked mirror is news even when the next one served
        # A warning, not an error: the sync succeeded (exit 0) from a later mirror.
        print(f"sitealert sync: warning: {failure}; a later mirror served the sync", file=sys.stderr)
    if not args.quiet:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ ") if stamp else ""
        print(f"{when}{args.replica}: {result}", flush=True)
    if result.compaction_due and not args.no_compact:
        _compact(replica, args, stamp)


def _compact(replica, args, stamp):
    """Merge the overlay into a new base, outside the timed sync (a failure is reported: the
    replica keeps its base and overlay, and the next sync tries again)."""
    started = time.monotonic()
    try:
        replica.compact()
    except (SyncError, ReplicaDamaged, OSError) as exc:
        CommandError(f"compaction failed, the replica is unchanged: {exc}", command="sync").report()
        return
    if not args.quiet:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ ") if stamp else ""
        print(f"{when}{args.replica}: compacted the overlay into a new base, version {replica.version} "
              f"({time.monotonic() - started:.2f} s)", flush=True)


class SyncStatus:
    """What `sync --metrics-file` reports: the replica's version, when this process last tried and
    last succeeded (the sync lag is the time since then), its failures and the last sync's duration."""

    def __init__(self):
        self.attempted_at = self.succeeded_at = self.seconds = None
        self.failures = 0

    def write(self, path, replica):
        # Loaded only here: `sitealert serve` must set up prometheus_client's multiprocess mode
        # before the library is first imported, and every command loads this module.
        from prometheus_client import CollectorRegistry, Counter, Gauge, write_to_textfile

        registry = CollectorRegistry()
        Gauge("sitealert_replica_version", "List version the replica holds, verified by its checksum.",
              registry=registry).set(replica.version)
        Gauge("sitealert_replica_sync_attempt_timestamp_seconds", "When this sync process last tried.",
              registry=registry).set(self.attempted_at or 0)
        Gauge("sitealert_replica_sync_success_timestamp_seconds",
              "When this sync process last brought the replica level with the server (0: not yet).",
              registry=registry).set(self.succeeded_at or 0)
        Counter("sitealert_replica_sync_failures", "Failed syncs since this sync process started.",
                registry=registry).inc(self.failures)
        if self.seconds is not None:
            Gauge("sitealert_replica_sync_duration_seconds", "How long the last successful sync took.",
                  registry=registry).set(self.seconds)
        try:
            write_to_textfile(path, registry)  # written whole, then renamed into place
        except OSError as exc:
            CommandError(f"cannot write the metrics file {path}: {exc.strerror or exc}", command="sync").report()


def cmd_sync(args) -> int:
    try:
        if args.mirror:
            for url in args.mirror:
                mirror_url(url)
        else:
            if args.root:
                raise ValueError("--root pins the trust of a mirror sync: give --mirror URL too")
            if not args.token:
                raise ValueError("a token is required: --token TOKEN or the SITEALERT_TOKEN environment variable")
            base_url(args.url)
    except ValueError as exc:
        raise CommandError(exc, command="sync") from None
    replica = Replica(args.replica)
    status = SyncStatus()
    if args.every is None:
        try:
            _sync_once(replica, args, stamp=False, status=status)
        except ValueError as exc:  # the root file, or no root for a first sync
            raise CommandError(exc, command="sync") from None
        except SyncError as exc:
            raise CommandError(exc, status=1, command="sync") from None
        return 0

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    next_run = time.monotonic()
    while not stopping:
        try:
            _sync_once(replica, args, stamp=True, status=status)
        except (AuthError, IncompatibleServer) as exc:  # retrying cannot fix these
            raise CommandError(exc, status=1, command="sync") from None
        except ValueError as exc:
            raise CommandError(exc, command="sync") from None
        except SyncError as exc:  # reported, and tried again at the next tick
            CommandError(exc, command="sync").report()
        args.full = False  # --full applies to the first sync only
        next_run += args.every
        while not stopping and time.monotonic() < next_run:
            time.sleep(min(0.5, max(0.0, next_run - time.monotonic())))
        next_run = max(next_run, time.monotonic())
    return 0


# -- check ----------------------------------------------------------------------------------------


def _lines(stream):
    for line in stream:
        item = line.rstrip("\r\n")
        if item.strip() and not item.lstrip().startswith("#"):
            yield item


def _batches(args):
    """Batches of items: the arguments, then the file or standard input."""
    if args.items:
        yield list(args.items)
    source = args.file
    if source is None and args.items:
        return
    if source in (None, "-"):
        size = 1 if sys.stdin.isatty() else STDIN_BATCH
        stream = sys.stdin
    else:
        size = FILE_BATCH
        stream = open(source, encoding="utf-8-sig")
    try:
        batch = []
        for item in _lines(stream):
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if stream is not sys.stdin:
            stream.close()


def _invalid_reason(item):
    try:
        normalize_target(item)
    except InvalidTarget as exc:
        return str(exc)
    return None


def _render(item, match, as_json):
    if as_json:
        record = {"item": item, "listed": match is not None, "matched": match.target if match else None,
                  "countries": list(match.countries) if match else [],
                  "categories": list(match.categories) if match else []}
        if match is None:
            reason = _invalid_reason(item)
            if reason:
                record["error"] = reason
        return json.dumps(record, ensure_ascii=False)
    if match is not None:
        return (f"{item}: listed ({match.target}; countries {', '.join(match.countries) or '-'}; "
                f"categories {', '.join(match.categories) or '-'})")
    reason = _invalid_reason(item)
    return f"{item}: invalid ({reason})" if reason else f"{item}: not listed"


def open_replica(directory):
    """The replica in `directory`, for the commands that read one; ValueError says what to do when
    there is none or it is damaged."""
    if store.manifest_stamp(Path(directory)) is None:
        raise ValueError(f"no replica in {directory}: run 'sitealert sync --url URL --token TOKEN "
                         f"--replica {directory}' first")
    replica = Replica(directory)
    if replica.damaged:
        raise ValueError(f"the replica in {directory} is damaged ({replica.damaged}); run 'sitealert sync' to "
                         "repair it")
    return replica


def cmd_check(args) -> int:
    try:
        replica = open_replica(args.replica)
    except ValueError as exc:
        raise CommandError(exc, command="check") from None
    listed = False
    out = sys.stdout
    try:
        for batch in _batches(args):
            lines = []
            for item, match in zip(batch, replica.check_many(batch)):
                listed = listed or match is not None
                lines.append(_render(item, match, args.json))
            out.write("\n".join(lines) + "\n")
            out.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # `sitealert check ... | head`: the reader left
            sys.stdout = open(os.devnull, "w")
            return 1 if listed else 0
        raise CommandError(f"cannot read {exc.filename or 'the input'}: {exc.strerror}", command="check") from None
    except UnicodeDecodeError:
        raise CommandError(f"{args.file or 'standard input'} is not UTF-8 text", command="check") from None
    return 1 if listed else 0
