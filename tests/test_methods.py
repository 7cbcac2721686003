"""The shipped allocation methods, multi-dimensional targets, fallbacks and rule validation, on
literal frames with hand-computed cents (including splits where rounding each share on its own
would leave a cent over or short).

Pure core only (rules, methods, engine); plugins are in test_method_plugins.py, random inputs in
test_methods_properties.py, storing and posting runs in test_pipeline.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances, resolve_targets
from allocation_pipeline.core.allocation.methods import MethodError, available_methods, get_method
from allocation_pipeline.core.allocation.rules import RulesError, load_rules, parse_rules

PERIOD = "2026-10"
ENTITIES = pd.DataFrame({"entity": ["EE", "US"], "name": ["EE Ltd", "US Inc"], "currency": ["EUR", "USD"]})
COST_CENTERS = pd.DataFrame(
    {
        "cost_center": ["EE-IT", "EE-FAC", "A", "B", "C", "D", "E", "F", "OLD"],
        "entity": ["EE"] * 9,
        "kind": ["support", "support"] + ["operating"] * 7,
        "active": [True] * 8 + [False],
    }
)
TARGETS = {"members": ["A", "B", "C"]}


def gl(*rows):
    """GL lines from (account, cost_center, signed cents[, product, region, currency])."""
    records = []
    for row in rows:
        account, cost_center, cents = row[:3]
        product, region, currency = (list(row[3:]) + [None, None, "EUR"][len(row) - 3 :])[:3]
        records.append(
            {
                "entity": "EE", "account": account, "cost_center": cost_center, "product": product, "region": region,
                "debit_cents": max(cents, 0), "credit_cents": max(-cents, 0), "currency": currency,
            }
        )
    return pd.DataFrame(records)


def drivers(dimension="cost_center", **values):
    """Driver values: drivers(floor_area={"A": 1.0, ...}); a member left out has no value."""
    return pd.DataFrame(
        [{"period": PERIOD, "driver": d, "dimension": dimension, "cost_object": k, "value": float(v)} for d, per in values.items() for k, v in per.items()],
        columns=["period", "driver", "dimension", "cost_object", "value"],
    )


def rule(method="even_split", parameters=None, target=TARGETS, **extra):
    return {
        "id": extra.pop("id", "r1"), "entity": "EE", "source": extra.pop("source", {"accounts": ["64000"], "cost_centers": ["EE-IT"]}),
        "method": method, "parameters": parameters or {}, "target": target,
        "accounts": extra.pop("accounts", {"credit": "69100", "debit": "69000"}), **extra,
    }


def allocate(rules, ledger, driver_frame=None):
    parsed = parse_rules({"rules": list(rules)}, "rules.yaml", available_methods()).rules
    frame = driver_frame if driver_frame is not None else drivers()
    return allocate_period(PERIOD, list(parsed), gl_balances(ledger), frame, COST_CENTERS, ENTITIES)


def only_run(rules, ledger, driver_frame=None):
    (run,) = allocate(rules, ledger, driver_frame).runs
    assert run.total_debit_cents == run.total_credit_cents
    targets = run.lines[run.lines["role"] == "target"]
    assert int((targets["debit_cents"] - targets["credit_cents"]).sum()) == run.pool_cents
    return run


def cents(run, key="cost_center"):
    """Net cents per target (debit - credit), keyed by one column or a tuple of columns."""
    lines = run.lines[run.lines["role"] == "target"]
    keys = lines[key] if isinstance(key, str) else list(zip(*(lines[k] for k in key)))
    return dict(zip(keys, (lines["debit_cents"] - lines["credit_cents"]).tolist()))


# --- even split --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pool, members, expected",
    [
        # 33.333... each: the cent left over goes to the first target.
        (10_000, ["A", "B", "C"], {"A": 3334, "B": 3333, "C": 3333}),
        (-10_000, ["A", "B", "C"], {"A": -3334, "B": -3333, "C": -3333}),
        (100_001, ["A", "B", "C", "D"], {"A": 25_001, "B": 25_000, "C": 25_000, "D": 25_000}),
        # 0.6667 each: rounding each share would give 0.01 x 3 = 0.03 from a 0.02 pool.
        (2, ["A", "B", "C"], {"A": 1, "B": 1}),
        (5, ["A", "B", "C", "D", "E", "F"], {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1}),
    ],
)
def test_even_split(pool, members, expected):
    run = only_run([rule(target={"members": members})], gl(("64000", "EE-IT", pool)))
    assert cents(run) == expected
    for member in set(members) - set(expected):
        assert f"{member}'s share (16.666667%) of 0.05 rounds to nothing" in run.notes or f"{member}'s share (33.333333%) of 0.02 rounds to nothing" in run.notes


# --- fixed percentages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pool, percentages, expected",
    [
        (1_000_000, {"A": 60, "B": 25, "C": 15}, {"A": 600_000, "B": 250_000, "C": 150_000}),
        (10_000, {"A": 33.33, "B": 33.33, "C": 33.34}, {"A": 3333, "B": 3333, "C": 3334}),
        # 33.3 / 33.3 / 33.4 cents: the largest remainder (0.4) takes the cent, not the first.
        (100, {"A": 33.3, "B": 33.3, "C": 33.4}, {"A": 33, "B": 33, "C": 34}),
        # 5 / 2.5 / 2.5: rounding half up would give 5 + 3 + 3 = 11 cents from 10; ties go by position.
        (10, {"A": 50, "B": 25, "C": 25}, {"A": 5, "B": 3, "C": 2}),
        (-10, {"A": 50, "B": 25, "C": 25}, {"A": -5, "B": -3, "C": -2}),
        # A target of the rule that the percentages leave out gets nothing.
        (999, {"A": 100}, {"A": 999}),
    ],
)
def test_fixed_percentages(pool, percentages, expected):
    run = only_run([rule("fixed_percentages", {"percentages": percentages})], gl(("64000", "EE-IT", pool)))
    assert cents(run) == expected


@pytest.mark.parametrize(
    "percentages, message",
    [
        ({"A": 60, "B": 25, "C": 10}, "parameters.percentages: sum to 95, not 100"),
        ({"A": 110, "B": -10}, "parameters.percentages.B: '-10' is not a number of 0 or more"),
        ({"A": "lots", "B": 100}, "parameters.percentages.A: 'lots' is not a number of 0 or more"),
        ({}, "parameters.percentages: map each name to its percent"),
    ],
)
def test_fixed_percentages_are_checked_when_the_rules_load(percentages, message):
    with pytest.raises(RulesError, match=f"rules.yaml: rule 'r1': {message}"):
        allocate([rule("fixed_percentages", {"percentages": percentages})], gl(("64000", "EE-IT", 1)))


def test_fixed_percentages_naming_a_member_outside_the_targets_fail_the_rule():
    with pytest.raises(AllocationError, match=r"rule r1 \(EE, 2026-10\): parameters.percentages: Z not among the rule's targets"):
        allocate([rule("fixed_percentages", {"percentages": {"A": 50, "Z": 50}})], gl(("64000", "EE-IT", 100)))


# --- single driver -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pool, values, expected",
    [
        (1_000, {"A": 2, "B": 3, "C": 5}, {"A": 200, "B": 300, "C": 500}),
        (10_000, {"A": 7, "B": 7, "C": 7}, {"A": 3334, "B": 3333, "C": 3333}),
        # 1/3 and 2/3 of a cent: both floor to 0, the cent goes to the larger remainder.
        (1, {"A": 1, "B": 2}, {"B": 1}),
        # C has no value: it receives nothing and A and B share everything.
        (1_000, {"A": 1, "B": 3}, {"A": 250, "B": 750}),
        (-1_001, {"A": 1, "B": 1, "C": 2}, {"A": -250, "B": -250, "C": -501}),
    ],
)
def test_single_driver(pool, values, expected):
    run = only_run([rule("driver", {"driver": "floor_area"})], gl(("64000", "EE-IT", pool)), drivers(floor_area=values))
    assert cents(run) == expected
    lines = run.lines[run.lines["role"] == "target"]
    assert set(lines["driver"]) == {"floor_area"}
    assert dict(zip(lines["cost_center"], lines["driver_value"])) == {k: float(values[k]) for k in expected}


def test_single_driver_lists_targets_without_a_value():
    run = only_run([rule("driver", {"driver": "floor_area"})], gl(("64000", "EE-IT", 1_000)), drivers(floor_area={"A": 1, "B": 3, "C": 0}))
    assert run.notes == ("C has a zero weight and receives nothing",)
    run = only_run([rule("driver", {"driver": "floor_area"})], gl(("64000", "EE-IT", 1_000)), drivers(floor_area={"A": 1, "B": 3}))
    assert run.notes == ("C has no floor_area value in 2026-10 and receives nothing",)


# --- weighted multi-driver -----------------------------------------------------------------------

# A: cloud 300/400, licences 10/40, tickets 1/2, headcount 2/10 -> 40%x.75 + 30%x.25 + 20%x.5 + 10%x.2 = 49.5%
WEIGHTED = {"weights": {"cloud_spend": 40, "app_licences": 30, "it_tickets": 20, "headcount": 10}}
WEIGHTED_DRIVERS = drivers(
    cloud_spend={"A": 300, "B": 100}, app_licences={"A": 10, "B": 30}, it_tickets={"A": 1, "B": 1}, headcount={"A": 2, "B": 8},
)


@pytest.mark.parametrize(
    "pool, expected",
    [
        (100_000, {"A": 49_500, "B": 50_500}),
        # quotas 49,500.495 and 50,500.505 cents: the cent left goes to B.
        (100_001, {"A": 49_500, "B": 50_501}),
        (-100_001, {"A": -49_500, "B": -50_501}),
    ],
)
def test_weighted_drivers_issue_example(pool, expected):
    run = only_run([rule("weighted_drivers", WEIGHTED, target={"members": ["A", "B"]})], gl(("64000", "EE-IT", pool)), WEIGHTED_DRIVERS)
    assert cents(run) == expected


def test_weighted_drivers_a_target_without_one_driver_keeps_its_share_of_the_others():
    # x: 1, 1, 2 -> 25%, 25%, 50%; y: 3, 1, (none) -> 75%, 25%, 0%. Half each: 50%, 25%, 25%.
    values = drivers(x={"A": 1, "B": 1, "C": 2}, y={"A": 3, "B": 1})
    run = only_run([rule("weighted_drivers", {"weights": {"x": 50, "y": 50}})], gl(("64000", "EE-IT", 10_000)), values)
    assert cents(run) == {"A": 5_000, "B": 2_500, "C": 2_500}
    assert run.notes == ("C has no y value in 2026-10 and receives no share of its 50% weight",)
    explanations = dict(zip(run.lines["cost_center"], run.lines["explanation"]))
    assert explanations["A"] == "50.0000% of 100.00 by x 25.00% x 50% + y 75.00% x 50%"
    assert explanations["C"] == "25.0000% of 100.00 by x 50.00% x 50% + y none x 50%"
    assert set(run.lines.loc[run.lines["role"] == "target", "driver"]) == {"x 50% + y 50%"}
    # One cent: quotas 0.5, 0.25, 0.25 -> A.
    run = only_run([rule("weighted_drivers", {"weights": {"x": 50, "y": 50}})], gl(("64000", "EE-IT", 1)), values)
    assert cents(run) == {"A": 1}


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"weights": {"x": 50, "y": 40}}, "parameters.weights: sum to 90, not 100"),
        ({"weights": "x"}, "parameters.weights: map each name to its percent"),
        ({"weights": {"x": 100}, "driver": "x"}, "parameters: unknown field\\(s\\) driver"),
    ],
)
def test_weighted_drivers_parameters_are_checked(parameters, message):
    with pytest.raises(RulesError, match=f"rule 'r1': {message}"):
        allocate([rule("weighted_drivers", parameters)], gl(("64000", "EE-IT", 1)))


# --- activity-based ------------------------------------------------------------------------------

ACTIVITIES = {"activities": {"support": {"effort": 60, "driver": "it_tickets"}, "hosting": {"effort": 40, "driver": "cloud_spend"}}}
ACTIVITY_DRIVERS = drivers(it_tickets={"A": 10, "B": 30}, cloud_spend={"A": 300, "B": 100, "C": 100})


def test_activity_based_resources_to_activities_to_cost_objects():
    # support 6,000.00 over 40 tickets (150.00 each): A 1,500.00, B 4,500.00;
    # hosting 4,000.00 over 500 cloud units (8.00 each): A 2,400.00, B 800.00, C 800.00.
    run = only_run([rule("activity_based", ACTIVITIES)], gl(("64000", "EE-IT", 1_000_000)), ACTIVITY_DRIVERS)
    assert cents(run) == {"A": 390_000, "B": 530_000, "C": 80_000}
    assert run.notes == (
        "C has no it_tickets value in 2026-10 and receives nothing from activity support",
        "activity support: 60% of the pool = 6,000.00; 40 it_tickets; rate 150.0000 per it_tickets unit",
        "activity hosting: 40% of the pool = 4,000.00; 500 cloud_spend; rate 8.0000 per cloud_spend unit",
    )
    explanations = dict(zip(run.lines["cost_center"], run.lines["explanation"]))
    assert explanations["A"] == "39.0000% of 10,000.00 by support 10 it_tickets x 150.0000 + hosting 300 cloud_spend x 8.0000"
    assert explanations["C"] == "8.0000% of 10,000.00 by support none + hosting 100 cloud_spend x 8.0000"


@pytest.mark.parametrize(
    "pool, expected",
    [
        # Both activities split evenly: 33.33... each, the first target takes the cent.
        (10_000, {"A": 3334, "B": 3333, "C": 3333}),
        (-2, {"A": -1, "B": -1}),
    ],
)
def test_activity_based_rounding(pool, expected):
    parameters = {"activities": {"a": {"effort": 50, "driver": "d1"}, "b": {"effort": 50, "driver": "d2"}}}
    values = drivers(d1={"A": 1, "B": 1, "C": 1}, d2={"A": 5, "B": 5, "C": 5})
    assert cents(only_run([rule("activity_based", parameters)], gl(("64000", "EE-IT", pool)), values)) == expected


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"activities": {"a": {"effort": 60, "driver": "x"}, "b": {"effort": 30, "driver": "y"}}}, "parameters.activities: efforts sum to 90, not 100"),
        ({"activities": {"a": {"effort": 100}}}, "parameters.activities.a.driver: name the driver"),
        ({"activities": {"a": {"driver": "x"}}}, "parameters.activities.a.effort: give the activity's percent of the pool"),
        ({"activities": {"a": {"effort": 100, "driver": "x", "rate": 3}}}, "parameters.activities.a: unknown field\\(s\\) rate"),
        ({"activities": []}, "parameters.activities: map each activity to"),
    ],
)
def test_activity_based_parameters_are_checked(parameters, message):
    with pytest.raises(RulesError, match=f"rule 'r1': {message}"):
        allocate([rule("activity_based", parameters)], gl(("64000", "EE-IT", 1)))


def test_activity_with_a_zero_driver_total_names_the_activity():
    with pytest.raises(AllocationError, match=r"rule r1 \(EE, 2026-10\): driver 'cloud_spend' totals zero over the targets in 2026-10 \(activity hosting\)"):
        allocate([rule("activity_based", ACTIVITIES)], gl(("64000", "EE-IT", 100)), drivers(it_tickets={"A": 1}, cloud_spend={"A": 0}))


# --- multi-dimensional targets -------------------------------------------------------------------

PRODUCT_BY_REGION = {"dimensions": ["product", "region"], "members": {"product": ["P1", "P2"], "region": ["EU", "US"]}}


def test_product_of_shares_carries_every_dimension_on_the_lines():
    # product by revenue 3:1 -> 75% / 25%; region 75% / 25% -> 56.25%, 18.75%, 18.75%, 6.25% of 1,000.00.
    parameters = {
        "product": {"method": "driver", "parameters": {"driver": "revenue"}},
        "region": {"method": "fixed_percentages", "parameters": {"percentages": {"EU": 75, "US": 25}}},
    }
    values = drivers("product", revenue={"P1": 3, "P2": 1})
    run = only_run([rule("product_of_shares", parameters, target=PRODUCT_BY_REGION)], gl(("64000", "EE-IT", 100_000)), values)
    assert cents(run, ("cost_center", "product", "region")) == {
        ("EE-IT", "P1", "EU"): 56_250, ("EE-IT", "P1", "US"): 18_750, ("EE-IT", "P2", "EU"): 18_750, ("EE-IT", "P2", "US"): 6_250,
    }
    line = run.lines[run.lines["role"] == "target"].iloc[0]
    assert line["explanation"] == "56.2500% of 1,000.00 by product P1 75.00% by revenue 3.00 x region EU 75.00% by fixed percentages"
    assert line["driver"] == "product by revenue x region by fixed percentages"
    # 0.10: quotas 5.625, 1.875, 1.875, 0.625 cents. Rounding each would post 6 + 2 + 2 + 1 = 11 cents.
    run = only_run([rule("product_of_shares", parameters, target=PRODUCT_BY_REGION)], gl(("64000", "EE-IT", 10)), values)
    assert cents(run, ("product", "region")) == {("P1", "EU"): 6, ("P1", "US"): 2, ("P2", "EU"): 2}
    assert "P2*US's share (6.250000%) of 0.10 rounds to nothing" in run.notes


def test_driver_values_by_combination():
    # Usage measured per product x region: dimension "product*region", cost object "P1*EU".
    values = drivers("product*region", api_calls={"P1*EU": 1, "P1*US": 2, "P2*EU": 0, "P2*US": 5})
    run = only_run([rule("driver", {"driver": "api_calls"}, target=PRODUCT_BY_REGION)], gl(("64000", "EE-IT", 8_000)), values)
    assert cents(run, ("product", "region")) == {("P1", "EU"): 1_000, ("P1", "US"): 2_000, ("P2", "US"): 5_000}
    assert run.notes == ("P2*EU has a zero weight and receives nothing",)
    fixed = {"percentages": {"P1*EU": 50, "P2*US": 50}}
    run = only_run([rule("fixed_percentages", fixed, target=PRODUCT_BY_REGION)], gl(("64000", "EE-IT", 3)), values)
    assert cents(run, ("product", "region")) == {("P1", "EU"): 2, ("P2", "US"): 1}


def test_cost_center_by_product_with_cost_centers_selected_by_where():
    target = {"dimensions": ["cost_center", "product"], "where": {"kind": "operating"}, "members": {"product": ["P1", "P2"]}}
    assert resolve_targets(parse_rules({"rules": [rule(target=target)]}).rules[0].target, COST_CENTERS, "EE")[:3] == ("A*P1", "A*P2", "B*P1")
    run = only_run([rule(target=target)], gl(("64000", "EE-IT", 1_200)))
    lines = run.lines[run.lines["role"] == "target"]
    assert len(lines) == 12 and set(lines["cost_center"]) == {"A", "B", "C", "D", "E", "F"} and set(lines["product"]) == {"P1", "P2"}
    assert set(lines["debit_cents"]) == {100}


def test_a_non_cost_center_target_books_on_the_source_or_the_declared_cost_center():
    parameters = {"product": {"method": "even_split"}, "region": {"method": "even_split"}}
    two_sources = {"accounts": ["64000"], "cost_centers": ["EE-IT", "EE-FAC"]}
    ledger = gl(("64000", "EE-IT", 200), ("64000", "EE-FAC", 200))
    with pytest.raises(AllocationError, match="target.cost_center is needed to book a non-cost-center target from several source cost centers"):
        allocate([rule("product_of_shares", parameters, target=PRODUCT_BY_REGION, source=two_sources)], ledger)
    target = {**PRODUCT_BY_REGION, "cost_center": "EE-FAC"}
    run = only_run([rule("product_of_shares", parameters, target=target, source=two_sources)], ledger)
    assert set(run.lines.loc[run.lines["role"] == "target", "cost_center"]) == {"EE-FAC"}
    assert set(run.lines.loc[run.lines["role"] == "target", "debit_cents"]) == {100}


@pytest.mark.parametrize(
    "target, method, parameters, message",
    [
        ({"dimensions": ["product"], "members": {"product": ["P1"]}}, "even_split", {}, "target.dimensions: list two or more dimensions"),
        ({"dimensions": ["product", "segment"], "members": {"product": ["P1"], "segment": ["S"]}}, "even_split", {}, "target.dimensions: segment not among the dimensions the lines carry"),
        ({"dimensions": ["product", "region"], "members": {"product": ["P1"]}}, "even_split", {}, "target.members.region: list the members"),
        ({"dimensions": ["product", "region"], "members": {"product": ["P*1"], "region": ["EU"]}}, "even_split", {}, "target.members.product: 'P\\*1' contains"),
        ({"dimension": "project", "members": ["X"]}, "even_split", {}, "target.dimension: 'project' is not one the lines carry"),
        ({"members": ["A", "B", "A"]}, "even_split", {}, "target.members: 'A' is listed twice"),
        ({"dimensions": ["product", "region"], "members": {"product": ["P1", "P1"], "region": ["EU"]}}, "even_split", {}, "target.members.product: 'P1' is listed twice"),
        (PRODUCT_BY_REGION, "product_of_shares", {"product": {"method": "even_split"}}, "parameters.region: give the method sharing this dimension"),
        (PRODUCT_BY_REGION, "product_of_shares", {"product": {"method": "magic"}, "region": {"method": "even_split"}}, "parameters.product.method: unknown method 'magic'"),
        (PRODUCT_BY_REGION, "product_of_shares", {"product": {"method": "driver"}, "region": {"method": "even_split"}}, "parameters.product.parameters.driver: name the driver"),
        (TARGETS, "product_of_shares", {}, "method: product_of_shares needs target.dimensions with two or more dimensions"),
    ],
)
def test_multi_dimensional_targets_are_checked(target, method, parameters, message):
    with pytest.raises(RulesError, match=f"rule 'r1': {message}"):
        allocate([rule(method, parameters, target=target)], gl(("64000", "EE-IT", 1)))


# --- fallback, edge cases and ordering -----------------------------------------------------------


def test_a_zero_driver_total_fails_naming_rule_driver_and_period():
    with pytest.raises(AllocationError, match=r"rule r1 \(EE, 2026-10\): driver 'floor_area' totals zero over the targets in 2026-10"):
        allocate([rule("driver", {"driver": "floor_area"})], gl(("64000", "EE-IT", 100)), drivers(floor_area={"A": 0}))
    with pytest.raises(AllocationError, match=r"rule r1 \(EE, 2026-10\): driver 'y' totals zero over the targets in 2026-10"):
        allocate([rule("weighted_drivers", {"weights": {"x": 50, "y": 50}})], gl(("64000", "EE-IT", 100)), drivers(x={"A": 1}))


@pytest.mark.parametrize(
    "fallback, expected",
    [
        ("even_split", {"A": 3334, "B": 3333, "C": 3333}),
        ({"method": "driver", "parameters": {"driver": "headcount"}}, {"A": 2_500, "C": 7_500}),
    ],
)
def test_a_declared_fallback_replaces_a_zero_driver_with_a_note(fallback, expected):
    values = drivers(floor_area={"A": 0, "B": 0}, headcount={"A": 1, "C": 3})
    run = only_run([rule("driver", {"driver": "floor_area"}, fallback=fallback)], gl(("64000", "EE-IT", 10_000)), values)
    assert cents(run) == expected
    method = fallback if isinstance(fallback, str) else fallback["method"]
    assert run.notes[0] == f"driver 'floor_area' totals zero over the targets in 2026-10: shared by the fallback method {method} instead of driver"
    assert run.lines.loc[run.lines["role"] == "target", "driver"].iloc[0].endswith("(fallback)")
    explanations = list(run.lines.loc[run.lines["role"] == "target", "explanation"])
    assert not [e for e in explanations if "nan" in e.lower()], explanations


def test_a_fallback_without_driver_values_explains_by_its_name_not_nan():
    run = only_run([rule("driver", {"driver": "floor_area"}, fallback="even_split")], gl(("64000", "EE-IT", 10_000)), drivers(floor_area={"A": 0}))
    explanations = list(run.lines.loc[run.lines["role"] == "target", "explanation"])
    assert explanations[0] == "33.3333% of 100.00 by even split (fallback)", explanations


def test_a_fallback_applies_to_each_dimension_of_a_product_of_shares():
    parameters = {"product": {"method": "driver", "parameters": {"driver": "revenue"}}, "region": {"method": "even_split"}}
    run = only_run(
        [rule("product_of_shares", parameters, target=PRODUCT_BY_REGION, fallback="even_split")], gl(("64000", "EE-IT", 400)), drivers("product", revenue={"P1": 0})
    )
    assert set(cents(run, ("product", "region")).values()) == {100}
    assert run.notes == ("product: driver 'revenue' totals zero over the targets in 2026-10: shared by the fallback method even_split instead of driver",)


def test_a_failing_fallback_reports_both():
    with pytest.raises(AllocationError, match="totals zero over the targets in 2026-10, and the fallback driver failed too: driver 'headcount' totals zero"):
        allocate([rule("driver", {"driver": "floor_area"}, fallback={"method": "driver", "parameters": {"driver": "headcount"}})], gl(("64000", "EE-IT", 1)))


def test_every_failing_rule_is_reported_at_once_and_empty_pools_are_notes():
    rules = [
        rule("driver", {"driver": "floor_area"}, id="zero_driver"),
        rule(id="foreign", source={"accounts": ["65000"]}),
        rule(id="empty", source={"accounts": ["66000"]}),
        rule(id="fine", source={"accounts": ["62000"]}),
    ]
    ledger = gl(("64000", "EE-IT", 100), ("65000", "EE-IT", 100, None, None, "USD"), ("62000", "EE-FAC", 300))
    with pytest.raises(AllocationError) as error:
        allocate(rules, ledger)
    assert str(error.value) == (
        "rule zero_driver (EE, 2026-10): driver 'floor_area' totals zero over the targets in 2026-10; "
        "rule foreign (EE, 2026-10): pool holds USD amounts but entity EE books in EUR"
    )
    outcome = allocate(rules[2:], ledger)
    assert outcome.notes == ["rule empty: pool is empty in 2026-10; no run"]
    assert [r.rule_id for r in outcome.runs] == ["fine"]


def test_a_negative_pool_keeps_its_signs_across_mixed_sources():
    # +1.00 at EE-IT, -4.00 at EE-FAC: the pool is -3.00; each source line reverses its own balance.
    ledger = gl(("64000", "EE-IT", 100), ("64000", "EE-FAC", -400))
    run = only_run([rule(source={"accounts": ["64000"]}, accounts={"debit": "69000"}, target={"members": ["A", "B"]})], ledger)
    sources = run.lines[run.lines["role"] == "source"]
    assert sources[["account", "cost_center", "debit_cents", "credit_cents"]].values.tolist() == [["64000", "EE-FAC", 400, 0], ["64000", "EE-IT", 0, 100]]
    assert cents(run) == {"A": -150, "B": -150}
    assert run.pool_cents == -300


def test_rules_run_in_declared_order_and_a_later_rule_pools_an_earlier_allocation():
    first = rule(id="first", order=20, target={"members": ["A", "B"]})
    second = rule(id="second", order=10, source={"accounts": ["62000"], "cost_centers": ["EE-FAC"]}, target={"members": ["EE-IT"]})
    third = rule(id="third", order=30, source={"accounts": ["69000"], "cost_centers": ["A"]}, accounts={"debit": "69000", "credit": "69500"}, target={"members": ["C", "D"]})
    outcome = allocate([first, second, third], gl(("62000", "EE-FAC", 1_000), ("64000", "EE-IT", 3_000)))
    assert [r.rule_id for r in outcome.runs] == ["second", "first", "third"]
    # second moves 10.00 to EE-IT on 69000, which `first` does not pool (64000 only): A gets 15.00.
    assert outcome.runs[2].pool_cents == 1_500
    assert cents(outcome.runs[2]) == {"C": 750, "D": 750}


def test_source_filters_by_account_range_cost_center_and_dimension():
    ledger = gl(
        ("62000", "EE-FAC", 100, "P1"), ("62050", "EE-FAC", 200, "P2"), ("62101", "EE-FAC", 400, "P1"), ("62000", "EE-IT", 800, "P1"),
    )
    source = {"accounts": ["62000-62100"], "cost_centers": ["EE-FAC"], "dimensions": {"product": ["P1"]}}
    assert only_run([rule(source=source)], ledger).pool_cents == 100
    assert only_run([rule(source={"accounts": ["62000-62100", "62101"]})], ledger).pool_cents == 1_500


def test_without_a_credit_account_the_pooled_accounts_are_credited_with_their_dimensions():
    ledger = gl(("62000", "EE-FAC", 100, "P1", "EU"), ("62100", "EE-FAC", 200))
    run = only_run([rule(source={"accounts": ["62000-62100"]}, accounts={"debit": "69000"})], ledger)
    sources = run.lines[run.lines["role"] == "source"]
    assert sources[["account", "product", "region", "credit_cents"]].fillna("-").values.tolist() == [["62000", "P1", "EU", 100], ["62100", "-", "-", 200]]


def test_the_same_inputs_always_give_the_same_cents():
    values = drivers(x={"A": 1 / 3, "B": 2 / 7, "C": 0.1}, y={"A": 5, "C": 11})
    rules = [rule("weighted_drivers", {"weights": {"x": 33.3, "y": 66.7}})]
    first = only_run(rules, gl(("64000", "EE-IT", 1_000_003)), values)
    for _ in range(3):
        again = only_run(rules, gl(("64000", "EE-IT", 1_000_003)), values)
        pd.testing.assert_frame_equal(first.lines, again.lines)
        assert first.fingerprint == again.fingerprint


# --- rules file and registry ---------------------------------------------------------------------


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(MethodError, match="unknown method 'magic'; available: driver, even_split, fixed_percentages, weighted_drivers, activity_based"):
        get_method("magic")
    with pytest.raises(RulesError, match="rule 'r1': method: unknown method 'magic'; available: driver, even_split, fixed_percentages, weighted_drivers, activity_based"):
        allocate([rule("magic")], gl(("64000", "EE-IT", 1)))
    with pytest.raises(RulesError, match="rule 'r1': fallback.method: unknown method 'evenly'"):
        allocate([rule(fallback="evenly")], gl(("64000", "EE-IT", 1)))
    # Without a registry, parse_rules leaves methods to the engine, which reports them per rule.
    (parsed,) = parse_rules({"rules": [rule("magic")]}).rules
    with pytest.raises(AllocationError, match=r"rule r1 \(EE, 2026-10\): unknown method 'magic'; available: driver"):
        allocate_period(PERIOD, [parsed], gl_balances(gl(("64000", "EE-IT", 1))), drivers(), COST_CENTERS, ENTITIES)


def test_every_shipped_method_explains_itself_to_an_analyst():
    for name, method in available_methods().items():
        doc = type(method).__doc__ or ""
        assert len(doc.split()) >= 25, f"{name} needs a docstring an analyst can read"


def test_a_rules_file_reports_every_problem_naming_rule_and_field(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        """
version: 1
rules:
  - id: bad_weights
    entity: EE
    source: {accounts: ["64000"], dimensions: {segment: [ENT]}}
    method: weighted_drivers
    parameters: {weights: {cloud_spend: 70, it_tickets: 20}}
    fallback: {method: even_split, parameters: {spread: 1}}
    target: {dimension: cost_center, members: [A, B]}
    accounts: {debit: "69000"}
  - id: bad_target
    entity: EE
    source: {accounts: ["64000"]}
    method: driver
    parameters: {driver: floor_area}
    target: {dimension: product, where: {kind: operating}, cost_center: 12}
    accounts: {debit: "69000"}
""",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as error:
        load_rules(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    for part in (
        "rule 'bad_weights': source.dimensions: 'segment' is not one of product, region (cost centers go in source.cost_centers)",
        "rule 'bad_weights': parameters.weights: sum to 90, not 100",
        "rule 'bad_weights': fallback.parameters: even_split takes none (got spread)",
        "rule 'bad_target': target.cost_center: must be a cost center id",
        "rule 'bad_target': target.where: selects cost centers only; list the product members",
    ):
        assert part in message


def test_the_sample_rules_file_loads_against_the_registry():
    from allocation_pipeline.settings import PROJECT_ROOT

    rules = load_rules(PROJECT_ROOT / "allocation_pipeline" / "sample" / "rules.yaml")
    assert [r.id for r in rules.rules] == ["it_overhead_split", "ee_facilities_by_floor_area", "us_facilities_by_floor_area"]
