"""Plain-text summaries of a period and of a Dagster run, for the command line."""

from __future__ import annotations

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
