"""Warehouse reads of the period report: one entity's runs, entries, chain, allocations, costs,
source transactions and insights for one fiscal period, as frames (every ledger statement is a
file in `sql/`, most of them reading the BI views; GL lines are read from the engine, see
`warehouse.lines`). Reads only; tolerates empty insight tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.insights.config import shift_period
from allocation_pipeline.core.report.model import ReportData
from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import describe, sql_text
from allocation_pipeline.warehouse.lines import LineEngine, document_gl_lines, largest_documents, ledger_lines

# The runs list covers the period and the months before it, so its period filter means something.
HISTORY_PERIODS = 12
# Source transactions behind a pool: the largest documents per cost center and account, with counts.
TOP_DOCUMENTS = 8

_CENTS = ("_cents",)


def report_entities(conn: sa.Connection, period: str) -> pd.DataFrame:
    """Every entity (entity, name, currency) with the status of its fiscal period (or None)."""
    return read_frame(conn, sql_text("select_report_entities"), {"period": period})


def read_report_data(
    conn: sa.Connection,
    period: str,
    entity: str,
    history_periods: int = HISTORY_PERIODS,
    top_documents: int = TOP_DOCUMENTS,
    lines: LineEngine | None = None,
) -> ReportData:
    """Everything the report of `entity` for `period` shows; raises LookupError for an unknown entity.
    GL lines come from `lines` (default: the engine behind the ledger, see `ledger_lines`)."""
    entities = report_entities(conn, period)
    row = entities[entities["entity"] == entity]
    if row.empty:
        known = ", ".join(entities["entity"]) or "none"
        raise LookupError(f"no entity {entity} in dim_entities (entities: {known})")
    head = row.iloc[0]
    first = shift_period(period, -(history_periods - 1))
    window = {"entity": entity, "period": period, "first_period": first}
    here = {"entity": entity, "period": period}

    def frame(name: str, params: dict) -> pd.DataFrame:
        return _typed(read_frame(conn, sql_text(name), params))

    runs = frame("select_report_runs", window)
    accounts = read_frame(conn, sql_text("select_account_names"))
    with ledger_lines(conn, lines) as engine:
        documents = _source_documents(engine, runs, entity, first, period, accounts)
        expense = accounts.loc[accounts["type"] == "expense", "account"].astype(str).tolist()
        transactions = _with_account_names(largest_documents(engine, period, entity, expense, top_documents), accounts)
    flags = frame("select_anomaly_flags", {"period": period})
    profitability = frame("select_profitability", {"period": period})
    forecasts = frame("select_forecasts", {"made_after": period})
    return ReportData(
        period=period,
        entity=entity,
        entity_name=str(head["name"]),
        currency=str(head["currency"]),
        period_status=head["period_status"] if isinstance(head["period_status"], str) else None,
        first_period=first,
        runs=runs,
        run_lines=frame("select_report_run_lines", window),
        history=frame("select_report_run_history", window),
        entries=frame("select_report_entries", window),
        entry_lines=frame("select_report_entry_lines", window),
        links=frame("select_report_links", window),
        source_documents=documents,
        allocations=frame("select_report_allocations", here),
        origins=frame("select_report_origins", here),
        cost_objects=frame("select_report_cost_objects", here),
        source_transactions=_typed(transactions),
        narratives=frame("select_report_narratives", here),
        flags=flags[flags["entity"] == entity].reset_index(drop=True) if not flags.empty else flags,
        driver_analysis=frame("select_report_driver_analysis", {"period": period}),
        profitability=profitability[profitability["entity"] == entity].reset_index(drop=True) if not profitability.empty else profitability,
        quarantine=frame("select_report_quarantine", {"period": period}),
        quarantined_rows=_quarantined_rows(frame("select_quarantine_extracts", {}), period),
        driver_confidence=frame("select_report_driver_confidence", {"period": period}),
        forecasts=_of_entity(forecasts, entity, keep_blank=True),
        suggestions=entity_suggestions(conn, period, entity),
        top_documents=top_documents,
        generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        source=describe(str(conn.engine.url)),
    )


def _source_documents(engine: LineEngine, runs: pd.DataFrame, entity: str, first: str, period: str, accounts: pd.DataFrame) -> pd.DataFrame:
    """The GL lines of the source documents of the entity's runs in the report's window."""
    in_window = runs[(runs["period"] >= first) & (runs["period"] <= period) & runs["source_document"].notna()]
    # A source document's GL lines are looked up by id (no index to lean on): only when a run has one.
    if in_window.empty:
        return pd.DataFrame()
    lines = _with_account_names(document_gl_lines(engine, entity, in_window["source_document"].astype(str).tolist()), accounts)
    return _typed(lines)


def _with_account_names(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """`account_name` (from the ledger's dim_accounts) right after `account`; None where unknown."""
    names = dict(zip(accounts["account"].astype(str), accounts["name"]))
    frame.insert(frame.columns.get_loc("account") + 1, "account_name", [names.get(str(a)) for a in frame["account"]])
    return frame


def entity_suggestions(conn: sa.Connection, period: str, entity: str) -> pd.DataFrame:
    """The cost-center suggestions of one entity and period, open and decided (amounts in cents)."""
    return _of_entity(_typed(read_frame(conn, sql_text("select_period_cost_center_suggestions"), {"period": period})), entity)


def _of_entity(frame: pd.DataFrame, entity: str, keep_blank: bool = False) -> pd.DataFrame:
    """The rows of one entity (and, with keep_blank, the entity-less ones, e.g. driver forecasts)."""
    if frame.empty:
        return frame
    mine = frame["entity"] == entity
    if keep_blank:
        mine |= frame["entity"].fillna("") == ""
    return frame[mine].reset_index(drop=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Cents columns as int64 (NULL as 0), whatever the driver returned (Decimal, float, int)."""
    for column in frame.columns:
        if column.endswith(_CENTS):
            frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    return frame


def _quarantined_rows(extracts: pd.DataFrame, period: str) -> int:
    """Rows held back for `period` or the master data (partition key ''), each row once: the
    console's per-extract counts, which count a row's problems as one row."""
    return int(extracts.loc[extracts["partition_key"].isin([period, ""]), "rows_quarantined"].sum())
