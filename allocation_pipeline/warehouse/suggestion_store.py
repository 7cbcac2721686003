"""Warehouse reads and writes of cost-center suggestions: a period's suggestions (re-running replaces
only the open ones), the analyst's decision on one (who, when, which cost center), the decisions
the next training learns from, and the accepted corrections that re-enter the month.

Every statement is a file in `sql/`. Nothing here changes GL lines, quarantine or runs: a
suggestion only becomes data when ingestion merges `accepted_corrections` into the month's extract,
and records what became of each (`record_corrections`, shown with the period's suggestions).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS
from allocation_pipeline.core.insights.suggestions import EXAMPLE_COLUMNS, FEATURES, SUGGESTION_COLUMNS
from allocation_pipeline.warehouse.bulk import bulk_insert, read_frame, replace_rows
from allocation_pipeline.warehouse.engine import sql_text

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"
# The columns a correction carries besides the extract's own: where it came from and who decided.
PROVENANCE_COLUMNS = ["source_file", "row_number", "suggestion_id", "original_cost_center", "corrected_by", "corrected_at", "correction"]


class SuggestionDecisionError(ValueError):
    """A decision that cannot be recorded; the message names the suggestion and why."""


def store_suggestions(conn: sa.Connection, period: str, suggestions: pd.DataFrame) -> int:
    """Replace the period's open suggestions with `suggestions` (SUGGESTION_COLUMNS); decided ones stay."""
    conn.execute(sql_text("delete_open_cost_center_suggestions"), {"period": period})
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    frame = suggestions[SUGGESTION_COLUMNS].assign(
        status=OPEN, decided_cost_center=None, decided_by=None, decided_at=pd.NaT, decision_note=None, created_at=now
    )
    frame = frame.astype({"decided_cost_center": object, "decided_by": object, "decision_note": object, "decided_at": "datetime64[us]"})
    return bulk_insert(conn, "cost_center_suggestions", frame)


def period_suggestions(conn: sa.Connection, period: str) -> pd.DataFrame:
    """Every suggestion of the period, open and decided, by extract, file and row."""
    return read_frame(conn, sql_text("select_period_cost_center_suggestions"), {"period": period})


def decided_suggestions(conn: sa.Connection) -> pd.DataFrame:
    """Every decided suggestion of every period (what the next training learns from)."""
    return read_frame(conn, sql_text("select_decided_cost_center_suggestions"))


def decide(
    conn: sa.Connection, suggestion_id: str, decision: str, by: str, cost_center: str | None = None, note: str | None = None,
    known_cost_centers: set[str] | None = None,
) -> dict:
    """Record an analyst's accept (of the suggested cost center, or of `cost_center` instead) or
    reject of one open suggestion; returns the suggestion as it now stands."""
    if decision not in (ACCEPTED, REJECTED):
        raise SuggestionDecisionError(f"decision must be {ACCEPTED} or {REJECTED}, not {decision!r}")
    if not (by or "").strip():
        raise SuggestionDecisionError("name who decides (--by)")
    found = read_frame(conn, sql_text("select_cost_center_suggestion"), {"suggestion_id": suggestion_id})
    if found.empty:
        raise SuggestionDecisionError(f"no suggestion {suggestion_id} (list them with `allocation suggestions --period YYYY-MM`)")
    row = found.iloc[0].to_dict()
    if row["status"] != OPEN:
        raise SuggestionDecisionError(
            f"suggestion {suggestion_id} is already {row['status']} (by {row['decided_by']} at {row['decided_at']}); a decision is recorded once"
        )
    chosen = None
    if decision == ACCEPTED:
        chosen = cost_center or row["suggested_cost_center"]
        if known_cost_centers is not None and chosen not in known_cost_centers:
            raise SuggestionDecisionError(f"suggestion {suggestion_id}: cost center {chosen} is not in the cost centers extract")
    elif cost_center:
        raise SuggestionDecisionError("a rejection names no cost center; accept with --cost-center to correct the suggestion instead")
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    conn.execute(
        sql_text("update_cost_center_suggestion_decision"),
        {"status": decision, "decided_cost_center": chosen, "decided_by": by.strip(), "decided_at": when, "decision_note": note,
         "suggestion_id": suggestion_id},
    )
    return {**row, "status": decision, "decided_cost_center": chosen, "decided_by": by.strip(), "decided_at": when, "decision_note": note}


