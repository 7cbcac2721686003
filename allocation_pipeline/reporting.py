"""Plain-text summaries of a period and of a Dagster run, for the command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.money import format_money
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine
from allocation_pipeline.warehouse.ledger_store import entries_for_period, runs_for_period


def run_failures(result) -> list[str]:
    """Readable failures of an in-process Dagster run: failed steps and failed blocking checks."""
    return [failure for event in result.all_events if (failure := failure_of(event)) is not None]


def failure_of(event) -> str | None:
    """One line for a failed step or a failed blocking check (naming what the check found), else None.

    A step that failed only because its blocking check did is said once, by the check."""
    if event.event_type_value == "STEP_FAILURE":
        error = event.step_failure_data.error
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            return None
        return f"{event.step_key}: {_root_message(error)}"
    if event.event_type_value == "ASSET_CHECK_EVALUATION":
        evaluation = event.event_specific_data
        if not evaluation.passed and evaluation.severity.value == "ERROR":
            found = _check_details(evaluation.metadata)
            return f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed" + (f": {found}" if found else "")
    return None


def _check_details(metadata: dict, limit: int = 5) -> str:
    """What a failed check found, from its `details` metadata (a markdown list): the first few items."""
    details = metadata.get("details")
    if details is None:
        return ""
    items = [line.strip().removeprefix("- ").strip().rstrip(".") for line in str(details.value).splitlines()]
    items = [item for item in items if item and not item.startswith("_")]
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _root_message(error) -> str:
    """What the project said about a failure: the outermost error that is not Dagster's own wrapper
    (a `dagster.Failure`'s description, or a project error such as ExtractError, whose message names
    the file and row). A library exception is shown, with its class, only when no project error
    wraps it."""
    if error is None:
        return "failed"
    while error.cls_name is not None and error.cls_name.startswith("Dagster") and (error.cause or error.context) is not None:
        error = error.cause or error.context
    message = error.message.strip()
    if error.cls_name:
        # "allocation_pipeline.core.ingestion.extracts.ExtractError: gl_lines/...": the class path is noise for a
        # project error or a dagster.Failure; a library error keeps its bare class name.
        path, sep, text = message.partition(": ")
        if sep and path.split(".")[-1] == error.cls_name:
            project = error.cls_name == "Failure" or path.startswith("allocation_pipeline.")
            message = text if project else f"{error.cls_name}: {text}"
    return message


# Metadata that says how many rows a step produced, in order of preference.
ROW_COUNT_KEYS = ("dagster/row_count", "rows_kept", "rows")
# Metadata of the allocating assets naming the runs they stored (created, recalculated, ...).
RUN_LIST_KEYS = ("runs_created", "runs_recalculated", "runs_unchanged", "runs_superseded")


@dataclass
class StepOutcome:
    """One step of a watched Dagster run: `status` is running, succeeded or failed (never-started
    steps are the skipped ones); `rows` is what its materialization said it produced."""

    name: str
    status: str = "running"
    started: float = 0.0
    seconds: float = 0.0
    rows: int | None = None
    quarantined: int = 0
    message: str = ""


@dataclass
class RunWatch:
    """Follows one Dagster run through the instance's event stream (`instance.add_event_listener`):
    steps as they start and end, what each materialized, failures. `on_step(step, event)` is called
    with "start" or "end" for a live display. Everything a run summary says comes from here, so it
    speaks only of this run."""

    steps: list[str]
    on_step: Callable[[StepOutcome, str], None] | None = None
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def __call__(self, record) -> None:
        if not record.is_dagster_event:
            return
        event = record.get_dagster_event()
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_START":
            self.outcomes[step] = outcome = StepOutcome(step, started=record.timestamp)
            self._tell(outcome, "start")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            values = {k: v.value for k, v in materialization.metadata.items()}
            self.metadata[materialization.asset_key.to_user_string()] = values
            outcome = self.outcomes.get(step)
            if outcome is not None:
                outcome.rows = next((int(values[k]) for k in ROW_COUNT_KEYS if isinstance(values.get(k), (int, float))), None)
                outcome.quarantined = int(values.get("rows_quarantined") or 0)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            outcome = self.outcomes.setdefault(step, StepOutcome(step, started=record.timestamp))
            outcome.status = "succeeded" if kind == "STEP_SUCCESS" else "failed"
            outcome.seconds = max(record.timestamp - outcome.started, 0.0)
            failure = failure_of(event)
            if failure is not None:
                self.failures.append(failure)
                outcome.message = failure.split(": ", 1)[-1]
            self._tell(outcome, "end")
        elif kind == "PIPELINE_FAILURE" and not self.failures:
            # The run failed outside any step (e.g. while starting): say so rather than nothing.
            error = getattr(event.event_specific_data, "error", None)
            self.failures.append(f"run: {_root_message(error) if error is not None else event.message or 'failed'}")
        elif kind == "ASSET_CHECK_EVALUATION":
            failure = failure_of(event)
            if failure is not None:
                self.failures.append(failure)
                outcome = self.outcomes.get(step)
                if outcome is not None and not outcome.message:
                    outcome.message = failure

    def _tell(self, outcome: StepOutcome, what: str) -> None:
        if self.on_step is not None:
            self.on_step(outcome, what)

    def failed(self) -> list[str]:
        return [s for s in self.steps if self.outcomes.get(s, StepOutcome(s, status="")).status == "failed"]

    def skipped(self) -> list[str]:
        """Steps that never started: an upstream step or blocking check failed."""
        return [s for s in self.steps if s not in self.outcomes]

    def materialized(self, asset: str) -> bool:
        return asset in self.metadata

    def run_ids(self) -> list[str]:
        """The allocation runs this Dagster run stored or confirmed, and the runs its posting step posted."""
        ids: list[str] = []
        for values in self.metadata.values():
            for key in RUN_LIST_KEYS:
                ids += [i.strip() for i in str(values.get(key, "-")).split(",") if i.strip() not in ("", "-")]
            posted = str(values.get("posted_now_entries", "-"))
            ids += [pair.split("->")[0].strip() for pair in posted.split(",") if "->" in pair]
        return list(dict.fromkeys(ids))


def run_summary(url: str, period: str, watch: RunWatch) -> str:
    """What this Dagster run produced for `period`, as text: quarantined rows of the extracts it read,
    the allocation runs it stored or confirmed, the journal entries of those runs, and which steps
    failed or were skipped. Nothing from an earlier run of the period is shown as this run's."""
    lines = [f"\nPeriod {period}: this run"]
    extracts = {asset: values for asset, values in watch.metadata.items() if "rows_quarantined" in values}
    quarantined = [f"{asset} {int(values['rows_quarantined']):,}" for asset, values in extracts.items() if values["rows_quarantined"]]
    if extracts:
        lines.append("  Quarantined rows: " + (", ".join(quarantined) or "none"))
    else:
        lines.append("  Quarantined rows: no extract was read")
    allocating = [a for a in ("allocation_runs", "multilevel_allocation") if a in watch.steps]
    ids = watch.run_ids()
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as conn:
            runs = runs_for_period(conn, period)
            entries = entries_for_period(conn, period)
    finally:
        engine.dispose()
    runs = runs[runs["run_id"].isin(ids)]
    failed = watch.failed()
    not_done = [a for a in allocating if not watch.materialized(a) or a in failed]
    lines.append(f"  Allocation runs:  {len(runs) or 'none'}" + (f" ({_why(watch, not_done)})" if not_done else ""))
    for run in runs.itertuples():
        entry = f" -> {run.journal_entry_id}" if run.journal_entry_id else ""
        rule = run.rule_id or f"({run.origin})"
        lines.append(f"    {run.run_id}  {run.entity}  {rule:30s} {run.status:10s} {format_money(int(run.total_debit_cents)):>16s} {run.currency}{entry}")
    if watch.materialized("journal_entries") and "journal_entries" not in failed:
        entries = entries[entries["run_id"].isin(ids)]
        total = int(entries["total_debit_cents"].sum()) if not entries.empty else 0
        lines.append(f"  Journal entries:  {len(entries)} (debits = credits on each; total {format_money(total)})")
    elif "journal_entries" in watch.steps:
        lines.append(f"  Journal entries:  none posted ({_why(watch, ['journal_entries'])})")
    return "\n".join(lines)


