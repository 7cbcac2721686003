"""`allocation preview`: the lines one rule would create in a period, with drivers and shares, writing nothing."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.core.money import format_money

PERIOD_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="print the lines one rule would create in a period, with driver values and shares; writes nothing",
        description="Read the period's extracts (cleaned as the pipeline cleans them; quarantined rows are "
        "left out), run the rules of the same entity that come before RULE (a later rule may pool what "
        "earlier ones allocated), then RULE itself, and print RULE's lines: role, account, cost center, "
        "product, region, debit, credit, driver, driver value and share, with totals, notes and each "
        "target's explanation. Nothing is written: no warehouse, no Dagster run, no file.",
    )
    parser.add_argument("rule", metavar="RULE", help="the rule id")
    parser.add_argument("--period", required=True, metavar="YYYY-MM", help="the fiscal month")
    parser.add_argument("--extracts", metavar="DIR", help=f"extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts)")
    parser.add_argument("--rules", metavar="FILE", help=f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    parser.set_defaults(func=_run)


@dataclass(frozen=True)
class PeriodData:
    """One period's cleaned extracts, as the allocation engine needs them, and how many rows of
    each extract were quarantined (left out)."""

    entities: pd.DataFrame
    accounts: pd.DataFrame
    cost_centers: pd.DataFrame
    gl_lines: pd.DataFrame
    driver_values: pd.DataFrame
    quarantined: dict[str, int]


def read_period(extracts_dir: Path | str, period: str) -> PeriodData:
    """Read and clean one period's extracts with the core, as the pipeline's assets do."""
    from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
    from allocation_pipeline.core.allocation.drivers import compute_driver_values
    from allocation_pipeline.core.ingestion.extracts import read_extract

    quarantined: dict[str, int] = {}

    def clean(name: str, references: dict | None = None) -> pd.DataFrame:
        spec = EXTRACT_SPECS[name]
        required, optional = spec.file_columns()
        wanted = period if spec.partitioned else None
        result = clean_extract(read_extract(extracts_dir, name, required, optional, period=wanted), spec, references, period=wanted)
        quarantined[name] = result.rows_quarantined
        return result.kept

    entities = clean("entities")
    accounts = clean("accounts")
    cost_centers = clean("cost_centers", {"entity": entities["entity"]})
    references = {"entity": entities["entity"], "account": accounts["account"], "cost center": cost_centers["cost_center"]}
    gl_lines = clean("gl_lines", references)
    drivers = compute_driver_values(period, clean("headcount", references), clean("timesheets", references), clean("usage_metrics", references))
    return PeriodData(entities, accounts, cost_centers, gl_lines, drivers, quarantined)


def _run(args: argparse.Namespace) -> int:
    from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
    from allocation_pipeline.core.allocation.drivers import DriverError
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.allocation.methods import MethodError
    from allocation_pipeline.core.allocation.rules import RulesError, load_rules

    period = args.period
    if not PERIOD_RE.fullmatch(period):
        raise CommandError(f"--period {period!r} is not a fiscal month YYYY-MM")
    rules_path = args.rules or settings.rules_file()
    extracts_dir = args.extracts or settings.extracts_dir()
    try:
        rule_set = load_rules(rules_path)
        rule = rule_set.get(args.rule)
    except (RulesError, MethodError) as exc:
        raise CommandError(str(exc)) from None
    if not rule.effective_in(period):
        window = f"from {rule.effective_from or 'the start'} to {rule.effective_to or 'open end'}"
        raise CommandError(f"rule {rule.id} is not in force in {period} (effective {window})")
    in_force = rule_set.for_period(period, rule.entity)
    chain = in_force[: [r.id for r in in_force].index(rule.id) + 1]
    try:
        data = read_period(extracts_dir, period)
    except (ExtractError, DriverError) as exc:
        raise CommandError(str(exc)) from None
    try:
        documents = _documents(chain, data.gl_lines)
        outcome = allocate_period(
            period, chain, gl_balances(data.gl_lines), data.driver_values, data.cost_centers, data.entities, documents=documents
        )
    except AllocationError as exc:
        raise CommandError(f"allocation of {period} failed: {exc}") from None

    print(f"Preview of rule {rule.id} ({rule.entity}, {period}), method {rule.method}; nothing is written")
    if rule.description:
        print(f"  {rule.description}")
    earlier = [r.id for r in chain[:-1]]
    print(f"Earlier rules applied first: {', '.join(earlier) if earlier else 'none'}")
    print(f"GL lines read: {len(data.gl_lines):,} ({data.quarantined.get('gl_lines', 0):,} quarantined rows left out)")
    run = next((r for r in outcome.runs if r.rule_id == rule.id), None)
    if run is None:
        print(f"Pool is empty in {period}: the rule makes no run.")
        return 0
    lines = run.lines
    targets = lines[lines["role"] == "target"]
    print(f"Pool: {format_money(run.pool_cents)} {run.currency}; {len(targets)} target line(s)")
    print()
    print(_table(lines))
    debit, credit = run.total_debit_cents, run.total_credit_cents
    print(f"Totals: debit {format_money(debit)}, credit {format_money(credit)}" + (" (balanced)" if debit == credit else " (NOT BALANCED)"))
    if run.notes:
        print("\nNotes:")
        for note in run.notes:
            print(f"  - {note}")
    print("\nWhy each target gets its amount:")
    for row in targets.itertuples(index=False):
        print(f"  {row.line_no:>4}  {row.explanation}")
    return 0


def _table(lines: pd.DataFrame) -> str:
    header = ["line", "role", "account", "cost center", "product", "region", "debit", "credit", "driver", "driver value", "share"]
    rows = [
        [
            str(r.line_no), r.role, r.account, r.cost_center, _text(r.product), _text(r.region),
            _amount(r.debit_cents), _amount(r.credit_cents), _text(r.driver),
            "" if pd.isna(r.driver_value) else f"{r.driver_value:,.2f}", "" if pd.isna(r.share) else f"{r.share:.4%}",
        ]
        for r in lines.itertuples(index=False)
    ]
    right = {"line", "debit", "credit", "driver value", "share"}
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def render(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(cells, widths, header)).rstrip()

    return "\n".join([render(header), render(["-" * w for w in widths])] + [render(row) for row in rows])


def _amount(cents: int) -> str:
    """A line's debit or credit; the empty side stays blank, as on a journal voucher."""
    return format_money(cents) if cents else ""


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _documents(rules, gl_lines: pd.DataFrame) -> dict:
    """Source documents of document-linked rules, from the month's GL extract. The preview reads
    no warehouse, so what earlier runs took from a document is not subtracted (said in its output)."""
    from allocation_pipeline.core.allocation.allocate import DocumentSource, document_lines

    documents = {}
    for rule in rules:
        document = rule.source.document
        lines = None if document is None else document_lines(gl_lines, document)
        if lines is not None:
            print(f"note: {document} is previewed from the extract as if none of it were allocated yet")
            documents[document] = DocumentSource(document, lines)
    return documents
