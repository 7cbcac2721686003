"""Allocation runs, their history and journal entries in the warehouse.

Every function takes a connection inside the caller's transaction, so a caller that fails
half-way leaves the ledger exactly as it was. Status changes are compare-and-set updates
(`WHERE status = :from_status`), so two writers racing on one run change it once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.allocation.allocate import RunDraft
from allocation_pipeline.core.ledger.lifecycle import LifecycleError, check_transition, journal_lines, transaction_type
from allocation_pipeline.core.allocation.rules import RUN_TYPES
from allocation_pipeline.core.ingestion.schemas import PERIOD_PATTERN
from allocation_pipeline.core.ledger.submission import Submission, SubmissionError
from allocation_pipeline.core.money import cents_to_decimal, format_money
from allocation_pipeline.core.ledger.validation import (
    SUBMITTED_TOLERANCE_CENTS,
    DocumentContext,
    RunToValidate,
    ValidationError,
    validate_run,
)
from allocation_pipeline.warehouse.bulk import bulk_insert, read_frame
from allocation_pipeline.warehouse.engine import sql_text
from allocation_pipeline.warehouse.lines import LineEngine, document_gl_amounts, ledger_lines
from allocation_pipeline.warehouse.people_store import enforce_four_eyes

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
    held: list[str] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)  # rule id @ entity -> run id


def store_pipeline_runs(
    conn: sa.Connection,
    period: str,
    drafts: list[RunDraft],
    approvals: dict[str, object],
    dagster_run_id: str | None,
    origin: str = PIPELINE,
    flags: dict[str, list[str]] | None = None,
    owners: dict[str, str] | None = None,
) -> StoreOutcome:
    """Replace what one producer (`origin`: the rules asset, the multi-level asset, ...) computed
    for `period` with `drafts`, never touching posted runs or other producers' runs.

    A run still `calculated` is recalculated in place (same id) or left alone if unchanged; an
    approved or posted run whose recomputation differs is refused with a message to void it
    first; a rule that no longer yields a run rejects its calculated run as superseded.
    `approvals` maps a rule id to its ApprovalPolicy; `flags` maps a rule id to the anomaly
    flags (sentences) of its run, which withhold auto-approval where the policy says so.
    `owners` maps a rule id to its owner, who is recorded as the preparer of a new run (four-eyes).
    """
    existing = runs_for_period(conn, period)
    existing = existing[(existing["origin"] == origin) & existing["status"].isin(["draft", "calculated", "approved", "posted"])]
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
            owner = (owners or {}).get(draft.rule_id)
            run_id = _insert_run(
                conn, draft, dagster_run_id, when, origin=origin, created_by=owner or PIPELINE,
                reason=f"created by rule {draft.rule_id}" + (f" (owner {owner}) in the pipeline" if owner else ""),
            )
            outcome.created.append(run_id)
        outcome.run_ids[f"{draft.rule_id}@{draft.entity}"] = run_id
        policy = approvals.get(draft.rule_id)
        raised = (flags or {}).get(draft.rule_id) or []
        if policy is not None and policy.auto_approves(draft.total_debit_cents) and raised and policy.unless_flagged:
            reason = f"auto-approval withheld: {len(raised)} anomaly flag(s): " + "; ".join(raised)
            record_transition(conn, run_id, "calculated", "calculated", "policy:auto", reason[:2000], now())
            outcome.held.append(run_id)
        elif policy is not None and policy.auto_approves(draft.total_debit_cents):
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


def _insert_run(
    conn: sa.Connection,
    draft: RunDraft,
    dagster_run_id: str | None,
    when: dt.datetime,
    origin: str = PIPELINE,
    created_by: str = PIPELINE,
    reason: str | None = None,
) -> str:
    (number,) = next_ids(conn, RUN_ID_COUNTER)
    run_id = format_run_id(number)
    conn.execute(
        sql_text("insert_allocation_run"),
        {
            "run_id": run_id, "run_number": number, "entity": draft.entity, "period": draft.period,
            "run_type": draft.run_type, "rule_id": draft.rule_id or None, "origin": origin,
            "source_document": draft.source_document, "status": "draft", "dagster_run_id": dagster_run_id,
            "now": when, **_run_values(draft),
        },
    )
    record_transition(conn, run_id, None, "draft", created_by, reason or f"created by rule {draft.rule_id}", when)
    bulk_insert(conn, "allocation_lines", _line_rows(run_id, draft.lines))
    if draft.source_document:
        link(conn, draft.source_document, "source_document", run_id, "allocation_run", "allocated_by", when)
    change_status(conn, run_id, "draft", "calculated", created_by, f"{len(draft.lines)} lines calculated and validated")
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


def post_approved_runs(
    conn: sa.Connection, period: str, posted_by: str, dagster_run_id: str | None, run_ids: list[str] | None = None
) -> list[PostedEntry]:
    """Post the approved runs of `period` (or just `run_ids`): one balanced journal entry each,
    all or nothing.

    Refuses (and posts nothing) when any run's fiscal period is closed or unknown, a run does
    not balance, or `posted_by` prepared one of the runs (four-eyes rule). A run is claimed (approved -> posted) before its entry is numbered, so a run
    another writer posted first is skipped, never posted twice.
    """
    runs = read_frame(conn, sql_text("select_runs_with_status"), {"period": period, "status": "approved"})
    if run_ids is not None:
        runs = runs[runs["run_id"].isin(run_ids)]
    for run_id in runs["run_id"]:
        enforce_four_eyes(conn, run_id, posted_by, "post")
    problems = []
    fiscal_periods = {}
    for run in runs.itertuples(index=False):
        fiscal = conn.execute(sql_text("select_fiscal_period"), {"entity": run.entity, "period": run.period}).first()
        if fiscal is None:
            problems.append(f"{run.run_id}: fiscal period {run.period} of entity {run.entity} is unknown")
        elif fiscal.status != "open":
            problems.append(f"{run.run_id}: fiscal period {run.period} of entity {run.entity} is {fiscal.status}; posting refused")
        fiscal_periods[run.run_id] = fiscal
        if run.run_type not in RUN_TYPES:
            problems.append(f"{run.run_id}: run type '{run.run_type}' has no transaction type; reject it")
    if problems:
        raise PostingError("; ".join(problems))
    posted: list[PostedEntry] = []
    for run in runs.itertuples(index=False):
        lines = run_lines(conn, run.run_id)
        debit, credit = int(lines["debit_cents"].sum()), int(lines["credit_cents"].sum())
        if debit != credit or len(lines) < 2:
            raise PostingError(f"{run.run_id}: lines do not balance (debits {format_money(debit)}, credits {format_money(credit)}); nothing posted")
        when = now()
        claimed = conn.execute(sql_text("update_run_posted"), {"run_id": run.run_id, "now": when}).rowcount
        if claimed != 1:
            continue  # another writer posted it between our read and our update
        entry_id = _write_entry(
            conn, run.entity, run.period, fiscal_periods[run.run_id].end_date, transaction_type(run.run_type), run.currency,
            run.run_id, None, f"Allocation {run.run_id} ({run.rule_id or 'submitted'})", journal_lines(lines), dagster_run_id, when,
        )
        conn.execute(sql_text("update_run_journal_entry"), {"run_id": run.run_id, "entry_id": entry_id})
        record_transition(conn, run.run_id, "approved", "posted", posted_by, f"posted as {entry_id}", when)
        link(conn, run.run_id, "allocation_run", entry_id, "journal_entry", "posted_as", when)
        posted.append(PostedEntry(run.run_id, entry_id, run.entity, run.rule_id, debit))
    return posted


def _write_entry(
    conn: sa.Connection, entity: str, period: str, posting_date, txn_type: str, currency: str, run_id: str,
    reverses: str | None, description: str, lines: pd.DataFrame, dagster_run_id: str | None, when: dt.datetime,
) -> str:
    (number,) = next_ids(conn, f"journal_entry:{entity}")
    entry_id = format_entry_id(entity, number)
    conn.execute(
        sql_text("insert_journal_entry"),
        {
            "entry_id": entry_id, "entity": entity, "period": period, "posting_date": posting_date,
            "transaction_type": txn_type, "currency": currency, "run_id": run_id, "reverses_entry_id": reverses,
            "description": description, "total_debit": cents_to_decimal(int(lines["debit_cents"].sum())),
            "total_credit": cents_to_decimal(int(lines["credit_cents"].sum())), "dagster_run_id": dagster_run_id, "now": when,
        },
    )
    rows = lines.copy()
    rows.insert(0, "entry_id", entry_id)
    for column in ("product", "region", "description"):
        rows[column] = rows[column].astype("string")
    bulk_insert(conn, "journal_lines", rows)
    return entry_id


def link(conn: sa.Connection, from_document: str, from_type: str, to_document: str, to_type: str, link_type: str, when: dt.datetime) -> None:
    conn.execute(
        sql_text("insert_document_link"),
        {"from_document": from_document, "from_type": from_type, "to_document": to_document, "to_type": to_type, "link_type": link_type, "now": when},
    )


def unbalanced_entries(conn: sa.Connection, period: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_unbalanced_entries"), {"period": period})


def entries_for_period(conn: sa.Connection, period: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_entries_for_period"), {"period": period})


# --- reading runs --------------------------------------------------------------------------------


class RunNotFound(LookupError):
    """No allocation run with that id."""


def get_run(conn: sa.Connection, run_id: str):
    """The run's row (a SQLAlchemy Row with cents columns), or RunNotFound."""
    row = conn.execute(sql_text("select_run"), {"run_id": run_id}).first()
    if row is None:
        raise RunNotFound(f"no allocation run {run_id}")
    return row