def _why(watch: RunWatch, steps: list[str]) -> str:
    failed = set(watch.failed())
    return ", ".join(f"{s} {'failed' if s in failed else 'skipped'}" for s in steps)


def steps_report(watch: RunWatch) -> str:
    """Which steps failed (with the reason) and which were skipped, as text; empty when all succeeded."""
    parts = []
    if watch.failures:
        parts += ["\nThe run did not finish cleanly:"] + [f"  - {failure}" for failure in watch.failures]
    skipped = watch.skipped()
    if skipped:
        parts.append(f"Skipped (an upstream step or blocking check failed): {', '.join(skipped)}")
    return "\n".join(parts)


def money_columns(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Cents columns shown as money under new names."""
    out = frame.copy()
    for cents, name in columns.items():
        out[name] = [format_money(int(v)) if pd.notna(v) else "" for v in out.pop(cents)]
    return out


def format_table(frame: pd.DataFrame) -> str:
    """A plain-text table with aligned columns (money and numbers right-aligned)."""
    text = frame.astype("string").fillna("-")
    widths = {c: max(len(str(c)), *(len(v) for v in text[c])) if len(text) else len(str(c)) for c in text.columns}
    number = re.compile(r"^-?[\d,]+(\.\d+)?%?$")
    right = {c for c in text.columns if len(text) and all(number.match(v) for v in text[c] if v != "-")}
    def cell(column, value):
        return value.rjust(widths[column]) if column in right else value.ljust(widths[column])
    lines = ["  ".join(cell(c, str(c)) for c in text.columns).rstrip()]
    lines.append("  ".join("-" * widths[c] for c in text.columns))
    lines += ["  ".join(cell(c, v) for c, v in zip(text.columns, row)).rstrip() for row in text.itertuples(index=False)]
    return "\n".join(lines)


def describe_run(conn: sa.Connection, run_id: str) -> str:
    """A run's details, lines, history and document chain, as text."""
    from allocation_pipeline.warehouse.ledger_store import document_chain, get_run, run_history, run_lines

    run = get_run(conn, run_id)
    lines = run_lines(conn, run_id)
    history = run_history(conn, run_id)
    parts = [
        f"{run.run_id}  {run.status.upper()}",
        f"  entity {run.entity}   period {run.period}   type {run.run_type}   currency {run.currency}",
        f"  produced by {'rule ' + run.rule_id if run.rule_id else run.origin + ' lines'} (method {run.method or '-'}, origin {run.origin})",
        f"  source document {run.source_document or '-'}   journal entry {run.journal_entry_id or '-'}   reversal {run.reversal_entry_id or '-'}",
        f"  debits {format_money(int(run.total_debit_cents))}   credits {format_money(int(run.total_credit_cents))}   Dagster run {run.dagster_run_id or '-'}",
    ]
    if run.notes:
        parts += ["  notes:"] + [f"    {n}" for n in str(run.notes).splitlines()]
    shown = money_columns(lines, {"debit_cents": "debit", "credit_cents": "credit"})
    shown["share"] = [f"{s:.4%}" if pd.notna(s) else "" for s in shown["share"]]
    shown["driver_value"] = [f"{v:,.2f}" if pd.notna(v) else "" for v in shown["driver_value"]]
    parts += ["", "Lines", format_table(shown[["line_no", "role", "account", "cost_center", "product", "region", "debit", "credit", "driver", "driver_value", "share"]])]
    history = history.assign(reversed=["reversed" if r else "" for r in history["reversed"]])
    parts += ["", "History", format_table(history[["seq", "from_status", "to_status", "changed_at", "changed_by", "reason", "reversed"]])]
    parts += ["", "Document chain", describe_chain(conn, run_id)]
    return "\n".join(parts)


def describe_chain(conn: sa.Connection, document_id: str) -> str:
    """Every document linked to `document_id`, both directions, one link per line."""
    from allocation_pipeline.warehouse.ledger_store import document_chain

    chain = document_chain(conn, document_id)
    if chain.empty:
        return f"  {document_id}: no linked documents"
    words = {"allocated_by": "allocated by", "posted_as": "posted as", "reversed_by": "reversed by"}
    return "\n".join(
        f"  {r.from_document} ({r.from_type.replace('_', ' ')}) -> {words.get(r.link_type, r.link_type)} -> {r.to_document} ({r.to_type.replace('_', ' ')})"
        for r in chain.itertuples()
    )
