"""Drivers, rules and the allocation engine on literal frames: exact cents, rule validation
messages, and the edge cases (empty pool, zero driver, missing driver value, negative pool).

Pure core only; storing and posting runs is covered in test_pipeline.py.
"""

import numpy as np
import pandas as pd
import pytest

from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
from allocation_pipeline.core.allocation.drivers import DriverError, compute_driver_values
from allocation_pipeline.core.allocation.methods import MethodError, available_methods, get_method
from allocation_pipeline.core.allocation.rules import RulesError, parse_rules
from allocation_pipeline.core.ledger.validation import RunToValidate, validate_run

ENTITIES = pd.DataFrame({"entity": ["EE"], "name": ["EE Ltd"], "currency": ["EUR"]})
COST_CENTERS = pd.DataFrame(
    {
        "cost_center": ["EE-IT", "EE-FAC", "EE-ENG", "EE-PRD", "EE-SAL", "EE-OLD"],
        "entity": ["EE"] * 6,
        "kind": ["support", "support", "operating", "operating", "operating", "operating"],
        "function": ["IT", "facilities", "business", "business", "business", "business"],
        "active": [True, True, True, True, True, False],
    }
)
ACCOUNTS = pd.DataFrame({"account": ["2000", "62000", "64000", "69000", "69100", "69200"], "active": [True] * 6})


def gl(*rows):
    """GL lines from (account, cost_center, debit_cents, credit_cents[, currency])."""
    return pd.DataFrame(
        [
            {
                "entity": "EE", "account": r[0], "cost_center": r[1], "product": None, "region": None,
                "debit_cents": r[2], "credit_cents": r[3], "currency": r[4] if len(r) > 4 else "EUR",
            }
            for r in rows
        ]
    )


def drivers(**values):
    return pd.DataFrame(
        [{"period": "2026-10", "driver": d, "dimension": "cost_center", "cost_object": cc, "value": v} for d, per in values.items() for cc, v in per.items()],
        columns=["period", "driver", "dimension", "cost_object", "value"],
    )


def rules(*raw):
    return parse_rules({"rules": list(raw)}).rules


IT_SPLIT = {
    "id": "it_overhead_split", "entity": "EE", "source": {"accounts": ["64000"], "cost_centers": ["EE-IT"]},
    "method": "fixed_percentages", "parameters": {"percentages": {"EE-ENG": 60, "EE-PRD": 25, "EE-SAL": 15}},
    "target": {"dimension": "cost_center", "members": ["EE-ENG", "EE-PRD", "EE-SAL"]},
    "accounts": {"credit": "69100", "debit": "69000"},
}
FACILITIES = {
    "id": "facilities", "entity": "EE", "source": {"accounts": ["62000-62100"], "cost_centers": ["EE-FAC"]},
    "method": "driver", "parameters": {"driver": "floor_area"},
    "target": {"where": {"kind": "operating"}}, "accounts": {"credit": "69200", "debit": "69000"},
}


def run(rule_list, ledger, driver_frame=None):
    return allocate_period("2026-10", list(rule_list), gl_balances(ledger), driver_frame if driver_frame is not None else drivers(), COST_CENTERS, ENTITIES)


def targets_of(draft):
    lines = draft.lines[draft.lines["role"] == "target"]
    return dict(zip(lines["cost_center"], lines["debit_cents"] - lines["credit_cents"]))


def test_it_overhead_split_60_25_15_of_10000():
    outcome = run(rules(IT_SPLIT), gl(("64000", "EE-IT", 1_000_000, 0), ("2000", "EE-IT", 0, 1_000_000)))
    (draft,) = outcome.runs
    assert targets_of(draft) == {"EE-ENG": 600_000, "EE-PRD": 250_000, "EE-SAL": 150_000}
    source = draft.lines[draft.lines["role"] == "source"].iloc[0]
    assert (source["account"], source["cost_center"], source["credit_cents"]) == ("69100", "EE-IT", 1_000_000)
    assert draft.total_debit_cents == draft.total_credit_cents == 1_000_000
    assert validate_run(RunToValidate("r", draft.lines, ACCOUNTS)) == []