def run_history(conn: sa.Connection, run_id: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_run_history"), {"run_id": run_id})


def list_runs(conn: sa.Connection, entity: str | None = None, status: str | None = None, run_type: str | None = None, period: str | None = None) -> pd.DataFrame:
    return _missing_text_as_none(read_frame(conn, sql_text("select_runs"), {"entity": entity, "status": status, "run_type": run_type, "period": period}))


def runs_for_period(conn: sa.Connection, period: str) -> pd.DataFrame:
    """Every run of the fiscal month, by run number; a missing text (a submitted run has no rule id,
    an unposted one no journal entry) is None, never NaN."""
    return _missing_text_as_none(read_frame(conn, sql_text("select_runs_for_period"), {"period": period}))


def _missing_text_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Some drivers read a NULL in a text column back as NaN, a float that is truthy and breaks
    string formatting; runs read back carry None instead."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) or pd.api.types.is_object_dtype(out[column]):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def periods_with_approved_runs(conn: sa.Connection) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_periods_with_approved_runs"))


# --- approval and rejection -----------------------------------------------------------------------


def approve_run(conn: sa.Connection, run_id: str, by: str, reason: str | None = None) -> None:
    """Approve a calculated run; refused (FourEyesError) when `by` prepared it."""
    run = get_run(conn, run_id)
    check_transition(run_id, run.status, "approved")
    enforce_four_eyes(conn, run_id, by, "approve")
    change_status(conn, run_id, run.status, "approved", by, reason or "approved")


