"""Driver analysis with planted ground truth (`core.insights.driver_analysis`).

Covered: consumption generated from known weights of independent drivers plus noise; the weights
are recovered within 5 percentage points and the weighted key is recommended with its figures; a
pure-noise driver gets weight zero and is said to add nothing; a consumption that follows one
driver gets that driver recommended; planted over-consumers are left out of the fit by the robust
rule, both of them, without skewing the weights; too few periods or cost objects are said plainly
with no recommendation; the per-period fit of a rule's own key; the warehouse frame. Pure
functions on literal frames: no files, no warehouse, no Dagster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocation_pipeline.core.insights.config import shift_period
from allocation_pipeline.core.insights.driver_analysis import STATUS_INSUFFICIENT, STATUS_OK, analyse_drivers
from allocation_pipeline.core.insights.key_fit import key_fit_by_period
from allocation_pipeline.core.allocation.rules import parse_rules

TOLERANCE_POINTS = 5
PLANTED = {"cloud_spend": 50, "app_licences": 30, "it_tickets": 20}
CANDIDATES = ["cloud_spend", "app_licences", "it_tickets", "noise"]


def planted_history(
    weights=PLANTED, periods=12, objects=10, noise=0.03, seed=3, overconsumers=None, extra=("noise",), last="2026-10"
) -> pd.DataFrame:
    """Driver values per period and cost object: each driver an independent base per object that
    drifts 10% a period; consumption = pool x sum(weight x driver share) x lognormal noise x the
    planted over-consumption."""
    rng = np.random.default_rng(seed)
    names = [f"BU{i:02d}" for i in range(1, objects + 1)]
    drivers = [*weights, *extra]
    base = {d: rng.lognormal(3, 0.9, objects) for d in drivers}
    factor = np.array([(overconsumers or {}).get(n, 1.0) for n in names])
    rows = []
    for k in range(periods):
        period = shift_period(last, k - periods + 1)
        values = {d: base[d] * rng.lognormal(0, 0.1, objects) for d in drivers}
        key = sum(w / 100 * values[d] / values[d].sum() for d, w in weights.items())
        consumed = 1_000_000 * key * rng.lognormal(0, noise, objects) * factor
        for d, v in [*values.items(), ("it_consumption", consumed)]:
            rows += [(period, d, "cost_center", n, float(x)) for n, x in zip(names, v)]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])


def test_planted_weights_are_recovered_and_the_weighted_key_recommended():
    analysis = analyse_drivers(planted_history(), "it_consumption", CANDIDATES, pool_id="it")
    assert analysis.status == STATUS_OK
    assert len(analysis.periods) == 12 and len(analysis.cost_objects) == 10
    recovered = analysis.weights()
    assert set(recovered) == set(PLANTED)
    for driver, weight in PLANTED.items():
        assert abs(recovered[driver] - weight) <= TOLERANCE_POINTS, (driver, recovered)
    assert sum(recovered.values()) == 100
    rec = analysis.recommendation
    assert rec.method == "weighted_drivers" and rec.parameters == {"weights": recovered}
    assert rec.r2 > 0.95 and analysis.weighted_error_points < 0.5
    assert analysis.left_out == {}
    assert any(r.startswith("A weighted key of cloud_spend") and "periods it was not fitted on" in r for r in rec.reasons)


def test_a_pure_noise_driver_gets_weight_zero_and_is_said_to_add_nothing():
    analysis = analyse_drivers(planted_history(), "it_consumption", CANDIDATES)
    noise = next(d for d in analysis.drivers if d.driver == "noise")
    assert noise.weight_percent == 0
    assert noise.note.startswith("adds nothing")
    assert any(r.startswith("noise adds nothing") for r in analysis.recommendation.reasons)
    # Its figures are still reported: it tracks consumption far worse than the drivers that matter.
    cloud = next(d for d in analysis.drivers if d.driver == "cloud_spend")
    assert noise.error_points > cloud.error_points and abs(noise.correlation) < cloud.correlation


@pytest.mark.parametrize("seed", [5, 8, 13])
def test_recovery_holds_across_random_draws(seed):
    analysis = analyse_drivers(planted_history(seed=seed), "it_consumption", CANDIDATES)
    recovered = analysis.weights()
    assert all(abs(recovered.get(d, 0) - w) <= TOLERANCE_POINTS for d, w in PLANTED.items()), recovered
    assert recovered.get("noise", 0) == 0


def test_consumption_that_follows_one_driver_gets_that_driver_recommended():
    history = planted_history(weights={"cloud_spend": 100}, extra=("app_licences", "it_tickets"))
    analysis = analyse_drivers(history, "it_consumption", ["cloud_spend", "app_licences", "it_tickets"])
    assert analysis.recommendation.method == "driver"
    assert analysis.recommendation.parameters == {"driver": "cloud_spend"}
    assert analysis.weights() == {"cloud_spend": 100}
    assert {d.driver for d in analysis.drivers if d.weight_percent == 0} == {"app_licences", "it_tickets"}


def test_planted_overconsumers_are_left_out_of_the_fit_and_do_not_skew_it():
    planted = {"BU03": 1.8, "BU07": 2.0}
    analysis = analyse_drivers(planted_history(overconsumers=planted), "it_consumption", CANDIDATES)
    assert set(analysis.left_out) == set(planted)
    assert all(r > 0.5 for r in analysis.left_out.values())
    recovered = analysis.weights()
    assert all(abs(recovered.get(d, 0) - w) <= TOLERANCE_POINTS for d, w in PLANTED.items()), recovered
    over = [r for r in analysis.recommendation.reasons if "over-consumers" in r]
    assert len(over) == 1 and "BU03 and BU07" in over[0]


def test_too_few_periods_is_said_plainly_and_nothing_is_recommended():
    history = planted_history(periods=2)
    analysis = analyse_drivers(history, "it_consumption", CANDIDATES, min_periods=3)
    assert analysis.status == STATUS_INSUFFICIENT
    assert analysis.recommendation is None and analysis.weights() == {}
    assert "2 period(s) with it_consumption (2026-09, 2026-10)" in analysis.notes[0]
    assert "needs at least 3" in analysis.notes[0]
    text = analysis.report()
    assert "Too little data" in text and "No recommendation." in text
    assert all(d.correlation is None and d.weight_percent == 0 for d in analysis.drivers)


def test_too_few_cost_objects_is_said_plainly():
    analysis = analyse_drivers(planted_history(objects=4), "it_consumption", CANDIDATES)
    assert analysis.status == STATUS_INSUFFICIENT
    assert any("4 cost object(s)" in n and "need at least 5" in n for n in analysis.notes)


def test_missing_consumption_metric_and_missing_driver_are_named():
    history = planted_history()
    without = analyse_drivers(history[history["driver"] != "it_consumption"], "it_consumption", CANDIDATES)
    assert without.status == STATUS_INSUFFICIENT
    assert any("no values of the consumption metric it_consumption" in n for n in without.notes)
    analysis = analyse_drivers(history, "it_consumption", [*CANDIDATES, "floor_area"])
    assert any(n.startswith("floor_area has no values") for n in analysis.notes)
    assert next(d for d in analysis.drivers if d.driver == "floor_area").note == "not analysed: no usable values"


def test_the_warehouse_frame_has_one_row_per_candidate():
    analysis = analyse_drivers(planted_history(), "it_consumption", CANDIDATES, pool_id="it")
    frame = analysis.frame("2026-10")
    assert frame["driver"].tolist() == CANDIDATES
    assert (frame["pool_id"] == "it").all() and (frame["recommended_method"] == "weighted_drivers").all()
    assert frame["weight_percent"].sum() == 100
    assert frame["first_period"].iloc[0] == "2025-11" and frame["periods_used"].iloc[0] == 12


def _rule(method: str, parameters: dict):
    document = {
        "rules": [{
            "id": "it", "entity": "US", "source": {"accounts": ["64200"]}, "method": method, "parameters": parameters,
            "target": {"dimension": "cost_center", "where": {"kind": "operating"}}, "accounts": {"credit": "69100", "debit": "69000"},
        }]
    }
    return parse_rules(document).rules[0]


def test_the_fit_of_a_rules_own_key_by_period():
    history = planted_history()
    good = key_fit_by_period(history, "it_consumption", _rule("weighted_drivers", {"weights": PLANTED}))
    bad = key_fit_by_period(history, "it_consumption", _rule("driver", {"driver": "noise"}))
    assert len(good) == 12 and (good["r2"] > 0.9).all() and (good["objects"] == 10).all()
    assert (bad["r2"] < 0.5).all()
