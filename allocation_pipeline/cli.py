"""The `allocation` command line: one subcommand per module in `allocation_pipeline.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

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

VERBOSE_HELP = "on an unexpected error, show the full traceback"


class CommandError(Exception):
    """A user-facing failure: printed as one clear message, exit status 2, no traceback."""


def program() -> str:
    """How to call this command line again in a printed hint: `allocation` when that is what the shell
    finds, else the full path of the `allocation` that is running (a virtualenv not on PATH)."""
    import shlex
    import shutil
    from pathlib import Path

    invoked = Path(sys.argv[0])
    if invoked.name != "allocation" or not invoked.exists():
        return "allocation"
    found = shutil.which("allocation")
    if found and Path(found).resolve() == invoked.resolve():
        return "allocation"
    return shlex.quote(str(invoked.resolve()))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from allocation_pipeline import __version__

    try:
        return version("allocation_pipeline")
    except PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allocation",
        description="Cost allocation pipeline: sample data, period runs, the ledger (submit, approve, post, void), "
        "multi-level solves, insights, previews, period reports and benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}", help="print the version and exit")
    parser.add_argument("--verbose", dest="global_verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for command in subparsers.choices.values():
        _add_verbose(command)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """Every command takes --verbose after its name, as users type it (`allocation show X --verbose`);
    a command with subcommands (`benchmark`) gives it to each of them."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if nested:
        for action in nested:
            for command in action.choices.values():
                _add_verbose(command)
    elif not any("--verbose" in action.option_strings for action in parser._actions):
        parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = args.global_verbose or getattr(args, "verbose", False)
    try:
        result = args.func(args)
    except CommandError as exc:
        if verbose:
            traceback.print_exc()
        print(f"allocation {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"allocation {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, the traceback only on request
        if verbose:
            traceback.print_exc()
        print(f"allocation {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not verbose:
            print("(run again with --verbose for the traceback)", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
