"""Allocation runs, their history and journal entries in the warehouse.

Every function takes a connection inside the caller's transaction, so a caller that fails
half-way leaves the ledger exactly as it was. Status changes are compare-and-set updates
(`WHERE status = :from_status`), so two writers racing on one run change it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.allocation import RunDraft
from allocation_pipeline.core.ledger import LifecycleError, check_transition, journal_lines, transaction_type
from allocation_pipeline.core.money import cents_to_decimal, format_money
from allocation_pipeline.warehouse.bulk import bulk_insert, read_frame
from allocation_pipeline.warehouse.engine import sql_text

RUN_ID_COUNTER = "allocation_run"
PIPELINE = "pipeline"


class PostingError(RuntimeError):
    """Runs that cannot be stored or posted; the message names each run and what is wrong."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def next_ids(conn: sa.Connection, counter: str, count: int = 1) -> list[int]:
    """Reserve `count` consecutive numbers of a named counter (atomic on every backend)."""
    last = conn.execute(sql_text("upsert_id_counter"), {"name": counter, "count": count}).scalar_one()
    return list(range(last - count + 1, last + 1))


def format_run_id(number: int) -> str:
    return f"ALLOC-{number:04d}"


def format_entry_id(entity: str, number: int) -> str:
    return f"{entity}-CAL{number:06d}"


def record_transition(
    conn: sa.Connection, run_id: str, from_status: str | None, to_status: str, by: str, reason: str | None, when: dt.datetime
) -> None:
    conn.execute(
        sql_text("insert_run_history"),
        {"run_id": run_id, "from_status": from_status, "to_status": to_status, "changed_by": by, "reason": reason, "now": when},
    )


def change_status(conn: sa.Connection, run_id: str, current: str, new: str, by: str, reason: str | None = None) -> None:
    """Move a run along the lifecycle; refuses illegal moves and moves that lost a race."""
    check_transition(run_id, current, new)
    when = now()
    changed = conn.execute(sql_text("update_run_status"), {"run_id": run_id, "from_status": current, "to_status": new, "now": when}).rowcount
    if changed != 1:
        raise LifecycleError(f"{run_id}: is no longer {current} (changed by another writer); nothing done")
    record_transition(conn, run_id, current, new, by, reason, when)


@dataclass
class StoreOutcome:
    """What storing a period's pipeline runs did, run by run."""

    created: list[str] = field(default_factory=list)
    recalculated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)  # rule id @ entity -> run id