def reject_run(conn: sa.Connection, run_id: str, by: str, reason: str) -> None:
    if not reason or not reason.strip():
        raise LifecycleError(f"{run_id}: a rejection needs a reason")
    run = get_run(conn, run_id)
    change_status(conn, run_id, run.status, "rejected", by, reason)


def post_run(conn: sa.Connection, run_id: str, by: str, dagster_run_id: str | None = None) -> PostedEntry:
    """Post one approved run now (the pipeline and the sensor post whole periods)."""
    run = get_run(conn, run_id)
    check_transition(run_id, run.status, "posted")
    enforce_four_eyes(conn, run_id, by, "post")
    posted = post_approved_runs(conn, run.period, posted_by=by, dagster_run_id=dagster_run_id, run_ids=[run_id])
    if not posted:
        raise LifecycleError(f"{run_id}: is no longer approved (posted by another writer); nothing done")
    return posted[0]


# --- voiding --------------------------------------------------------------------------------------


def void_run(conn: sa.Connection, run_id: str, by: str, reason: str, period: str | None = None, dagster_run_id: str | None = None) -> str:
    """Reverse a posted run: a reversing entry (debits and credits swapped) in the run's period,
    or in `period` when given; the posting is marked reversed in the history; the run becomes
    voided, which frees its source amounts. Returns the reversing entry's id."""
    if not reason or not reason.strip():
        raise LifecycleError(f"{run_id}: voiding needs a reason")
    run = get_run(conn, run_id)
    check_transition(run_id, run.status, "voided")
    target_period = period or run.period
    fiscal = conn.execute(sql_text("select_fiscal_period"), {"entity": run.entity, "period": target_period}).first()
    if fiscal is None:
        raise PostingError(f"{run_id}: fiscal period {target_period} of entity {run.entity} is unknown; nothing voided")
    if fiscal.status != "open":
        raise PostingError(
            f"{run_id}: fiscal period {target_period} of entity {run.entity} is {fiscal.status}; "
            "give an open period for the reversing entry (--period YYYY-MM); nothing voided"
        )
    original = conn.execute(sql_text("select_journal_entry"), {"entry_id": run.journal_entry_id}).first()
    lines = read_frame(conn, sql_text("select_journal_lines"), {"entry_id": run.journal_entry_id})
    reversed_lines = lines.rename(columns={"debit_cents": "credit_cents", "credit_cents": "debit_cents"})[lines.columns]
    when = now()
    claimed = conn.execute(sql_text("update_run_voided"), {"run_id": run_id, "reversal_entry_id": None, "now": when}).rowcount
    if claimed != 1:
        raise LifecycleError(f"{run_id}: is no longer posted (changed by another writer); nothing done")
    reversal = _write_entry(
        conn, run.entity, target_period, fiscal.end_date, original.transaction_type, run.currency, run_id,
        run.journal_entry_id, f"Reversal of {run.journal_entry_id} (void of {run_id}): {reason}", reversed_lines.astype(
            {"debit_cents": "int64", "credit_cents": "int64"}
        ), dagster_run_id, when,
    )
    conn.execute(sql_text("update_run_voided_entry"), {"run_id": run_id, "reversal_entry_id": reversal})
    conn.execute(sql_text("update_history_reversed"), {"run_id": run_id})
    record_transition(conn, run_id, "posted", "voided", by, f"{reason} (reversed by {reversal})", when)
    link(conn, run.journal_entry_id, "journal_entry", reversal, "journal_entry", "reversed_by", when)
    return reversal


