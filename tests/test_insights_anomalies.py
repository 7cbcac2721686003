"""Anomaly flags and the `insights:` configuration (`core.insights.anomalies`, `core.insights.config`).

Covered: a clean allocation (consumption planted from the key's own weights plus small noise,
allocated by the real engine with `weighted_drivers`) raises no flag of any kind; planted
over-consumers are flagged as under-charged with the amounts and, by median/MAD, as paying far
less per unit than peers, both of them (one does not hide the other); a headcount key over- and
under-charges against consumption; period jumps name the driver that moved; a drop in the key's
fit; severities; blocking configuration feeding `flags_for_run`/`blocking_flags` (the approval
policy feed); configuration errors named by field. Pure functions on literal frames.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_pipeline.core.insights.anomalies import (
    allocations_from_runs, blocking_flags, detect_flags, flags_for_rule, flags_for_run, flags_frame, flags_from_frame, severity_of,
)
from allocation_pipeline.core.insights.config import InsightsConfigError, parse_insights, pool_rule
from tests import insights_world as world

OVER = {"BU04": 1.8, "BU09": 2.0}


def _config(**insights):
    document = world.rules_document()
    document["insights"].update(insights)
    return parse_insights(document)


def _rules():
    return {r.id: r for r in world.rule_set().rules}


def _flags(values, config=None, previous=None, previous_values=None, history=None, **rule_kwargs):
    runs = world.allocate(values, **rule_kwargs)
    rules = {r.id: r for r in world.rule_set(**rule_kwargs).rules}
    return detect_flags(world.PERIOD, allocations_from_runs(runs, rules), values, config or _config(), rules, previous, previous_values, history)


def test_a_clean_allocation_raises_no_flag_of_any_kind():
    values = world.driver_values()
    previous_values = world.driver_values(world.PREVIOUS)
    previous = allocations_from_runs(world.allocate(previous_values, world.PREVIOUS), _rules())
    history = pd.concat([world.driver_values(p) for p in ("2026-06", "2026-07", "2026-08", world.PREVIOUS)] + [values])
    assert _flags(values, previous=previous, previous_values=previous_values, history=history) == []


def test_planted_overconsumers_are_flagged_as_under_charged_with_the_amounts():
    values = world.driver_values(overconsumers=OVER)
    flags = _flags(values)
    gaps = [f for f in flags if f.kind == "consumption_gap" and f.amount_cents < 0]
    assert {f.cost_object for f in gaps} == set(OVER)
    consumption = values[values["driver"] == "it_consumption"].set_index("cost_object")["value"]
    run = world.allocate(values)[0]
    received = run.lines[run.lines["role"] == "target"].set_index("cost_center")["debit_cents"]
    for flag in gaps:
        expected = received[flag.cost_object] - consumption[flag.cost_object] / consumption.sum() * world.POOL_CENTS
        assert abs(flag.amount_cents - expected) <= 1
        assert "under-charged by" in flag.message and flag.cost_object in flag.message and "USD" in flag.message
        assert flag.severity in ("medium", "high") and flag.value < 0 and flag.rule_id == "corporate_it"


def test_one_outlier_does_not_hide_another_among_peers():
    flags = [f for f in _flags(world.driver_values(overconsumers=OVER)) if f.kind == "peer_outlier"]
    assert {f.cost_object for f in flags if f.amount_cents < 0} == set(OVER)
    for flag in flags:
        assert "per unit of it_consumption" in flag.message and "robust z" in flag.message and abs(flag.value) >= 3.5


def test_a_headcount_key_over_and_under_charges_against_consumption():
    values = world.driver_values()
    flags = [f for f in _flags(values, method="driver", parameters={"driver": "headcount"}) if f.kind == "consumption_gap"]
    over = [f for f in flags if f.amount_cents > 0]
    under = [f for f in flags if f.amount_cents < 0]
    assert over and under
    assert all("over-charged by" in f.message for f in over) and all("under-charged by" in f.message for f in under)
    # What is over-charged somewhere is under-charged elsewhere: flagged amounts cannot exceed the pool.
    assert sum(f.amount_cents for f in over) <= world.POOL_CENTS


def test_a_jump_names_the_driver_that_moved():
    previous_values = world.driver_values(world.PREVIOUS)
    values = world.driver_values(scale={("cloud_spend", "BU05"): 4.0})
    previous = allocations_from_runs(world.allocate(previous_values, world.PREVIOUS), _rules())
    jumps = [f for f in _flags(values, previous=previous, previous_values=previous_values) if f.kind == "period_jump"]
    bu05 = next(f for f in jumps if f.cost_object == "BU05")
    assert bu05.amount_cents > 0 and bu05.value > 25
    assert "more than the previous period's" in bu05.message
    assert "mostly because its cloud_spend rose from" in bu05.message
    # The others' shares fell because BU05's rose: none of them is explained by its own cloud spend rising.
    assert all(f.amount_cents < 0 for f in jumps if f.cost_object != "BU05")


def test_a_drop_in_the_keys_fit_is_flagged():
    history = pd.concat([world.driver_values(p) for p in ("2026-06", "2026-07", "2026-08", world.PREVIOUS)])
    scrambled = world.driver_values()
    consumption = scrambled["driver"] == "it_consumption"
    scrambled.loc[consumption, "value"] = scrambled.loc[consumption, "value"].to_numpy()[::-1]
    flags = [f for f in _flags(scrambled, history=pd.concat([history, scrambled])) if f.kind == "fit_drop"]
    assert len(flags) == 1
    (flag,) = flags
    assert flag.cost_object is None and flag.amount_cents is None and flag.value >= 0.2
    assert "follows it_consumption less well in 2026-10" in flag.message and "2026-06 to 2026-09" in flag.message


def test_blocking_flags_feed_the_approval_policy():
    values = world.driver_values(overconsumers=OVER)
    run = world.allocate(values)[0]
    rule = _rules()["corporate_it"]
    relaxed = flags_for_run(run, rule, values, _config())
    assert relaxed and blocking_flags(relaxed) == []
    strict = flags_for_run(run, rule, values, _config(blocking={"consumption_gap": "medium"}))
    held = blocking_flags(strict)
    assert {f.cost_object for f in held} == set(OVER) and all(f.kind == "consumption_gap" for f in held)
    assert flags_for_rule(strict, "corporate_it") == strict and flags_for_rule(strict, "other") == []


def test_flags_round_trip_through_a_frame():
    flags = _flags(world.driver_values(overconsumers=OVER))
    frame = flags_frame(flags)
    assert list(frame["kind"]) == [f.kind for f in flags]
    assert flags_from_frame(frame) == flags


@pytest.mark.parametrize(("ratio", "severity"), [(1.0, "low"), (1.39, "low"), (1.4, "medium"), (1.99, "medium"), (2.0, "high"), (9.0, "high")])
def test_severity_by_how_far_past_the_threshold(ratio, severity):
    assert severity_of(ratio) == severity


def test_configuration_defaults_and_blocking():
    config = parse_insights({"rules": []})
    assert config.pools == () and config.blocking == {} and not config.blocks("consumption_gap", "high")
    config = _config(blocking={"consumption_gap": "medium"}, thresholds={"jump_min_amount": "250.50", "peer_z": 3})
    assert config.blocks("consumption_gap", "high") and config.blocks("consumption_gap", "medium") and not config.blocks("consumption_gap", "low")
    assert config.thresholds.jump_min_cents == 25_050 and config.thresholds.peer_z == 3.0


@pytest.mark.parametrize(
    ("insights", "message"),
    [
        ({"blocking": {"typo": "high"}}, "blocking: 'typo' is not a flag kind"),
        ({"blocking": {"period_jump": "severe"}}, "blocking.period_jump: 'severe' is not a severity"),
        ({"thresholds": {"peer_z": "big"}}, "thresholds.peer_z: 'big' is not a number of 0 or more"),
        ({"thresholds": {"jump_min_amount": "1.005"}}, "thresholds.jump_min_amount:"),
        ({"pools": [{"id": "a", "consumption": "x", "candidates": []}]}, "pool 'a': candidates: list the candidate drivers"),
        ({"pools": [{"id": "a", "consumption": "x", "candidates": ["x"]}]}, "the consumption metric x cannot be its own driver"),
        ({"pools": [{"id": "a", "consumption": "x", "candidates": ["y"]}, {"id": "a", "consumption": "x", "candidates": ["y"]}]}, "pool 'a': id: duplicate"),
        ({"pools": [{"id": "a", "consumption": "x", "candidates": ["y"], "proposal": {"method": "driver"}}]}, "proposal: field(s) method not allowed"),
        ({"pools": [{"id": "a", "consumption": "x", "candidates": ["y"], "proposal": {"entity": "US"}}]}, "source: must be a mapping"),
        ({"history": 3}, "unknown field(s) history"),
    ],
)
def test_configuration_errors_name_the_field(insights, message):
    with pytest.raises(InsightsConfigError, match="insights") as caught:
        parse_insights({"rules": [], "insights": insights}, "rules.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("rules.yaml: insights: ")


def test_a_pool_without_a_rule_is_built_from_its_proposal():
    document = world.rules_document()
    document["insights"]["pools"].append(
        {
            "id": "new_pool", "consumption": "it_consumption", "candidates": ["headcount"],
            "proposal": {"entity": "US", "source": {"accounts": ["64300"]}, "target": {"dimension": "cost_center", "members": ["BU01", "BU02"]},
                         "accounts": {"credit": "69100", "debit": "69000"}},
        }
    )
    config = parse_insights(document)
    rules = world.rule_set()
    rule = pool_rule(config.pool("new_pool"), rules, method="driver", parameters={"driver": "headcount"})
    assert (rule.id, rule.method, rule.order, rule.approval.mode) == ("new_pool", "driver", 20, "manual")
    assert pool_rule(config.pool("corporate_it"), rules) is rules.rules[0]
    with pytest.raises(InsightsConfigError, match="no insights pool 'missing'"):
        config.pool("missing")
