"""`allocation rules check` and `allocation rules schema`: the rules file validated without reading
the month's extracts, and its JSON Schema for editors."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules", help="check the rules file, or write its JSON Schema",
        description="Work with the rules file: `check` validates it, `schema` writes the JSON Schema editors use.",
    )
    commands = parser.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    check = commands.add_parser(
        "check", help="validate the whole rules file (rules, multilevel, insights); exit 1 on any problem",
        description="Validate the whole rules file (rules, multilevel and insights sections) and print every "
        "problem with its line, rule and field, without reading the month's extracts. Method names and "
        "parameters are checked against the installed methods; cost centers, dimension members and drivers "
        "against the extracts' master data and usage metrics (small files only; GL lines are never read). "
        "Exit status: 0 no problem, 1 problems found, 2 the file cannot be read.",
    )
    check.add_argument("file", nargs="?", metavar="FILE", help=f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    check.add_argument("--extracts", metavar="DIR", help=f"extracts directory whose names are checked (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts)")
    check.add_argument("--no-data", action="store_true", help="do not check names against the extracts")
    check.set_defaults(func=_check)
    schema = commands.add_parser(
        "schema", help="write the JSON Schema of the rules file (or of a what-if scenario file)",
        description="Write the JSON Schema of the rules file, with the installed methods and their parameters, "
        "to stdout or --out. A rules file whose first line is `# yaml-language-server: $schema=rules.schema.json` "
        "is completed and checked by VS Code (YAML extension) and other editors using yaml-language-server.",
    )
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    schema.add_argument("--scenario", action="store_true", help="the schema of what-if scenario files instead")
    schema.set_defaults(func=_schema)


def _check(args: argparse.Namespace) -> int:
    from allocation_pipeline.config.check import check_rules_file
    from allocation_pipeline.core.allocation.methods import MethodError
    from allocation_pipeline.core.allocation.rules import RulesError

    path = Path(args.file or settings.rules_file())
    extracts = None if args.no_data else (args.extracts or settings.extracts_dir())
    try:
        result = check_rules_file(path, extracts)
    except (RulesError, MethodError) as exc:
        raise CommandError(str(exc)) from None
    for problem in result.problems:
        place = f"{path}:{problem.line}" if problem.line else str(path)
        print(f"{place}: {replace(problem, line=None)}")
    for note in result.notes:
        print(f"note: {note}")
    counts = ", ".join(f"{n} {what}" for what, n in result.counts.items())
    if result.problems:
        print(f"{path}: {len(result.problems)} problem(s) ({counts})", file=sys.stderr)
        return 1
    checked = "" if extracts is None else f"; names checked against {extracts}" if not result.notes else ""
    print(f"{path}: no problems ({counts}{checked})")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from allocation_pipeline.config.schema import rules_schema, scenario_schema, schema_text

    text = schema_text(scenario_schema() if args.scenario else rules_schema())
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0
