"""Every `sitealert` command, subcommand and option is documented (docs/cli.md, README.md)."""

import argparse
from pathlib import Path

import pytest

from sitealert.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
README = (ROOT / "README.md").read_text()


def commands(parser, path=()):
    """(path, parser) of every command and subcommand, e.g. (("token", "create"), <parser>)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub
                yield from commands(sub, path + (name,))


ALL = sorted(commands(build_parser()), key=lambda item: item[0])
IDS = [" ".join(path) for path, _ in ALL]


def test_the_parser_has_the_commands_of_the_spec():
    assert {"demo", "serve", "migrate", "org create", "token create", "import", "export", "worker",
            "backup", "restore"} <= set(IDS)


@pytest.mark.parametrize("path, parser", ALL, ids=IDS)
def test_command_has_a_section_in_cli_doc(path, parser):
    assert f"### `sitealert {' '.join(path)}`" in CLI_DOC or any(
        # a command with subcommands is documented through them
        isinstance(a, argparse._SubParsersAction) for a in parser._actions)


@pytest.mark.parametrize("path, parser", ALL, ids=IDS)
def test_command_is_named_where_a_newcomer_looks(path, parser):
    if len(path) == 1:
        assert f"sitealert {path[0]}" in README or f"sitealert {path[0]}" in CLI_DOC
    assert f"sitealert {' '.join(path)}" in CLI_DOC


@pytest.mark.parametrize("path, parser", ALL, ids=IDS)
def test_every_option_is_documented_in_its_section(path, parser):
    heading = f"### `sitealert {' '.join(path)}`"
    if heading not in CLI_DOC:
        return  # a command group: its subcommands carry the options
    section = CLI_DOC.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = action.option_strings or [action.metavar or action.dest.upper()]
        for name in names:
            assert f"`{name}" in section, f"{heading} does not document {name}"
