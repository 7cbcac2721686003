"""Narratives (`core.insights.narrative`) and profitability (`core.insights.profitability`), tested
for the facts they state.

Covered: a rule's narrative states the pool, source, method and drivers, the largest receivers
with amounts and percents, the pool's change and each large change's direction, amount and the
driver that moved it, and its flags; the first period says there is nothing to compare with; the
period's narrative sums per currency, names the largest receivers, the total's change, flags and
the cost centers that allocation turns unprofitable; the same inputs give the same text.
Profitability per cost center with revenue, and its flags. Literal frames through the real engine.
"""

from __future__ import annotations

import pandas as pd

from allocation_pipeline.core.allocation.allocate import BALANCE_KEYS
from allocation_pipeline.core.insights.anomalies import Flag
from allocation_pipeline.core.insights.config import parse_insights
from allocation_pipeline.core.insights.narrative import narratives, period_narrative, rule_narrative
from allocation_pipeline.core.insights.profitability import allocated_net, profitability, unprofitable_flags
from tests import insights_world as world

HEADCOUNT = {"method": "driver", "parameters": {"driver": "headcount"}}


def _values(period, headcount):
    rows = [(period, "headcount", "cost_center", u, float(h)) for u, h in zip(world.UNITS, headcount)]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])


def _two_periods():
    previous_values = _values(world.PREVIOUS, [10] * 10)
    values = _values(world.PERIOD, [10, 10, 10, 10, 30, 10, 10, 10, 10, 5])
    # 10,000.00 a head in both periods: 100 heads share 1,000,000.00, then 115 share 1,150,000.00.
    previous = world.lines_of(world.allocate(previous_values, world.PREVIOUS, pool_cents=100_000_000, **HEADCOUNT))
    current = world.lines_of(world.allocate(values, world.PERIOD, pool_cents=115_000_000, **HEADCOUNT))
    return current, previous, values, previous_values


def _rules():
    return {r.id: r for r in world.rule_set(**HEADCOUNT).rules}


def test_a_rules_narrative_states_amounts_receivers_changes_and_why():
    current, previous, values, previous_values = _two_periods()
    text = rule_narrative(world.PERIOD, "corporate_it", "US", current, _rules()["corporate_it"], values, [], world.PREVIOUS, previous, previous_values)
    received = current[current["role"] == "target"].set_index("cost_center")["debit_cents"]
    assert received.sum() == 115_000_000 and received["BU05"] == 30_000_000
    assert text.startswith("In 2026-10, rule corporate_it (US) allocated 1,150,000.00 USD from IT by driver headcount to 10 cost centers.")
    # BU05 has 30 of 115 heads; then the 10-head units, ties by name.
    assert "The largest receivers: BU05 300,000.00 (26.1%), BU01 100,000.00 (8.7%), BU02 100,000.00 (8.7%)." in text
    assert "Against 2026-09, the pool grew 15.0% from 1,000,000.00 to 1,150,000.00." in text
    # Only BU05 (100,000.00 -> 300,000.00) and BU10 (100,000.00 -> 50,000.00) changed.
    changes = text.split("The largest changes: ")[1]
    assert changes.startswith("BU05 +200,000.00 (+200.0%), mostly because its headcount rose from 10 to 30 (+200.0%) while the total headcount moved +15.0%")
    assert "; BU10 -50,000.00 (-50.0%), mostly because its headcount fell from 10 to 5 (-50.0%)" in changes
    assert "BU01 " not in changes
    assert text.endswith("No flags.")


def test_flags_are_part_of_the_rules_narrative():
    current, previous, values, previous_values = _two_periods()
    flag = Flag(world.PERIOD, "consumption_gap", "high", "corporate_it", "US", "USD", "BU05", 5_000_00, 12.0, 1.0, "BU05 is over-charged by 5,000.00 USD.")
    other = Flag(world.PERIOD, "consumption_gap", "high", "another_rule", "US", "USD", "BU05", 1, 12.0, 1.0, "Not this rule's.")
    text = rule_narrative(world.PERIOD, "corporate_it", "US", current, _rules()["corporate_it"], values, [flag, other])
    assert "Flags (1: 1 high): [high, consumption gap] BU05 is over-charged by 5,000.00 USD." in text
    assert "No earlier period to compare with." in text


