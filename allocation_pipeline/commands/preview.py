"""`allocation preview`: the lines one rule would create in a period, with drivers and shares, writing nothing.
`preview_rule` computes them; the console's preview page and the MCP server call it too."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.core.allocation.allocate import RunDraft
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import Rule

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
    parser.add_argument("--extracts", metavar="DIR", help=f"extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts; extracts that ${settings.SOURCES_FILE_ENV} names are read from their sources)")
    parser.add_argument("--rules", metavar="FILE", help=f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    parser.add_argument("--method", help="preview with this method instead of the rule's own (RULE may then name an insights pool without a rule)")
    parser.add_argument("--parameters", metavar="JSON", help='the method\'s parameters as JSON, e.g. \'{"weights": {"cloud_spend": 50, "it_tickets": 50}}\'')
    parser.set_defaults(func=_run)


def _parameters(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--parameters is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CommandError("--parameters must be a JSON object, e.g. '{\"driver\": \"headcount\"}'")
    return value


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
    """Read and clean one period's extracts with the core, as the pipeline's assets do: from the
    sources file's sources ($ALLOCATION_SOURCES_FILE; files without one), and the allocation matrix
    too when `with_matrix`, for a multi-level preview. Raises ExtractError or SourcesError."""
    from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS
    from allocation_pipeline.core.allocation.drivers import compute_driver_values
    from allocation_pipeline.core.sources.reader import ExtractReader

    quarantined: dict[str, int] = {}
    quarantine_rows: dict[str, pd.DataFrame] = {}
    reader = ExtractReader.from_file(settings.sources_file(), extracts_dir)

    def clean(name: str, references: dict | None = None) -> pd.DataFrame:
        result = reader.clean(name, references, period if EXTRACT_SPECS[name].partitioned else None)
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


class PreviewError(ValueError):
    """A preview that cannot be made; the message names the rule, the period, the file or the row."""


@dataclass(frozen=True)
class Preview:
    """What one rule would create in a period, computed as the pipeline computes it, nothing
    written: `run` None when the rule's pool is empty; `earlier` the rules applied before it;
    `notes` what the preview assumed (source documents read from the extract)."""

    rule: Rule
    period: str
    earlier: tuple[str, ...]
    gl_lines_read: int
    quarantined: dict[str, int]
    run: RunDraft | None
    notes: tuple[str, ...]


def preview_rule(
    rule_id: str,
    period: str,
    rules_path: str | None = None,
    extracts_dir: str | None = None,
    method: str | None = None,
    parameters: dict | None = None,
) -> Preview:
    """Read the period's extracts, run the rules of the same entity that come before `rule_id`,
    then the rule itself, writing nothing; user errors raise PreviewError with one clear message.
    The command line, the console and the MCP server all preview through this function.

    With `method` (and its `parameters`) the rule is previewed with that method instead of its
    own (a recommended key, say); `rule_id` may then also name an insights pool that no rule
    allocates yet, previewed as the rule its proposal describes."""
    from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
    from allocation_pipeline.core.allocation.drivers import DriverError
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.allocation.methods import MethodError
    from allocation_pipeline.core.sources.config import SourcesError
    from allocation_pipeline.core.allocation.rules import RulesError, load_rules

    if not PERIOD_RE.fullmatch(period or ""):
        raise PreviewError(f"period {period!r} is not a fiscal month YYYY-MM")
    rules_path = rules_path or settings.rules_file()
    extracts_dir = extracts_dir or settings.extracts_dir()
    try:
        rule_set = load_rules(rules_path)
        rule = _rule_to_preview(rule_set, rule_id, rules_path, method, parameters)
    except (RulesError, MethodError) as exc:
        raise PreviewError(str(exc)) from None
    if not rule.effective_in(period):
        window = f"from {rule.effective_from or 'the start'} to {rule.effective_to or 'open end'}"
        raise PreviewError(f"rule {rule.id} is not in force in {period} (effective {window})")
    # The rules of the entity up to this one, in their order; a pool's proposed rule comes after every rule.
    in_force = rule_set.for_period(period, rule.entity)
    ids = [r.id for r in in_force]
    chain = in_force[: ids.index(rule.id)] + [rule] if rule.id in ids else in_force + [rule]
    try:
        data = read_period(extracts_dir, period)
    except (ExtractError, SourcesError, DriverError) as exc:
        raise PreviewError(str(exc)) from None
    try:
        documents, notes = _documents(chain, data.gl_lines)
        outcome = allocate_period(
            period, chain, gl_balances(data.gl_lines), data.driver_values, data.cost_centers, data.entities, documents=documents
        )
    except AllocationError as exc:
        raise PreviewError(f"allocation of {period} failed: {exc}") from None
    run = next((r for r in outcome.runs if r.rule_id == rule.id), None)
    return Preview(rule, period, tuple(r.id for r in chain[:-1]), len(data.gl_lines), data.quarantined, run, tuple(notes))


def _rule_to_preview(rule_set, rule_id: str, rules_path: str, method: str | None, parameters: dict | None) -> Rule:
    """The rules file's rule, with `method` and `parameters` in place of its own when given; or,
    with a method, the rule an insights pool without a rule of its own would get."""
    from dataclasses import replace

    from allocation_pipeline.core.insights.config import InsightsConfigError, load_insights, pool_rule
    from allocation_pipeline.core.allocation.methods import MethodError, get_method
    from allocation_pipeline.core.allocation.rules import RulesError

    if method is None and parameters is not None:
        raise RulesError("parameters are given without a method (--method)")
    existing = next((r for r in rule_set.rules if r.id == rule_id), None)
    if existing is not None and method is None:
        return existing
    if existing is not None:
        problems = get_method(method).check_parameters(parameters or {})
        if problems:
            raise MethodError(f"rule {rule_id} with method {method}: " + "; ".join(problems))
        return replace(existing, method=method, parameters=dict(parameters or {}), fallback_method=None, fallback_parameters={})
    try:
        pool = load_insights(rules_path).pool_for_rule(rule_id)
        if pool is None:
            rule_set.get(rule_id)  # raises the rules file's "no rule" message
        if method is None:
            raise RulesError(
                f"{rules_path}: no rule '{rule_id}' yet; it is an insights pool: preview it with a method and its "
                "parameters (the key `allocation analyze` recommends, say)"
            )
        return pool_rule(pool, rule_set, method=method, parameters=parameters or {})
    except InsightsConfigError as exc:
        raise RulesError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    parameters = _parameters(args.parameters)
    entry = _multilevel_entry(args.rule, args.rules or settings.rules_file()) if args.method is None else None
    if entry is not None:
        return _preview_multilevel(entry, args.period, args.rules or settings.rules_file(), args.extracts or settings.extracts_dir())
    try:
        preview = preview_rule(args.rule, args.period, args.rules, args.extracts, args.method, parameters)
    except PreviewError as exc:
        raise CommandError(str(exc)) from None
    rule, period = preview.rule, preview.period
    for note in preview.notes:
        print(f"note: {note}")
    print(f"Preview of rule {rule.id} ({rule.entity}, {period}), method {rule.method}; nothing is written")
    if rule.description:
        print(f"  {rule.description}")
    print(f"Earlier rules applied first: {', '.join(preview.earlier) if preview.earlier else 'none'}")
    print(f"GL lines read: {preview.gl_lines_read:,} ({preview.quarantined.get('gl_lines', 0):,} quarantined rows left out)")
    if preview.run is None:
        print(f"Pool is empty in {period}: the rule makes no run.")
        return 0
    _print_run(preview.run)
    return 0


def _multilevel_entry(entry_id: str, rules_path: str):
    """The `multilevel:` entry named `entry_id` when no rule has that id (None otherwise, or when the
    file cannot be read: preview_rule then says what is wrong with it)."""
    from allocation_pipeline.core.allocation.rules import RulesError, load_rules
    from allocation_pipeline.core.multilevel.config import MultilevelConfigError, load_multilevel

    try:
        if any(r.id == entry_id for r in load_rules(rules_path).rules):
            return None
        return next((s for s in load_multilevel(rules_path).specs if s.id == entry_id), None)
    except (RulesError, MultilevelConfigError, OSError):
        return None


def _preview_multilevel(spec, period: str, rules_path: str, extracts_dir: str) -> int:
    """A multi-level entry: every rule of its entity in force runs first (the solve takes the cost
    left after them, as the pipeline does), then the month's matrix is solved and its run shown."""
    from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
    from allocation_pipeline.core.allocation.drivers import DriverError
    from allocation_pipeline.core.allocation.rules import load_rules
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.multilevel.runs import MultilevelRunError, allocate_multilevel, balances_after_runs
    from allocation_pipeline.core.sources.config import SourcesError

    if not PERIOD_RE.fullmatch(period or ""):
        raise CommandError(f"period {period!r} is not a fiscal month YYYY-MM")
    if not spec.effective_in(period):
        raise CommandError(f"multi-level entry {spec.id} is not in force in {period}")
    rules = load_rules(rules_path).for_period(period, spec.entity)
    try:
        data = read_period(extracts_dir, period, with_matrix=True)
        documents, _ = _documents(rules, data.gl_lines)
        outcome = allocate_period(
            period, rules, gl_balances(data.gl_lines), data.driver_values, data.cost_centers, data.entities, documents=documents
        )
    except (ExtractError, SourcesError, DriverError) as exc:
        raise CommandError(str(exc)) from None
    except AllocationError as exc:
        raise CommandError(f"allocation of {period} failed: {exc}") from None
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


def _documents(rules, gl_lines: pd.DataFrame) -> tuple[dict, list[str]]:
    """Source documents of document-linked rules, from the month's GL extract, and a note for
    each. The preview reads no warehouse, so what earlier runs took from a document is not
    subtracted (the note says so)."""
    from allocation_pipeline.core.allocation.allocate import DocumentSource, document_lines

    documents, notes = {}, []
    for rule in rules:
        document = rule.source.document
        lines = None if document is None else document_lines(gl_lines, document)
        if lines is not None:
            notes.append(f"{document} is previewed from the extract as if none of it were allocated yet")
            documents[document] = DocumentSource(document, lines)
    return documents, notes
