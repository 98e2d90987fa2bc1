"""`sitealert source …`: the federation sources this installation carries (docs/federation.md).

Like server_commands, this module imports no Django: each command sets it up and runs its handler
in sitealert.cli.source_handlers."""

import argparse
import functools

from sitealert.cli.server_commands import on_server, whole_number

_seconds = whole_number(60, "seconds")


def _share(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a number from 0 to 1, such as 0.1")
    return value


def _on_sources(handler):
    return functools.partial(on_server, handler, module="source_handlers")


def register(subparsers):
    source = subparsers.add_parser(
        "source", help="federation sources: other installations and plain lists carried here",
        description="Manage the federation sources this installation carries: other SiteAlert installations "
                    "(through their API or their signed mirror) and plain lists at a URL (docs/federation.md).")
    sub = source.add_subparsers(dest="source_command", metavar="ACTION")

    p = sub.add_parser("add", help="subscribe to a source (it is pulled by the worker, or now with 'source pull')",
                       description="Subscribe to a source. Exactly one of --api, --mirror or --list.")
    p.add_argument("name", help="a short name for the source (letters, digits, hyphens), such as arcom-fr")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--api", metavar="URL", help="another installation's base address, read through its API")
    kind.add_argument("--mirror", metavar="URL", help="another installation's signed mirror (needs --root)")
    kind.add_argument("--list", metavar="URL", help="a plain list (CSV or one target a line) for a contributor "
                                                    "(needs --org)")
    p.add_argument("--token", default="", help="a feed token of the other installation (--api; --mirror when "
                                               "its mirror needs one)")
    p.add_argument("--root", metavar="ROOT_JSON", help="the mirror's TUF root metadata file, obtained out of band")
    p.add_argument("--org", metavar="SLUG", help="the local contributor whose whole list --list holds")
    p.add_argument("--every", type=_seconds, default=3600, help="pull every this many seconds (default 3600)")
    p.add_argument("--no-republish", action="store_true",
                   help="do not pass this source's listings on to this installation's own subscribers")
    p.add_argument("--max-removal-share", type=_share, default=0.1,
                   help="--list: a run removing more than this share of the contributor's listings waits for "
                        "its confirmation (default 0.1)")
    p.set_defaults(func=_on_sources("cmd_source_add"))

    p = sub.add_parser("list", help="the sources, their versions, lag and last error",
                       description="List the sources with their state.")
    p.add_argument("--json", action="store_true", help="print the sources as JSON")
    p.set_defaults(func=_on_sources("cmd_source_list"))

    p = sub.add_parser("pull", help="pull sources now", description="Pull the named sources (or all) now.")
    p.add_argument("names", nargs="*", metavar="NAME", help="the sources to pull")
    p.add_argument("--all", action="store_true", help="every enabled source")
    p.add_argument("--full", action="store_true", help="read everything, even where a delta would do")
    p.set_defaults(func=_on_sources("cmd_source_pull"))

    p = sub.add_parser("remove", help="stop carrying a source",
                       description="Remove a source. Refused while its authorities list anything here, unless "
                                   "--purge, which removes those listings too.")
    p.add_argument("name", help="the source's name")
    p.add_argument("--purge", action="store_true", help="remove the listings it brought as well")
    p.set_defaults(func=_on_sources("cmd_source_remove"))

    p = sub.add_parser("confirm", help="apply a plain-list run held for confirmation",
                       description="Apply the run of a --list source that was held because it removes more "
                                   "than its --max-removal-share.")
    p.add_argument("name", help="the source's name")
    p.set_defaults(func=_on_sources("cmd_source_confirm"))
    source.set_defaults(func=lambda args: source.print_help() or 2)
