"""Plain-text summaries of a period and of a Dagster run, for the command line."""

from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.money import format_money
from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine, sql_text
from allocation_pipeline.warehouse.ledger_store import entries_for_period


def period_summary(url: str, period: str) -> str:
    """Quarantine counts, allocation runs and journal entries of one period, as text."""
    engine = make_engine(url)
    ensure_schema(engine)
    try:
        with engine.connect() as conn:
            quarantine = read_frame(conn, sql_text("select_quarantine_summary"))
            runs = read_frame(conn, sql_text("select_runs_for_period"), {"period": period})
            entries = entries_for_period(conn, period)
    finally:
        engine.dispose()
    quarantine = quarantine[quarantine["partition_key"].isin(["", period])]
    lines = [f"\nPeriod {period}"]
    lines.append("  Quarantined rows: " + (", ".join(f"{r.extract} {r.rows_quarantined}" for r in quarantine.itertuples()) or "none"))
    lines.append(f"  Allocation runs:  {len(runs)}")
    for run in runs.itertuples():
        entry = f" -> {run.journal_entry_id}" if isinstance(run.journal_entry_id, str) else ""
        lines.append(f"    {run.run_id}  {run.entity}  {run.rule_id or '-':30s} {run.status:10s} {format_money(int(run.total_debit_cents)):>16s} {run.currency}{entry}")
    total = int(entries["total_debit_cents"].sum()) if not entries.empty else 0
    lines.append(f"  Journal entries:  {len(entries)} (debits = credits on each; total {format_money(total)})")
    return "\n".join(lines)


def run_failures(result) -> list[str]:
    """Readable failures of an in-process Dagster run: failed steps and failed blocking checks."""
    failures = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            failures.append(f"{event.step_key}: {_root_message(event.step_failure_data.error)}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity.value == "ERROR":
                failures.append(f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed")
    return failures


def _root_message(error) -> str:
    """What the asset said: a dagster.Failure's description, else the innermost error's message."""
    if error is None:
        return "failed"
    while error.cls_name != "Failure" and error.cause is not None:
        error = error.cause
    message = error.message.strip()
    if error.cls_name == "Failure":
        message = message.split(": ", 1)[-1]
    return message


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