def training_decisions(decided: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """From decided suggestions: accepted lines as training examples (EXAMPLE_COLUMNS, with the
    cost center the analyst chose), and per line (`line_id`) the cost centers rejected for it."""
    if decided.empty:
        return pd.DataFrame(columns=EXAMPLE_COLUMNS), {}
    accepted = decided[decided["status"] == ACCEPTED]
    examples = accepted[FEATURES].assign(
        cost_center=accepted["decided_cost_center"].astype(str)
    ).reset_index(drop=True)
    rejected: dict[str, set[str]] = {}
    refused = decided[decided["status"] == REJECTED]
    for sid, cc in zip(refused["suggestion_id"], refused["suggested_cost_center"]):
        rejected.setdefault(line_id(str(sid)), set()).add(str(cc))
    return examples[EXAMPLE_COLUMNS], rejected


def line_id(suggestion_id: str) -> str:
    """The line a suggestion is for: a line suggested again after a rejection gets `<line id>-r<n>`."""
    return suggestion_id.split("-r", 1)[0]


def accepted_corrections(conn: sa.Connection, extract: str, period: str) -> pd.DataFrame:
    """The accepted corrections of one extract (gl_lines or ap_invoices) and period, as rows in the
    extract file's own column layout (every value text, as read from the file) with the accepted
    cost center written in, followed by PROVENANCE_COLUMNS: the file and row they replace, the
    suggestion, the cost center the line had (None: none), who accepted it and when, and
    `correction` = 'accepted suggestion'.

    Ingestion calls this once per extract and period after reading the raw extract and before
    cleaning it, and replaces the raw rows with the same (source_file, row_number) by these rows;
    the provenance columns travel with the cleaned lines (or are dropped where the table has no
    room for them). Rows whose file or row no longer exist in the extract are the caller's to report."""
    if extract not in ("gl_lines", "ap_invoices"):
        raise ValueError(f"corrections exist for gl_lines and ap_invoices, not {extract}")
    required, optional = EXTRACT_SPECS[extract].file_columns()
    layout = [*required, *optional]
    found = read_frame(conn, sql_text("select_accepted_cost_center_corrections"), {"extract": extract, "period": period})
    rows = []
    for item in found.to_dict("records"):
        raw = json.loads(item["raw_row"])
        raw["cost_center"] = item["decided_cost_center"]
        rows.append(
            {
                **{c: raw.get(c) for c in layout},
                "source_file": str(item["source_file"]), "row_number": int(item["row_number"]), "suggestion_id": item["suggestion_id"],
                "original_cost_center": item["original_cost_center"], "corrected_by": item["decided_by"],
                "corrected_at": pd.Timestamp(item["decided_at"]), "correction": "accepted suggestion",
            }
        )
    frame = pd.DataFrame(rows, columns=[*layout, *PROVENANCE_COLUMNS])
    return frame.astype({c: "string" for c in layout}).astype({"row_number": "int64"})



def record_corrections(conn: sa.Connection, extract: str, period: str, outcomes: pd.DataFrame, dagster_run_id: str) -> int:
    """Replace what the last run of the month did with the extract's accepted corrections by
    `outcomes` (suggestion_id, source_file, row_number, outcome), in the caller's transaction:
    `period_suggestions` shows it next to each decision (applied_outcome, applied_run_id, applied_at)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    frame = outcomes[["suggestion_id", "source_file", "row_number", "outcome"]].assign(
        extract=extract, period=period, dagster_run_id=dagster_run_id, applied_at=now
    ).astype({"row_number": "int64", "applied_at": "datetime64[us]"})
    columns = ["suggestion_id", "extract", "period", "source_file", "row_number", "outcome", "dagster_run_id", "applied_at"]
    return replace_rows(conn, "cost_center_corrections", frame[columns], {"extract": extract, "period": period})