# --- source documents -----------------------------------------------------------------------------


def document_context(
    conn: sa.Connection,
    document_id: str,
    exclude_run_id: str | None = None,
    recomputed_period: str | None = None,
    lines: LineEngine | None = None,
) -> DocumentContext | None:
    """What the ledger knows of a source document: its accounts and amounts on the GL lines (read
    from the engine: `lines`, default the one behind the ledger, see `ledger_lines`), and what runs
    that are not voided (or rejected) took from each account. `recomputed_period` leaves out the
    pipeline's runs of that month, which the caller is computing again. None when the document has
    no GL lines in the warehouse."""
    amounts = document_header(conn, document_id, lines)
    if amounts.empty:
        return None
    allocations = read_frame(
        conn,
        sql_text("select_document_allocations"),
        {"document_id": document_id, "exclude_run_id": exclude_run_id or "", "recomputed_period": recomputed_period},
    )
    by_account = {str(r.account): abs(int(r.debit_cents) - int(r.credit_cents)) for r in amounts.itertuples()}
    allocations = allocations.astype({"cents": "int64"}) if not allocations.empty else pd.DataFrame({"run_id": [], "account": [], "cents": []})
    return DocumentContext(document_id=document_id, amounts=by_account, allocations=allocations)


def document_source(conn: sa.Connection, document_id: str, period: str, gl_lines: pd.DataFrame, lines: LineEngine | None = None):
    """A DocumentSource for a document-linked rule of `period`: the document's lines in that
    month's GL, and what runs other than the pipeline's of that month took from each account.
    None when the month's GL does not hold the document (the rule runs in the month that does)."""
    from allocation_pipeline.core.allocation.allocate import DocumentSource, document_lines

    own = document_lines(gl_lines, document_id)
    if own is None:
        return None
    context = document_context(conn, document_id, recomputed_period=period, lines=lines)
    allocated = {} if context is None else {a: context.allocated(a)[0] for a in context.amounts}
    return DocumentSource(document_id=document_id, lines=own, allocated=allocated)


