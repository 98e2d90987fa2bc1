"""The `sitealert` command. Server commands set up Django on demand; client commands never import it."""

import argparse
import sys

from sitealert.cli import server_commands

try:
    from sitealert.cli import client_commands
except ImportError:  # pragma: no cover - only while the client package is being built
    client_commands = None

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
    if client_commands is not None:
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
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = server_commands.database_problem(exc)
        if problem is None:
            raise
        print(f"sitealert: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
