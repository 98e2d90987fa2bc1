"""CommandError: how a command says it cannot go on. Imports nothing, so client commands may use it."""

import sys


class CommandError(Exception):
    """One line for the user, and the exit status. `sitealert.cli.main` reports it: as
    `sitealert: MESSAGE`, or for a client command (`command="sync"`) as argparse reports a usage
    error, `sitealert sync: error: MESSAGE`."""

    def __init__(self, message, status=2, command=None):
        super().__init__(str(message))
        self.status, self.command = status, command

    def report(self):
        prefix = f"sitealert {self.command}: error:" if self.command else "sitealert:"
        print(f"{prefix} {self}", file=sys.stderr)
