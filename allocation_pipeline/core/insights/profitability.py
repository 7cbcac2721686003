"""Profitability after allocation per cost center where revenue is known, and the objects that
allocation turns unprofitable.

Revenue is the net credit on revenue accounts, direct cost the net debit on expense accounts (both
from the period's GL balances, which hold no allocation postings), allocated cost the net of every
allocation line on the cost center (what it received less what it gave away). All in cents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocation_pipeline.core.insights.anomalies import Flag, severity_of
from allocation_pipeline.core.insights.config import InsightsConfig
from allocation_pipeline.core.money import format_money

PROFITABILITY_COLUMNS = [
    "period", "entity", "currency", "cost_center", "revenue_cents", "direct_cost_cents", "allocated_cost_cents",
    "margin_before_cents", "margin_cents", "margin_percent", "largest_rule", "largest_rule_amount_cents", "turned_unprofitable",
]
# A loss after allocation of this share of revenue is a `high` flag; half of it `medium`.
HIGH_LOSS_PERCENT = 10.0


def profitability(
    period: str, balances: pd.DataFrame, accounts: pd.DataFrame, allocated: pd.DataFrame, entities: pd.DataFrame
) -> pd.DataFrame:
    """Per cost center with revenue: revenue, direct cost, allocated cost, margin before and after.

    `balances`: GL balances (entity, account, cost_center, balance_cents; debit - credit) as
    `allocation.gl_balances` gives them; `accounts`: account, type; `allocated`: allocation lines'
    net per rule (entity, rule_id, cost_center, net_cents = debit - credit); `entities`: entity,
    currency. `largest_rule` names the rule that put the most cost on the cost center (None, with
    an amount of 0, when none did)."""
    types = dict(zip(accounts["account"].astype(str), accounts["type"].astype(str)))
    frame = balances.assign(type=balances["account"].astype(str).map(types))
    revenue = -frame[frame["type"] == "revenue"].groupby(["entity", "cost_center"])["balance_cents"].sum()
    direct = frame[frame["type"] == "expense"].groupby(["entity", "cost_center"])["balance_cents"].sum()
    net = allocated.groupby(["entity", "cost_center"])["net_cents"].sum() if not allocated.empty else pd.Series(dtype="int64")
    earning = revenue[revenue > 0]
    rows = []
    currencies = dict(zip(entities["entity"], entities["currency"]))
    for (entity, cost_center), revenue_cents in earning.sort_index().items():
        direct_cents = int(direct.get((entity, cost_center), 0))
        allocated_cents = int(net.get((entity, cost_center), 0))
        before = int(revenue_cents) - direct_cents
        after = before - allocated_cents
        mine = allocated[(allocated["entity"] == entity) & (allocated["cost_center"] == cost_center) & (allocated["net_cents"] > 0)] if not allocated.empty else allocated
        largest = mine.sort_values(["net_cents", "rule_id"], ascending=[False, True]).head(1)
        rows.append(
            {
                "period": period, "entity": entity, "currency": currencies.get(entity, ""), "cost_center": cost_center,
                "revenue_cents": int(revenue_cents), "direct_cost_cents": direct_cents, "allocated_cost_cents": allocated_cents,
                "margin_before_cents": before, "margin_cents": after, "margin_percent": round(after / int(revenue_cents) * 100, 4),
                "largest_rule": None if largest.empty else str(largest["rule_id"].iloc[0]),
                "largest_rule_amount_cents": 0 if largest.empty else int(largest["net_cents"].iloc[0]),
                "turned_unprofitable": bool(before >= 0 and after < 0),
            }
        )
    result = pd.DataFrame(rows, columns=PROFITABILITY_COLUMNS)
    return result.astype({"largest_rule_amount_cents": "int64", "turned_unprofitable": bool})


def allocated_net(lines: pd.DataFrame) -> pd.DataFrame:
    """Net allocated cost per entity, rule and cost center (debit - credit over every line of the
    runs, source lines included), from lines carrying rule_id, entity and cost_center."""
    if lines.empty:
        return pd.DataFrame({"entity": [], "rule_id": [], "cost_center": [], "net_cents": []}).astype({"net_cents": "int64"})
    frame = pd.DataFrame(
        {
            "entity": lines["entity"].astype(str).to_numpy(), "rule_id": lines["rule_id"].astype(str).to_numpy(),
            "cost_center": lines["cost_center"].astype(str).to_numpy(),
            "net_cents": lines["debit_cents"].to_numpy(np.int64) - lines["credit_cents"].to_numpy(np.int64),
        }
    )
    return frame.groupby(["entity", "rule_id", "cost_center"], as_index=False, sort=True)["net_cents"].sum()


def unprofitable_flags(table: pd.DataFrame, config: InsightsConfig) -> list[Flag]:
    """A flag per cost center that is profitable before allocation and not after."""
    flags = []
    for row in table[table["turned_unprofitable"]].itertuples(index=False):
        loss_percent = -row.margin_percent
        severity = severity_of(2.0 * loss_percent / HIGH_LOSS_PERCENT)
        largest = f" (largest: rule {row.largest_rule}, {format_money(row.largest_rule_amount_cents)})" if row.largest_rule else ""
        flags.append(
            Flag(
                row.period, "turned_unprofitable", severity, row.largest_rule or "", row.entity, row.currency, row.cost_center,
                int(row.margin_cents), round(float(row.margin_percent), 4), 0.0,
                f"{row.cost_center} earns {format_money(row.revenue_cents)} {row.currency} against {format_money(row.direct_cost_cents)} of "
                f"direct cost (margin {format_money(row.margin_before_cents)}); after {format_money(row.allocated_cost_cents)} of allocated "
                f"cost{largest} it loses {format_money(-row.margin_cents)} ({row.margin_percent:.1f}% of revenue).",
                blocking=config.blocks("turned_unprofitable", severity),
            )
        )
    return flags
