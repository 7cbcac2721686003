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
        help="print the lines one rule (or multi-level entry) would create in a period, with driver values and shares; writes nothing",
        description="Read the period's extracts (cleaned as the pipeline cleans them; quarantined rows are "
        "left out), run the rules of the same entity that come before RULE (a later rule may pool what "
        "earlier ones allocated), then RULE itself, and print RULE's lines: role, account, cost center, "
        "product, region, debit, credit, driver, driver value and share, with totals, notes and each "
        "target's explanation. RULE may also be the id of a `multilevel:` entry: then every rule of its "
        "entity runs first and the multi-level solve of the month's allocation matrix is previewed. "
        "Nothing is written: no warehouse, no Dagster run, no file.",
    )
    parser.add_argument("rule", metavar="RULE", help="a rule id or a multi-level entry id of the rules file")
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
    allocation_matrix: pd.DataFrame | None = None
    matrix_quarantine: pd.DataFrame | None = None


def read_period(extracts_dir: Path | str, period: str, with_matrix: bool = False) -> PeriodData:
    """Read and clean one period's extracts with the core, as the pipeline's assets do (the
    allocation matrix too when `with_matrix`, for a multi-level preview)."""
    from allocation_pipeline.core.cleaning import EXTRACT_SPECS, clean_extract
    from allocation_pipeline.core.drivers import compute_driver_values
    from allocation_pipeline.core.extracts import read_extract

    quarantined: dict[str, int] = {}
    quarantine_rows: dict[str, pd.DataFrame] = {}

    def clean(name: str, references: dict | None = None) -> pd.DataFrame:
        spec = EXTRACT_SPECS[name]
        required, optional = spec.file_columns()
        wanted = period if spec.partitioned else None
        result = clean_extract(read_extract(extracts_dir, name, required, optional, period=wanted), spec, references, period=wanted)
        quarantined[name] = result.rows_quarantined
        quarantine_rows[name] = result.quarantine
        return result.kept

    entities = clean("entities")
    accounts = clean("accounts")
    cost_centers = clean("cost_centers", {"entity": entities["entity"]})
    references = {"entity": entities["entity"], "account": accounts["account"], "cost center": cost_centers["cost_center"]}
    gl_lines = clean("gl_lines", references)
    drivers = compute_driver_values(period, clean("headcount", references), clean("timesheets", references), clean("usage_metrics", references))
    matrix = clean("allocation_matrix", references) if with_matrix else None
    return PeriodData(entities, accounts, cost_centers, gl_lines, drivers, quarantined, matrix, quarantine_rows.get("allocation_matrix"))


def _run(args: argparse.Namespace) -> int:
    from allocation_pipeline.cli import did_you_mean
    from allocation_pipeline.core.methods import MethodError
    from allocation_pipeline.core.multilevel_config import MultilevelConfigError, load_multilevel
    from allocation_pipeline.core.rules import RulesError, load_rules

    period = args.period
    if not PERIOD_RE.fullmatch(period):
        raise CommandError(f"--period {period!r} is not a fiscal month YYYY-MM")
    rules_path = args.rules or settings.rules_file()
    extracts_dir = args.extracts or settings.extracts_dir()
    try:
        rule_set = load_rules(rules_path)
        multilevel = load_multilevel(rules_path)
    except (RulesError, MethodError, MultilevelConfigError) as exc:
        raise CommandError(str(exc)) from None
    rules = {r.id: r for r in rule_set.rules}
    entries = {s.id: s for s in multilevel.specs}
    if args.rule in entries and args.rule not in rules:
        return _preview_multilevel(entries[args.rule], rule_set, period, extracts_dir)
    if args.rule not in rules:
        known = list(rules) + list(entries)
        raise CommandError(
            f"{rules_path}: no rule or multi-level entry '{args.rule}'{did_you_mean(args.rule, known)} "
            f"(rules: {', '.join(rules) or 'none'}; multi-level: {', '.join(entries) or 'none'})"
        )
    rule = rules[args.rule]
    if not rule.effective_in(period):
        window = f"from {rule.effective_from or 'the start'} to {rule.effective_to or 'open end'}"
        raise CommandError(f"rule {rule.id} is not in force in {period} (effective {window})")
    in_force = rule_set.for_period(period, rule.entity)
    chain = in_force[: [r.id for r in in_force].index(rule.id) + 1]
    data = _read(extracts_dir, period)
    outcome = _allocate(period, chain, data)

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
    _print_run(run)
    return 0