def store_pipeline_runs(
    conn: sa.Connection, period: str, drafts: list[RunDraft], approvals: dict[str, object], dagster_run_id: str | None
) -> StoreOutcome:
    """Replace what the pipeline computed for `period` with `drafts`, never touching posted runs.

    A run still `calculated` is recalculated in place (same id) or left alone if unchanged; an
    approved or posted run whose recomputation differs is refused with a message to void it
    first; a rule that no longer yields a run rejects its calculated run as superseded.
    `approvals` maps a rule id to its ApprovalPolicy.
    """
    existing = read_frame(conn, sql_text("select_runs_for_period"), {"period": period})
    existing = existing[(existing["origin"] == PIPELINE) & existing["status"].isin(["draft", "calculated", "approved", "posted"])]
    by_rule = {(r.rule_id, r.entity): r for r in existing.itertuples(index=False)}
    outcome = StoreOutcome()
    conflicts: list[str] = []
    when = now()
    produced = set()
    for draft in drafts:
        key = (draft.rule_id, draft.entity)
        produced.add(key)
        old = by_rule.get(key)
        if old is not None and old.fingerprint == draft.fingerprint:
            outcome.unchanged.append(old.run_id)
            outcome.run_ids[f"{draft.rule_id}@{draft.entity}"] = old.run_id
            continue
        if old is not None and old.status in ("approved", "posted"):
            where = f" as {old.journal_entry_id}" if old.journal_entry_id else ""
            conflicts.append(
                f"{old.run_id} (rule {draft.rule_id}, {draft.entity} {period}) is {old.status}{where} and its recomputed "
                f"lines differ; void it first (allocation void {old.run_id} --by NAME --reason ...)"
            )
            continue
        if old is not None:
            _replace_lines(conn, old.run_id, draft, dagster_run_id, when)
            record_transition(conn, old.run_id, "calculated", "calculated", PIPELINE, f"recalculated: lines changed (Dagster run {dagster_run_id})", when)
            outcome.recalculated.append(old.run_id)
            run_id = old.run_id
        else:
            run_id = _insert_run(conn, draft, dagster_run_id, when)
            outcome.created.append(run_id)
        outcome.run_ids[f"{draft.rule_id}@{draft.entity}"] = run_id
        policy = approvals.get(draft.rule_id)
        if policy is not None and policy.auto_approves(draft.total_debit_cents):
            limit = "any amount" if policy.max_amount_cents is None else f"limit {format_money(policy.max_amount_cents)}"
            change_status(conn, run_id, "calculated", "approved", "policy:auto", f"auto-approved by rule policy ({limit})")
            outcome.approved.append(run_id)
    for key, old in by_rule.items():
        if key in produced:
            continue
        if old.status in ("approved", "posted"):
            conflicts.append(f"{old.run_id} (rule {old.rule_id}, {old.entity} {period}) is {old.status} but the rule no longer yields a run; void it first")
        elif old.status == "calculated":
            change_status(conn, old.run_id, "calculated", "rejected", PIPELINE, "superseded: the rule no longer yields a run for this period")
            outcome.superseded.append(old.run_id)
    if conflicts:
        raise PostingError("; ".join(conflicts))
    return outcome


def _run_values(draft: RunDraft) -> dict:
    return {
        "pool_amount": cents_to_decimal(draft.pool_cents),
        "total_debit": cents_to_decimal(draft.total_debit_cents),
        "total_credit": cents_to_decimal(draft.total_credit_cents),
        "fingerprint": draft.fingerprint,
        "notes": "\n".join(draft.notes) or None,
        "method": draft.method,
        "currency": draft.currency,
    }


def _insert_run(conn: sa.Connection, draft: RunDraft, dagster_run_id: str | None, when: dt.datetime) -> str:
    (number,) = next_ids(conn, RUN_ID_COUNTER)
    run_id = format_run_id(number)
    conn.execute(
        sql_text("insert_allocation_run"),
        {
            "run_id": run_id, "run_number": number, "entity": draft.entity, "period": draft.period,
            "run_type": draft.run_type, "rule_id": draft.rule_id, "origin": PIPELINE,
            "source_document": draft.source_document, "status": "draft", "dagster_run_id": dagster_run_id,
            "now": when, **_run_values(draft),
        },
    )
    record_transition(conn, run_id, None, "draft", PIPELINE, f"created by rule {draft.rule_id}", when)
    bulk_insert(conn, "allocation_lines", _line_rows(run_id, draft.lines))
    change_status(conn, run_id, "draft", "calculated", PIPELINE, f"{len(draft.lines)} lines calculated")
    return run_id


def _replace_lines(conn: sa.Connection, run_id: str, draft: RunDraft, dagster_run_id: str | None, when: dt.datetime) -> None:
    conn.execute(sql_text("delete_allocation_lines"), {"run_id": run_id})
    bulk_insert(conn, "allocation_lines", _line_rows(run_id, draft.lines))
    conn.execute(sql_text("update_run_recalculated"), {"run_id": run_id, "dagster_run_id": dagster_run_id, "now": when, **_run_values(draft)})


def _line_rows(run_id: str, lines: pd.DataFrame) -> pd.DataFrame:
    rows = lines.copy()
    rows.insert(0, "run_id", run_id)
    for column in ("product", "region", "driver", "explanation"):
        rows[column] = rows[column].astype("string")
    return rows


def run_lines(conn: sa.Connection, run_id: str) -> pd.DataFrame:
    lines = read_frame(conn, sql_text("select_run_lines"), {"run_id": run_id})
    return lines.astype({"debit_cents": "int64", "credit_cents": "int64"})