def document_header(conn: sa.Connection, document_id: str, lines: LineEngine | None = None) -> pd.DataFrame:
    """The document's GL amounts per account with its entity and period (empty if unknown), from
    the engine (`lines`, default the one behind the ledger `conn`)."""
    with ledger_lines(conn, lines) as engine:
        return document_gl_amounts(engine, document_id)


# --- submitted runs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    """Either a run id (status calculated, or approved by policy) or the full list of errors.
    `draft` is the run as submitted (None when submit_run was called with one)."""

    run_id: str | None
    errors: list[ValidationError]
    notes: tuple[str, ...] = ()
    draft: RunDraft | None = None


def submit_submission(
    conn: sa.Connection,
    submission: Submission,
    submitted_by: str,
    source_name: str,
    source_document: str | None = None,
    entity: str | None = None,
    period: str | None = None,
    run_type: str | None = None,
) -> SubmitResult:
    """Submit lines read from a file (`allocation submit`, the console's upload) or given by an
    agent (the MCP server): the arguments fill what the submission leaves out, a source document
    the warehouse knows gives entity and period, then `submit_run` validates and stores.

    Raises SubmissionError when the run cannot even be formed (no entity or period, an entity
    the warehouse does not know); validation problems come back in the result's `errors`."""
    header = submission.header
    document = source_document or header.get("source_document")
    entity, period = entity or header.get("entity"), period or header.get("period")
    if document:
        known = document_header(conn, document)
        if not known.empty:
            entity = entity or str(known["entity"].iloc[0])
            period = period or str(known["period"].iloc[0])
    if not entity or not period:
        raise SubmissionError(["give the run's entity and period (or a source document the warehouse knows)"])
    row = conn.execute(sql_text("select_entity"), {"entity": entity}).first()
    if row is None:
        raise SubmissionError([f"entity {entity} is not in the warehouse (run the pipeline for a period first)"])
    lines = submission.lines
    sources = lines[lines["role"] == "source"]
    draft = RunDraft(
        rule_id="", entity=entity, period=period, run_type=run_type or header.get("type", "cost_allocation"),
        method="submitted", currency=row.currency,
        pool_cents=int((sources["credit_cents"] - sources["debit_cents"]).sum()),
        lines=lines, notes=tuple(n for n in [header.get("description")] if n), source_document=document,
    )
    accounts = read_frame(conn, sql_text("select_accounts"))
    result = submit_run(conn, draft, accounts, submitted_by=submitted_by, source_name=source_name)
    return SubmitResult(result.run_id, result.errors, result.notes, draft)


def submit_run(
    conn: sa.Connection,
    draft: RunDraft,
    accounts: pd.DataFrame,
    submitted_by: str,
    source_name: str,
    tolerance_cents: int = SUBMITTED_TOLERANCE_CENTS,
) -> SubmitResult:
    """Validate lines submitted from outside and store them as a calculated run; nothing is
    written when any validation fails. A difference within the tolerance (0.01) is settled on the
    largest target line, so the posted entry balances exactly (see `_absorb_rounding`)."""
    document = None
    errors: list[ValidationError] = []
    if draft.source_document:
        document = document_context(conn, draft.source_document)
        if document is None:
            errors.append(ValidationError("submission", "document", f"Source document {draft.source_document} has no GL lines in the warehouse."))
    if draft.run_type not in RUN_TYPES:
        errors.append(ValidationError("submission", "type", f"Run type '{draft.run_type}' is not one of {', '.join(RUN_TYPES)}."))
    if not re.fullmatch(PERIOD_PATTERN, draft.period or ""):
        errors.append(ValidationError("submission", "period", f"Period '{draft.period}' is not a fiscal month YYYY-MM."))
    if draft.source_document and document is not None:
        entities = set(document_header(conn, draft.source_document)["entity"].astype(str))
        if draft.entity not in entities:
            errors.append(
                ValidationError("submission", "document", f"Source document {draft.source_document} belongs to entity {', '.join(sorted(entities))}, not {draft.entity}.")
            )
    # The tolerated difference is settled first, on a target line, so validation sees what is stored.
    within = abs(draft.total_debit_cents - draft.total_credit_cents) <= tolerance_cents
    checked, notes = _absorb_rounding(draft) if within else (draft, ())
    errors += validate_run(RunToValidate("submission", checked.lines, accounts, tolerance_cents=tolerance_cents, document=document))
    if errors:
        return SubmitResult(None, errors)
    draft = checked
    run_id = _insert_run(
        conn, draft, None, now(), origin="submitted", created_by=submitted_by,
        reason=f"submitted by {submitted_by} from {source_name}",
    )
    return SubmitResult(run_id, [], notes)


def _absorb_rounding(draft: RunDraft) -> tuple[RunDraft, tuple[str, ...]]:
    """Settle a difference within the tolerance on the largest target line, whichever side is
    lighter: the source lines state the amount taken from the pool or document (which its remaining
    balance limits), so they stay as submitted and the targets' split absorbs the cent."""
    difference = draft.total_debit_cents - draft.total_credit_cents
    if difference == 0:
        return draft, ()
    lines = draft.lines.copy()
    targets = lines[lines["role"] == "target"]
    if targets.empty:
        return draft, ()
    index = (targets["debit_cents"] + targets["credit_cents"]).idxmax()
    if lines.loc[index, "debit_cents"] > 0:
        lines.loc[index, "debit_cents"] -= difference
    else:
        lines.loc[index, "credit_cents"] += difference
    note = f"rounding difference of {format_money(abs(difference))} settled on line {int(lines.loc[index, 'line_no'])}"
    return RunDraft(**{**draft.__dict__, "lines": lines, "notes": tuple(draft.notes) + (note,)}), (note,)


# --- the document chain ---------------------------------------------------------------------------


def document_chain(conn: sa.Connection, document_id: str) -> pd.DataFrame:
    """Every link reachable from `document_id`, in both directions (source document -> run ->
    entry -> reversal), as rows from_document, from_type, to_document, to_type, link_type."""
    seen_documents = {document_id}
    frontier = [document_id]
    links: dict[tuple, dict] = {}
    while frontier:
        current = frontier.pop()
        for row in read_frame(conn, sql_text("select_links_of_document"), {"document_id": current}).to_dict("records"):
            links[(row["from_document"], row["to_document"], row["link_type"])] = row
            for neighbour in (row["from_document"], row["to_document"]):
                if neighbour not in seen_documents:
                    seen_documents.add(neighbour)
                    frontier.append(neighbour)
    order = {"allocated_by": 0, "posted_as": 1, "reversed_by": 2}
    rows = sorted(links.values(), key=lambda r: (order.get(r["link_type"], 9), r["from_document"], r["to_document"]))
    return pd.DataFrame(rows, columns=["from_document", "from_type", "to_document", "to_type", "link_type"])
