"""`allocation report`: write the HTML period report of a fiscal month, one file per entity."""

from __future__ import annotations

import argparse
from pathlib import Path

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.commands.preview import PERIOD_RE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the HTML period report (one self-contained file per entity) and print the paths",
        description="Read the month's posted runs, journal entries, costs and insights from the warehouse "
        "($ALLOCATION_WAREHOUSE_URL) and write one self-contained HTML file per entity, "
        "<data>/reports/PERIOD/ENTITY.html by default ($ALLOCATION_REPORTS_DIR moves <data>/reports). The files "
        "open offline in any browser.",
    )
    parser.add_argument("--period", required=True, metavar="YYYY-MM", help="the fiscal month")
    parser.add_argument("--entity", action="append", metavar="E", help="only this entity (repeatable; default: every entity)")
    parser.add_argument("--out", metavar="DIR", help="write the files into DIR (default: <data>/reports/PERIOD)")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from allocation_pipeline.period_reports import write_period_reports
    from allocation_pipeline.warehouse.engine import WarehouseError, describe, ensure_schema, make_engine

    if not PERIOD_RE.fullmatch(args.period or ""):
        raise CommandError(f"--period {args.period!r} is not a fiscal month YYYY-MM")
    url = settings.warehouse_url()
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        entities = _entities(engine, args.period, args.entity) if args.entity else None
        reports = write_period_reports(engine, args.period, entities, Path(args.out) if args.out else None)
    except LookupError as exc:
        raise CommandError(str(exc.args[0] if exc.args else exc)) from None
    except WarehouseError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    if not reports:
        raise CommandError(f"no entities in {describe(url)}: materialize the master data first (allocation run)")
    for report in reports:
        print(report.path)
    return 0


def _entities(engine, period: str, typed: list[str]) -> list[str]:
    """The entities the user named, in any case (ee is EE); an unknown one is a command error with
    the closest entity suggested."""
    from allocation_pipeline.config.problems import did_you_mean
    from allocation_pipeline.warehouse.report_store import report_entities

    with engine.connect() as conn:
        known = [str(e) for e in report_entities(conn, period)["entity"]]
    by_case = {e.lower(): e for e in known}
    unknown = [e for e in typed if e.lower() not in by_case]
    if unknown:
        first = unknown[0]
        raise CommandError(f"unknown entity {', '.join(unknown)}{did_you_mean(first, known, quoted=False)} (entities in the warehouse: {', '.join(known) or 'none'})")
    return [by_case[e.lower()] for e in typed]