def test_even_split_of_100_over_three_balances_to_the_cent():
    rule = {**IT_SPLIT, "method": "even_split", "parameters": {}}
    (draft,) = run(rules(rule), gl(("64000", "EE-IT", 10_000, 0))).runs
    assert targets_of(draft) == {"EE-ENG": 3334, "EE-PRD": 3333, "EE-SAL": 3333}
    assert draft.total_debit_cents == draft.total_credit_cents == 10_000


def test_driver_method_by_floor_area_with_missing_value_and_inactive_center():
    ledger = gl(("62000", "EE-FAC", 900_000, 0), ("62100", "EE-FAC", 100_001, 0))
    outcome = run(rules(FACILITIES), ledger, drivers(floor_area={"EE-ENG": 300.0, "EE-PRD": 100.0}))
    (draft,) = outcome.runs
    # EE-SAL has no floor_area: it gets nothing and the explanation says so; EE-OLD is inactive.
    assert targets_of(draft) == {"EE-ENG": 750_001, "EE-PRD": 250_000}
    assert "EE-SAL has no floor_area value in 2026-10 and receives nothing" in draft.notes
    target_rows = draft.lines[draft.lines["role"] == "target"]
    assert target_rows["driver"].tolist() == ["floor_area", "floor_area"]
    assert target_rows["driver_value"].tolist() == [300.0, 100.0]
    assert target_rows["share"].tolist() == [0.75, 0.25]


def test_a_new_usage_metric_is_a_driver_without_code_change():
    usage = pd.DataFrame(
        {"period": ["2026-10"] * 3, "metric": ["coffee_cups"] * 3, "dimension": ["cost_center"] * 3, "cost_object": ["EE-ENG", "EE-PRD", "EE-SAL"], "value": [10.0, 30.0, 0.0]}
    )
    empty_hc = pd.DataFrame({"period": [], "cost_center": [], "headcount": []})
    empty_ts = pd.DataFrame({"period": [], "cost_center": [], "activity": [], "hours": []})
    values = compute_driver_values("2026-10", empty_hc, empty_ts, usage)
    rule = {**FACILITIES, "parameters": {"driver": "coffee_cups"}}
    (draft,) = run(rules(rule), gl(("62000", "EE-FAC", 40_000, 0)), values).runs
    assert targets_of(draft) == {"EE-ENG": 10_000, "EE-PRD": 30_000}


def test_driver_values_from_headcount_and_timesheets():
    headcount = pd.DataFrame({"period": ["2026-10", "2026-09"], "cost_center": ["EE-ENG", "EE-ENG"], "headcount": [12.5, 99.0]})
    timesheets = pd.DataFrame(
        {"period": ["2026-10"] * 3, "cost_center": ["EE-ENG", "EE-ENG", "EE-PRD"], "activity": ["dev", "support", "dev"], "hours": [8.0, 2.0, 5.0]}
    )
    usage = pd.DataFrame({"period": [], "metric": [], "dimension": [], "cost_object": [], "value": []})
    values = compute_driver_values("2026-10", headcount, timesheets, usage)
    got = {(r.driver, r.dimension, r.cost_object): r.value for r in values.itertuples()}
    assert got == {
        ("headcount", "cost_center", "EE-ENG"): 12.5,
        ("hours", "cost_center", "EE-ENG"): 10.0,
        ("hours", "cost_center", "EE-PRD"): 5.0,
        ("hours", "activity", "dev"): 13.0,
        ("hours", "activity", "support"): 2.0,
    }
    clash = pd.DataFrame({"period": ["2026-10"], "metric": ["headcount"], "dimension": ["cost_center"], "cost_object": ["EE-ENG"], "value": [1.0]})
    with pytest.raises(DriverError, match="metric\\(s\\) headcount in period 2026-10 collide"):
        compute_driver_values("2026-10", headcount, timesheets, clash)


def test_a_later_rule_pools_what_an_earlier_rule_allocated():
    first = {**FACILITIES, "target": {"members": ["EE-IT", "EE-ENG"]}, "method": "even_split", "parameters": {}}
    second = {**IT_SPLIT, "order": 99, "source": {"accounts": ["64000", "69000"], "cost_centers": ["EE-IT"]}}
    outcome = run(rules(first, second), gl(("62000", "EE-FAC", 20_000, 0), ("64000", "EE-IT", 100_000, 0)))
    assert [d.rule_id for d in outcome.runs] == ["facilities", "it_overhead_split"]
    assert outcome.runs[1].pool_cents == 110_000