def test_a_rule_without_a_previous_run_says_so():
    current, _, values, _ = _two_periods()
    text = rule_narrative(world.PERIOD, "corporate_it", "US", current, _rules()["corporate_it"], values, [], world.PREVIOUS, current.iloc[0:0])
    assert "Rule corporate_it made no run in 2026-09 to compare with." in text


def test_the_periods_narrative_sums_up_and_is_deterministic():
    current, previous, values, previous_values = _two_periods()
    flags = [Flag(world.PERIOD, "period_jump", "high", "corporate_it", "US", "USD", "BU05", 200_000_00, 200.0, 25.0, "BU05 jumped.", blocking=True)]
    table = pd.DataFrame(
        [{"cost_center": "BU05", "currency": "USD", "margin_cents": -1_000_00, "turned_unprofitable": True},
         {"cost_center": "BU01", "currency": "USD", "margin_cents": 5_000_00, "turned_unprofitable": False}]
    )
    args = (world.PERIOD, current, _rules(), values, flags, world.PREVIOUS, previous, previous_values, table)
    frame = narratives(*args)
    assert frame.equals(narratives(*args))
    assert frame["scope"].tolist() == ["period", "rule"] and frame["rule_id"].fillna("-").tolist() == ["-", "corporate_it"]
    text = frame["text"].iloc[0]
    assert text.startswith("In 2026-10, 1 allocation run moved 1,150,000.00 USD. US: corporate_it 1,150,000.00 USD by driver headcount.")
    assert "Largest receivers in USD: BU05 300,000.00, BU01 100,000.00, BU02 100,000.00." in text
    assert "Against 2026-09, the total allocated went from 1,000,000.00 to 1,150,000.00 USD (+15.0%)." in text
    assert "Flags: 1: 1 high, 1 blocking. The most material: BU05 jumped." in text
    assert text.endswith("Of 2 cost centers with revenue, 1 turns unprofitable after allocation: BU05 (loses 1,000.00 USD).")
    assert period_narrative(world.PERIOD, current.iloc[0:0], []) == "In 2026-10 no allocation run was made."


def test_profitability_after_allocation_flags_objects_turned_unprofitable():
    current, _, _, _ = _two_periods()
    extra = [
        ("US", "40000", "BU05", "", "", "USD", -300_000_00),  # revenue 300,000.00
        ("US", "50000", "BU05", "", "", "USD", 200_000_00),   # direct cost 200,000.00
        ("US", "40000", "BU01", "", "", "USD", -500_000_00),
        ("US", "50000", "BU01", "", "", "USD", 100_000_00),
    ]
    balances = pd.DataFrame(extra, columns=[*BALANCE_KEYS, "balance_cents"])
    accounts = pd.DataFrame({"account": ["40000", "50000", "64200"], "type": ["revenue", "expense", "expense"]})
    table = profitability(world.PERIOD, balances, accounts, allocated_net(current), world.entities())
    assert table["cost_center"].tolist() == ["BU01", "BU05"]
    bu05 = table.set_index("cost_center").loc["BU05"]
    assert (bu05["revenue_cents"], bu05["direct_cost_cents"], bu05["margin_before_cents"]) == (300_000_00, 200_000_00, 100_000_00)
    assert bu05["allocated_cost_cents"] == 300_000_00 and bu05["margin_cents"] == -200_000_00
    assert bu05["turned_unprofitable"] and bu05["largest_rule"] == "corporate_it"
    assert not table.set_index("cost_center").loc["BU01", "turned_unprofitable"]
    (flag,) = unprofitable_flags(table, parse_insights({"rules": []}))
    assert flag.kind == "turned_unprofitable" and flag.cost_object == "BU05" and flag.severity == "high"
    assert flag.message == (
        "BU05 earns 300,000.00 USD against 200,000.00 of direct cost (margin 100,000.00); after 300,000.00 of allocated cost "
        "(largest: rule corporate_it, 300,000.00) it loses 200,000.00 (-66.7% of revenue)."
    )
