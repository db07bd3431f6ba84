"""The headless command line, ``python -m search_engine <command> ...``.

Each command lives in its own module with ``add_parser(subparsers) -> None``, which registers
the sub-parser and sets ``handler`` (a function ``(args) -> int`` exit status) as a default.
To add a command, import its module here and append it to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from search_engine.cli import finalise, sample, search, train

COMMANDS = (sample, search, finalise, train)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command's sub-parser."""
    parser = argparse.ArgumentParser(
        prog="python -m search_engine",
        description="μNAS search engine: search space, resources, training, search.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
