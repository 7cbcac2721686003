"""Warehouse reads and writes of the insights: driver history, a period's rule runs, GL balances and
master data in; driver analysis, anomaly flags, narratives, profitability and what-if scenarios out.

Every statement is a file in `sql/`; each write replaces its period (or scenario and period) in
the caller's transaction, so re-running a period replaces what it computed. Nothing here touches
allocation runs or journal tables.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.allocation.allocate import pool_balances
from allocation_pipeline.core.insights.anomalies import FLAG_COLUMNS, Flag, flags_frame, flags_from_frame
from allocation_pipeline.core.insights.whatif import ScenarioResult
from allocation_pipeline.core.allocation.rules import Rule
from allocation_pipeline.warehouse.bulk import read_frame, replace_rows
from allocation_pipeline.warehouse.engine import sql_text
from allocation_pipeline.warehouse.ledger_store import PIPELINE

# The tables the insights write, and nothing else.
INSIGHT_TABLES = ("driver_analysis", "driver_confidence", "anomaly_flags", "narratives", "profitability", "whatif_scenarios", "whatif_results")


def driver_history(conn: sa.Connection, first_period: str, last_period: str) -> pd.DataFrame:
    """Driver values of every period from `first_period` to `last_period` that the warehouse holds."""
    frame = read_frame(conn, sql_text("select_driver_values_between"), {"first_period": first_period, "last_period": last_period})
    return frame.astype({"period": str, "driver": str, "dimension": str, "cost_object": str, "value": "float64"})


def allocated_history(conn: sa.Connection, first_period: str, last_period: str) -> pd.DataFrame:
    """What each target received per rule (multi-level runs under their origin) and period, runs not voided or rejected."""
    frame = read_frame(conn, sql_text("select_allocated_history"), {"first_period": first_period, "last_period": last_period})
    return frame.astype({"period": str, "rule_id": str, "amount_cents": "int64"}) if not frame.empty else frame


def store_forecasts(conn: sa.Connection, made_after: str, frame: pd.DataFrame) -> int:
    """The forecasts made after `made_after` (the last actual month), replacing earlier ones made after it."""
    return replace_rows(conn, "forecasts", frame, {"made_after": made_after})


def stored_forecasts(conn: sa.Connection, made_after: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_forecasts"), {"made_after": made_after})


def rule_run_lines(conn: sa.Connection, period: str) -> pd.DataFrame:
    """Lines of the period's runs made from the rules (not voided or rejected), with their run's rule, entity, currency and method."""
    frame = read_frame(conn, sql_text("select_rule_run_lines"), {"period": period, "origin": PIPELINE})
    if frame.empty:
        return frame
    return frame.astype({"debit_cents": "int64", "credit_cents": "int64"})


def gl_balances_of(conn: sa.Connection, period: str) -> pd.DataFrame:
    """The period's GL balances, summed in the warehouse, shaped as `core.allocation.allocate.gl_balances` returns them."""
    frame = read_frame(conn, sql_text("select_gl_balances"), {"period": period})
    return frame.astype({"balance_cents": "int64"})


def pool_gl_balances(conn: sa.Connection, rule: Rule, period: str) -> pd.DataFrame:
    """The period's GL balances that `rule`'s source filter selects: its pool as the GL holds it,
    before earlier rules of the period add to it. Read through `gl_balances_of`."""
    return pool_balances(gl_balances_of(conn, period), rule.source, rule.entity)


def master_data(conn: sa.Connection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cost centers, entities and account types, as cleaned into the warehouse."""
    cost_centers = read_frame(conn, sql_text("select_cost_centers"))
    cost_centers["active"] = cost_centers["active"].astype(bool)
    return cost_centers, read_frame(conn, sql_text("select_entities")), read_frame(conn, sql_text("select_account_types"))


def period_flags(conn: sa.Connection, period: str) -> list[Flag]:
    frame = read_frame(conn, sql_text("select_anomaly_flags"), {"period": period})
    return flags_from_frame(frame.reindex(columns=FLAG_COLUMNS))


def period_profitability(conn: sa.Connection, period: str) -> pd.DataFrame:
    frame = read_frame(conn, sql_text("select_profitability"), {"period": period})
    return frame.astype({"turned_unprofitable": bool}) if not frame.empty else frame


def replace_period(conn: sa.Connection, table: str, frame: pd.DataFrame, period: str) -> int:
    """Replace one period of an insights table with `frame`."""
    if table not in INSIGHT_TABLES:
        raise ValueError(f"{table} is not an insights table")
    return replace_rows(conn, table, frame, {"period": period})


def store_flags(conn: sa.Connection, period: str, flags: list[Flag]) -> int:
    """The period's flags; flags without money at stake (fit_drop) are stored with an amount of 0."""
    frame = flags_frame(flags)
    frame["amount_cents"] = frame["amount_cents"].fillna(0).astype("int64")
    return replace_period(conn, "anomaly_flags", frame, period)


def store_scenario(conn: sa.Connection, result: ScenarioResult, dagster_run_id: str | None = None) -> None:
    """A named scenario and its results, replacing an earlier run of the same name and period."""
    where = {"scenario": result.scenario.name, "period": result.period}
    created = pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    replace_rows(conn, "whatif_scenarios", result.scenario_frame(created, dagster_run_id), where)
    replace_rows(conn, "whatif_results", result.results_frame(), where)


def all_run_lines(conn: sa.Connection, period: str) -> pd.DataFrame:
    """Lines of every run of the period that is not voided or rejected, whatever made it (rules,
    multi-level, submitted), with rule_id (empty for submitted runs), entity and currency."""
    frame = read_frame(conn, sql_text("select_period_allocation_lines"), {"period": period})
    if frame.empty:
        return frame
    return frame.assign(rule_id=frame["rule_id"].fillna("")).astype({"debit_cents": "int64", "credit_cents": "int64"})