def _read(extracts_dir, period: str, with_matrix: bool = False) -> PeriodData:
    from allocation_pipeline.core.drivers import DriverError
    from allocation_pipeline.core.extracts import ExtractError

    try:
        return read_period(extracts_dir, period, with_matrix=with_matrix)
    except (ExtractError, DriverError) as exc:
        raise CommandError(str(exc)) from None


def _allocate(period: str, rules: list, data: PeriodData):
    from allocation_pipeline.core.allocation import AllocationError, allocate_period, gl_balances

    try:
        documents = _documents(rules, data.gl_lines)
        return allocate_period(
            period, rules, gl_balances(data.gl_lines), data.driver_values, data.cost_centers, data.entities, documents=documents
        )
    except AllocationError as exc:
        raise CommandError(f"allocation of {period} failed: {exc}") from None


def _preview_multilevel(spec, rule_set, period: str, extracts_dir) -> int:
    """A multi-level entry: every rule of its entity in force runs first (the solve takes the cost
    left after them, as the pipeline does), then the month's matrix is solved and its run shown."""
    from allocation_pipeline.core.allocation import gl_balances
    from allocation_pipeline.core.multilevel_runs import MultilevelRunError, allocate_multilevel, balances_after_runs

    if not spec.effective_in(period):
        raise CommandError(f"multi-level entry {spec.id} is not in force in {period}")
    rules = rule_set.for_period(period, spec.entity)
    data = _read(extracts_dir, period, with_matrix=True)
    outcome = _allocate(period, rules, data)
    moved = [run.lines.assign(entity=run.entity, currency=run.currency) for run in outcome.runs]
    run_lines = pd.concat(moved, ignore_index=True) if moved else pd.DataFrame()
    balances = balances_after_runs(gl_balances(data.gl_lines), run_lines)
    quarantine = data.matrix_quarantine
    if quarantine is not None and not quarantine.empty:
        quarantine = quarantine[["source_file", "row_number", "reason"]].drop_duplicates(["source_file", "row_number"])
    try:
        solved = allocate_multilevel(period, [spec], balances, data.allocation_matrix, data.cost_centers, data.entities, quarantine)
    except MultilevelRunError as exc:
        raise CommandError(str(exc).removesuffix("; nothing stored")) from None

    print(f"Preview of multi-level entry {spec.id} ({spec.entity}, {period}), method {spec.method_name}; nothing is written")
    if spec.description:
        print(f"  {spec.description}")
    print(f"Rules applied first: {', '.join(r.id for r in rules) or 'none'} (runs submitted to the warehouse are not counted)")
    print(f"GL lines read: {len(data.gl_lines):,} ({data.quarantined.get('gl_lines', 0):,} quarantined rows left out); "
          f"allocation matrix rows: {len(data.allocation_matrix):,}")
    for note in solved.notes:
        print(f"note: {note}")
    if not solved.drafts:
        print(f"Nothing to pass on in {period}: the entry makes no run.")
        return 0
    _print_run(solved.drafts[0])
    return 0


def _print_run(run) -> None:
    """A run's lines, totals, notes and each target's explanation."""
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
    from allocation_pipeline.core.allocation import DocumentSource, document_lines

    documents = {}
    for rule in rules:
        document = rule.source.document
        lines = None if document is None else document_lines(gl_lines, document)
        if lines is not None:
            print(f"note: {document} is previewed from the extract as if none of it were allocated yet")
            documents[document] = DocumentSource(document, lines)
    return documents
