"""`allocation export`: write a fiscal month's runs, lines and cost objects to an Excel workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.commands.preview import PERIOD_RE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a month's allocation runs, lines and cost objects to a workbook and print its path",
        description="Read the month's allocation runs (and runs posted into it), their lines and the cost per "
        "cost object after allocation from the warehouse ($ALLOCATION_WAREHOUSE_URL) and write them to one "
        "workbook, one sheet each (<data>/exports/allocation-PERIOD.xlsx by default).",
    )
    parser.add_argument("--period", required=True, metavar="YYYY-MM", help="the fiscal month")
    parser.add_argument("--format", choices=["xlsx"], default="xlsx", help="the file format (xlsx)")
    parser.add_argument("--out", metavar="FILE", help="the workbook to write (default: <data>/exports/allocation-PERIOD.xlsx)")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from allocation_pipeline.warehouse.engine import WarehouseError, ensure_schema, make_engine
    from allocation_pipeline.workbook_export import default_export_path, write_period_workbook

    if not PERIOD_RE.fullmatch(args.period or ""):
        raise CommandError(f"--period {args.period!r} is not a fiscal month YYYY-MM")
    path = Path(args.out) if args.out else default_export_path(args.period)
    if path.suffix.lower() != ".xlsx":
        raise CommandError(f"--out {path} must end in .xlsx")
    engine = make_engine(settings.warehouse_url())
    try:
        ensure_schema(engine)
        written = write_period_workbook(engine, args.period, path)
    except LookupError as exc:
        raise CommandError(str(exc.args[0] if exc.args else exc)) from None
    except (WarehouseError, PermissionError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    counts = ", ".join(f"{n} {sheet.lower()}" for sheet, n in written.rows.items())
    print(f"{written.path} ({counts})")
    return 0