@dataclass(frozen=True)
class PostedEntry:
    run_id: str
    entry_id: str
    entity: str
    rule_id: str | None
    total_cents: int


def post_approved_runs(conn: sa.Connection, period: str, posted_by: str, dagster_run_id: str | None) -> list[PostedEntry]:
    """Post every approved run of `period`: one balanced journal entry each, all or nothing.

    Refuses (and posts nothing) when any run's fiscal period is closed or unknown, or a run
    does not balance. A run another writer posted first is skipped, never posted twice.
    """
    runs = read_frame(conn, sql_text("select_runs_with_status"), {"period": period, "status": "approved"})
    problems = []
    for run in runs.itertuples(index=False):
        fiscal = conn.execute(sql_text("select_fiscal_period"), {"entity": run.entity, "period": run.period}).first()
        if fiscal is None:
            problems.append(f"{run.run_id}: fiscal period {run.period} of entity {run.entity} is unknown")
        elif fiscal.status != "open":
            problems.append(f"{run.run_id}: fiscal period {run.period} of entity {run.entity} is {fiscal.status}; posting refused")
    if problems:
        raise PostingError("; ".join(problems))
    posted: list[PostedEntry] = []
    for run in runs.itertuples(index=False):
        lines = run_lines(conn, run.run_id)
        debit, credit = int(lines["debit_cents"].sum()), int(lines["credit_cents"].sum())
        if debit != credit or len(lines) < 2:
            raise PostingError(f"{run.run_id}: lines do not balance (debits {format_money(debit)}, credits {format_money(credit)}); nothing posted")
        fiscal = conn.execute(sql_text("select_fiscal_period"), {"entity": run.entity, "period": run.period}).first()
        (number,) = next_ids(conn, f"journal_entry:{run.entity}")
        entry_id = format_entry_id(run.entity, number)
        when = now()
        claimed = conn.execute(sql_text("update_run_posted"), {"run_id": run.run_id, "entry_id": entry_id, "now": when}).rowcount
        if claimed != 1:
            continue  # another writer posted it between our read and our update
        record_transition(conn, run.run_id, "approved", "posted", posted_by, f"posted as {entry_id}", when)
        conn.execute(
            sql_text("insert_journal_entry"),
            {
                "entry_id": entry_id, "entity": run.entity, "period": run.period, "posting_date": fiscal.end_date,
                "transaction_type": transaction_type(run.run_type), "currency": run.currency, "run_id": run.run_id,
                "reverses_entry_id": None, "description": f"Allocation {run.run_id} ({run.rule_id or 'submitted'})",
                "total_debit": cents_to_decimal(debit), "total_credit": cents_to_decimal(credit),
                "dagster_run_id": dagster_run_id, "now": when,
            },
        )
        entry_lines = journal_lines(lines)
        entry_lines.insert(0, "entry_id", entry_id)
        for column in ("product", "region", "description"):
            entry_lines[column] = entry_lines[column].astype("string")
        bulk_insert(conn, "journal_lines", entry_lines)
        link(conn, run.run_id, "allocation_run", entry_id, "journal_entry", "posted_as", when)
        if run.source_document:
            link(conn, run.source_document, "source_document", run.run_id, "allocation_run", "allocated_by", when)
        posted.append(PostedEntry(run.run_id, entry_id, run.entity, run.rule_id, debit))
    return posted


def link(conn: sa.Connection, from_document: str, from_type: str, to_document: str, to_type: str, link_type: str, when: dt.datetime) -> None:
    conn.execute(
        sql_text("insert_document_link"),
        {"from_document": from_document, "from_type": from_type, "to_document": to_document, "to_type": to_type, "link_type": link_type, "now": when},
    )


def unbalanced_entries(conn: sa.Connection, period: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_unbalanced_entries"), {"period": period})


def entries_for_period(conn: sa.Connection, period: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_entries_for_period"), {"period": period})
