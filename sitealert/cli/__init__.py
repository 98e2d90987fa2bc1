"""The `sitealert` command. Server commands set up Django when they run; client commands never import it.

A command that cannot go on raises sitealert.cli.errors.CommandError; `main` prints its one line
to standard error and exits with its status.
"""

import argparse
import sys

from sitealert.cli import client_commands, server_commands, source_commands
from sitealert.cli.errors import CommandError

DESCRIPTION = """SiteAlert: national authorities publish lists of copyright-infringing sites;
advertisers and ad-tech platforms pull one verified feed and keep their ads away from them."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sitealert", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'sitealert COMMAND --help' for a command's options. "
               "Configuration comes from SITEALERT_* environment variables (see docs/configuration.md).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    server_commands.register(subparsers)
    source_commands.register(subparsers)
    client_commands.register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except CommandError as exc:
        exc.report()
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
