"""What-if scenarios in the core (`core.insights.whatif`): baseline and scenario side by side.

Covered: a scenario without changes equals the baseline to the cent (and the baseline is what
the engine allocates); moving headcount between cost centers changes exactly what the engine
gives for the moved drivers, and every pool still balances; a new cost center receives cost from
a rule selecting operating cost centers; a rule's method and percentages replaced, a rule removed
and one added; the stored frames; scenario errors named by entry. Literal frames; nothing is
written (the warehouse side is in test_insights_pipeline.py).
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_pipeline.core.allocation.allocate import allocate_period
from allocation_pipeline.core.insights.whatif import PeriodInputs, ScenarioError, load_scenario, parse_scenario, run_scenario
from allocation_pipeline.core.allocation.rules import parse_rules
from tests import insights_world as world

HEADCOUNT_RULE = {
    "id": "people_costs", "entity": "US", "order": 20, "source": {"accounts": ["50000"], "cost_centers": ["IT"]},
    "method": "driver", "parameters": {"driver": "headcount"}, "target": {"dimension": "cost_center", "where": {"kind": "operating"}},
    "accounts": {"credit": "69300", "debit": "69000"},
}


def _inputs(document=None) -> PeriodInputs:
    document = document or world.rules_document(extra_rules=[HEADCOUNT_RULE])
    balances = world.balances(extra=[("US", "50000", "IT", "", "", "USD", 12_345_678)])
    return PeriodInputs(world.PERIOD, balances, world.driver_values(), world.cost_centers(), world.entities(), document)


def _scenario(**fields):
    return parse_scenario({"name": "test", **fields})


def test_a_scenario_without_changes_equals_the_baseline():
    inputs = _inputs()
    result = run_scenario(inputs, _scenario())
    assert result.changes == ()
    assert (result.lines["baseline_cents"] == result.lines["scenario_cents"]).all()
    assert (result.lines["difference_cents"] == 0).all()
    engine = allocate_period(world.PERIOD, parse_rules(inputs.rules_document).rules, inputs.balances, inputs.driver_values, inputs.cost_centers, inputs.entities)
    targets = pd.concat([r.lines[r.lines["role"] == "target"].assign(rule_id=r.rule_id) for r in engine.runs])
    expected = targets.groupby(["rule_id", "cost_center"])["debit_cents"].sum()
    got = result.lines[result.lines["baseline_cents"] > 0].set_index(["rule_id", "cost_center"])["baseline_cents"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert "Changes: none (the scenario equals the baseline)" in result.report()
    assert "0 of 11 cost object(s) change." in result.report()


def test_moving_headcount_changes_exactly_what_the_engine_gives():
    inputs = _inputs()
    result = run_scenario(inputs, _scenario(drivers=[{"move": "headcount", "from": "BU02", "to": "BU03", "amount": 5}]))
    assert result.changes == ("headcount: 5 moved from BU02 to BU03",)
    moved = inputs.driver_values.copy()
    moved.loc[(moved["driver"] == "headcount") & (moved["cost_object"] == "BU02"), "value"] -= 5
    moved.loc[(moved["driver"] == "headcount") & (moved["cost_object"] == "BU03"), "value"] += 5
    (people,) = [r for r in allocate_period(world.PERIOD, parse_rules(inputs.rules_document).rules, inputs.balances, moved, inputs.cost_centers, inputs.entities).runs if r.rule_id == "people_costs"]
    expected = people.lines[people.lines["role"] == "target"].set_index("cost_center")["debit_cents"]
    scenario = result.lines[(result.lines["rule_id"] == "people_costs") & (result.lines["cost_center"] != "IT")].set_index("cost_center")["scenario_cents"]
    assert scenario.to_dict() == expected.to_dict()
    changed = result.lines[result.lines["difference_cents"] != 0]
    assert set(changed["rule_id"]) == {"people_costs"}  # the IT key does not use headcount
    bu = result.by_cost_object().set_index("cost_center")
    assert bu.loc["BU02", "difference_cents"] < 0 < bu.loc["BU03", "difference_cents"]
    assert result.lines.groupby("rule_id")["scenario_cents"].sum().eq(0).all()  # every pool still balances


def test_a_new_cost_center_receives_from_rules_selecting_operating_centers():
    centers = [{"cost_center": "BU11", "name": "New Ventures", "entity": "US", "drivers": {"headcount": 40, "cloud_spend": 100, "app_licences": 5, "it_tickets": 3}}]
    result = run_scenario(_inputs(), _scenario(cost_centers=centers))
    assert result.changes == ("new cost center BU11 (US, operating) with headcount 40, cloud_spend 100, app_licences 5, it_tickets 3",)
    new = result.lines[result.lines["cost_center"] == "BU11"].set_index("rule_id")
    assert (new["baseline_cents"] == 0).all() and (new["scenario_cents"] > 0).all()
    assert set(new.index) == {"corporate_it", "people_costs"}
    assert result.by_cost_object()["difference_cents"].sum() == 0


def test_rule_changes_removals_and_additions():
    percentages = {"percentages": {"BU01": 50, "BU02": 50}}
    added = dict(HEADCOUNT_RULE, id="people_costs_even", method="even_split", parameters={})
    result = run_scenario(
        _inputs(), _scenario(rules={"corporate_it": {"method": "fixed_percentages", "parameters": percentages}}, remove_rules=["people_costs"], add_rules=[added])
    )
    assert result.changes[0].startswith("rule corporate_it: method weighted_drivers -> fixed_percentages, parameters {weights:")
    assert result.changes[1:] == ("rule people_costs removed", "rule people_costs_even added (even_split)")
    it = result.lines[(result.lines["rule_id"] == "corporate_it") & (result.lines["scenario_cents"] > 0)]
    assert it.set_index("cost_center")["scenario_cents"].to_dict() == {"BU01": world.POOL_CENTS // 2, "BU02": world.POOL_CENTS // 2}
    runs = result.runs.set_index("rule_id")
    assert runs.loc["people_costs", "scenario_method"] == "no run" and runs.loc["people_costs_even", "baseline_method"] == "no run"
    stored = result.results_frame()
    assert list(stored.columns[:2]) == ["scenario", "period"] and (stored["scenario"] == "test").all()
    row = result.scenario_frame(pd.Timestamp("2026-11-03 06:00"))
    assert row["baseline_total_cents"].iloc[0] == world.POOL_CENTS + 12_345_678 == row["scenario_total_cents"].iloc[0]
    assert row["objects_changed"].iloc[0] == 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rules": {"missing": {"method": "even_split"}}}, "rules.missing: no such rule in the rules file"),
        ({"remove_rules": ["missing"]}, "remove_rules: no rule 'missing'"),
        ({"drivers": [{"move": "headcount", "from": "BU01", "to": "BU02", "amount": 10_000}]}, "cannot move 10,000"),
        ({"drivers": [{"move": "headcount", "from": "NOPE", "to": "BU02", "amount": 1}]}, "NOPE has no headcount value to move"),
        ({"cost_centers": [{"cost_center": "BU01", "entity": "US"}]}, "cost_centers #1: BU01 already exists"),
        ({"rules": {"corporate_it": {"parameters": {"weights": {"cloud_spend": 90}}}}}, "sum to 90, not 100"),
    ],
)
def test_scenarios_that_cannot_run_say_why(fields, message):
    with pytest.raises(ScenarioError) as caught:
        run_scenario(_inputs(), _scenario(**fields))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"drivers": [{"move": "headcount", "to": "BU02", "amount": 1}]}, "drivers #1: move: 'from' is missing"),
        ({"drivers": [{"set": "headcount", "scale": "x"}]}, "give exactly one of move, set or scale"),
        ({"drivers": [{"scale": "headcount", "factor": -1}]}, "factor must be a number of 0 or more"),
        ({"rules": {"x": {"id": "y"}}}, "rules.x: the id cannot change"),
        ({"colour": "red"}, "unknown field(s) colour"),
    ],
)
def test_scenario_files_are_validated(tmp_path, document, message):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_a_scenarios_name_comes_from_the_option_the_file_or_its_stem(tmp_path):
    path = tmp_path / "reorg.yaml"
    path.write_text("description: x\n")
    assert load_scenario(path).name == "reorg"
    path.write_text("name: named\n")
    assert load_scenario(path).name == "named" and load_scenario(path, "override").name == "override"
    assert load_scenario(path).text == "name: named\n"