def test_negative_pool_keeps_its_sign_and_balances():
    (draft,) = run(rules(IT_SPLIT), gl(("64000", "EE-IT", 0, 10_000))).runs
    assert targets_of(draft) == {"EE-ENG": -6_000, "EE-PRD": -2_500, "EE-SAL": -1_500}
    assert draft.lines.loc[draft.lines["role"] == "source", "debit_cents"].tolist() == [10_000]
    assert draft.total_debit_cents == draft.total_credit_cents
    assert validate_run(RunToValidate("r", draft.lines, ACCOUNTS)) == []


def test_empty_pool_is_a_note_not_a_failure():
    outcome = run(rules(IT_SPLIT), gl(("62000", "EE-FAC", 5, 0)))
    assert outcome.runs == [] and outcome.notes == ["rule it_overhead_split: pool is empty in 2026-10; no run"]


def test_zero_driver_total_and_foreign_currency_are_errors_naming_the_rule():
    with pytest.raises(AllocationError, match=r"rule facilities \(EE, 2026-10\): driver 'floor_area' totals zero over the targets in 2026-10"):
        run(rules(FACILITIES), gl(("62000", "EE-FAC", 5, 0)), drivers(floor_area={"EE-ENG": 0.0}))
    with pytest.raises(AllocationError, match="pool holds USD amounts but entity EE books in EUR"):
        run(rules(IT_SPLIT), gl(("64000", "EE-IT", 5, 0, "USD")))


def test_fixed_percentages_must_sum_to_100():
    bad = {**IT_SPLIT, "parameters": {"percentages": {"EE-ENG": 60, "EE-PRD": 25, "EE-SAL": 10}}}
    with pytest.raises(AllocationError, match="parameters.percentages: sum to 95, not 100"):
        run(rules(bad), gl(("64000", "EE-IT", 5, 0)))


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(MethodError, match="unknown method 'magic'; available: driver, even_split, fixed_percentages"):
        get_method("magic", available_methods())


def test_rules_file_errors_name_the_rule_and_the_field():
    with pytest.raises(RulesError) as error:
        parse_rules(
            {
                "rules": [
                    {**IT_SPLIT, "type": "gift", "accounts": {"debit": "abc"}},
                    {**FACILITIES, "id": "it_overhead_split", "source": {"accounts": ["62100-62000"]}, "approval": {"mode": "sometimes"}},
                ]
            },
            "rules.yaml",
        )
    message = str(error.value)
    for part in (
        "rules.yaml: ",
        "rule 'it_overhead_split': type: 'gift' is not one of cost_allocation, revenue_allocation, intercompany_charge",
        "rule 'it_overhead_split': accounts.debit: 'abc' is not an account number",
        "rule 'it_overhead_split': id: duplicate rule id",
        "source.accounts: '62100-62000' is not an account or an ascending range",
        "approval.mode: 'sometimes' is not one of auto, manual",
    ):
        assert part in message


def test_validation_reports_every_problem_at_once():
    lines = pd.DataFrame(
        {
            "line_no": [1], "role": ["target"], "account": ["99999"], "cost_center": ["EE-ENG"],
            "debit_cents": [0], "credit_cents": [0],
        }
    )
    accounts = pd.DataFrame({"account": ["99998"], "active": [False]})
    messages = [e.message for e in validate_run(RunToValidate("ALLOC-0001", lines, accounts))]
    assert messages == [
        "Account 99999 does not exist.",
        "At least one source line and one target line are required.",
        "At least 2 lines are required; the run has 1.",
        "Line 1: amounts must be greater than zero on one side (debit 0.00, credit 0.00).",
    ]
    unbalanced = pd.DataFrame(
        {"line_no": [1, 2], "role": ["source", "target"], "account": ["99998"] * 2, "cost_center": ["A", "B"], "debit_cents": [0, 1002], "credit_cents": [1000, 0]}
    )
    messages = [e.message for e in validate_run(RunToValidate("ALLOC-0002", unbalanced, accounts, tolerance_cents=1))]
    assert messages == [
        "Total debits (10.02) must equal total credits (10.00); difference 0.02 exceeds the tolerance of 0.01.",
        "Account 99998 is inactive.",
    ]
    within = unbalanced.assign(debit_cents=[0, 1001])
    assert [e.rule for e in validate_run(RunToValidate("r", within, accounts.assign(active=True), tolerance_cents=1))] == []
