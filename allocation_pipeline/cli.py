"""The `allocation` command line: one subcommand per module in `allocation_pipeline.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes `register(subparsers)`, which adds its parser and sets `func`.
COMMAND_MODULES = (
    "allocation_pipeline.commands.generate",
    "allocation_pipeline.commands.run",
    "allocation_pipeline.commands.ledger",
    "allocation_pipeline.commands.multilevel",
    "allocation_pipeline.commands.insights",
    "allocation_pipeline.commands.suggestions",
    "allocation_pipeline.commands.preview",
    "allocation_pipeline.commands.rules",
    "allocation_pipeline.commands.report",
    "allocation_pipeline.commands.benchmark",
    "allocation_pipeline.commands.users",
    "allocation_pipeline.commands.console",
    "allocation_pipeline.commands.export",
    "allocation_pipeline.commands.mcp",
)


class CommandError(Exception):
    """A user-facing failure: printed as one clear message, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocation",
        description="Cost allocation pipeline: sample data, period runs, multi-level solves and benchmarks.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except CommandError as exc:
        print(f"allocation {args.command}: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
