"""Confidence that can fail (`core.insights.confidence` and its use in the driver analysis).

Covered: calibration over 30 generated companies where consumption has no relation to any driver
and stays steady per unit (the trap of issue 13): a confident recommendation in at most 5% of
them, no over-consumer named and "no driver explains this pool" with nothing proposed when there
is no evidence; planted weights still recovered within 5 points with strong confidence; leaving
units out never raises the label (it is computed on every unit, and the key's fit over every unit
caps it); same inputs, same p-values and sentences; `recommend` writes nothing without confident
evidence; the `confidence_drop` flag against a key's own history; the optional settings blocks
parsed with clear messages. Pure functions on generated frames: no files, no warehouse.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_pipeline.core.insights.anomalies import allocations_from_runs, detect_flags
from allocation_pipeline.core.insights.confidence import (
    CONFIDENT, LABELS, NONE, STRONG, WEAK, ConfidenceSettings, Panel, assess, label_of, permutation_evidence,
)
from allocation_pipeline.core.insights.config import InsightsConfigError, parse_insights
from allocation_pipeline.core.insights.driver_analysis import NO_DRIVER, STATUS_NO_EVIDENCE, _Data, analyse_drivers
from allocation_pipeline.core.insights.recommend import RecommendationError, apply_recommendation
from tests import insights_world as world
from tests.test_insights_driver_analysis import CANDIDATES, PLANTED, planted_history

NO_SIGNAL_CANDIDATES = [f"driver_{j}" for j in range(1, 5)]
OVER = {"BU03": 1.8, "BU07": 2.0}


def test_calibration_no_signal_companies_are_rarely_called_confident():
    analyses = [analyse_drivers(world.no_signal_history(seed), "it_consumption", NO_SIGNAL_CANDIDATES, pool_id="it") for seed in range(30)]
    confident = [a for a in analyses if a.confidence.label in CONFIDENT]
    assert len(confident) <= 0.05 * len(analyses), [(a.confidence.label, a.confidence.p_value) for a in confident]
    # p-values of a valid test are spread over (0, 1]: most no-signal companies are far from significant.
    assert sum(a.confidence.p_value > 0.2 for a in analyses) >= 18
    for a in analyses:
        if a.confidence.label not in CONFIDENT:
            assert a.left_out == {}, "no over-consumer is named without evidence that the drivers explain the pool"
        if a.confidence.label == NONE:
            assert a.status == STATUS_NO_EVIDENCE and a.recommendation is None and a.weights() == {}
            assert a.confidence.sentence.startswith("No driver explains this pool") and "nothing is proposed" in a.confidence.sentence
            assert f"{NO_DRIVER}, so nothing is proposed" in a.report()
            assert a.frame("2026-10")["recommended_method"].isna().all()
    assert sum(a.confidence.label == NONE for a in analyses) >= 20


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_planted_weights_are_recovered_with_strong_confidence(seed):
    analysis = analyse_drivers(planted_history(seed=seed), "it_consumption", CANDIDATES)
    c = analysis.confidence
    assert c.label == STRONG and c.p_value <= 0.005 and c.oos_r2 > 0.9 and c.units == 10
    assert all(abs(analysis.weights().get(d, 0) - w) <= 5 for d, w in PLANTED.items())
    assert analysis.recommendation.confident and analysis.recommendation.confidence == STRONG
    assert analysis.recommendation.reasons[-1] == c.sentence and "Strong evidence" in c.sentence
    assert f"Confidence: strong (p = {c.p_value:.3f} over 499 shuffles" in analysis.report()
    row = analysis.confidence_frame("2026-10").iloc[0]
    assert row["label"] == STRONG and bool(row["proposed"]) and row["all_units_r2"] == pytest.approx(c.all_units_r2)


def test_leaving_units_out_never_raises_the_label():
    history = planted_history(overconsumers=OVER)
    analysis = analyse_drivers(history, "it_consumption", CANDIDATES)
    assert set(analysis.left_out) == set(OVER)
    c = analysis.confidence
    # The fit is reported over every unit too, and is worse there than over the units kept.
    assert c.all_units_r2 < c.kept_r2
    # The label is the one every unit earns: recomputed here from all units, without exclusions.
    data = _Data.build(history, "it_consumption", CANDIDATES, "cost_center", None)
    evidence = permutation_evidence(Panel.from_rows(data.S, data.y, data.pidx, data.object_of_row), ConfidenceSettings())
    assert c.p_value == evidence.p_value and c.oos_r2 == pytest.approx(evidence.oos_r2)
    assert LABELS.index(c.label) <= LABELS.index(label_of(evidence.p_value, evidence.oos_r2, ConfidenceSettings()))
    # A key confident only on the units kept stays weak when its fit over every unit is too poor.
    strict = ConfidenceSettings(min_all_units_r2=0.95)
    capped = analyse_drivers(history, "it_consumption", CANDIDATES, settings=strict)
    assert capped.confidence.kept_r2 > 0.95 and capped.confidence.label == WEAK
    assert not capped.recommendation.confident


def test_the_same_inputs_give_the_same_confidence_and_the_seed_is_stated():
    history = world.no_signal_history(7)
    first = analyse_drivers(history, "it_consumption", NO_SIGNAL_CANDIDATES)
    again = analyse_drivers(history.sample(frac=1.0, random_state=1), "it_consumption", NO_SIGNAL_CANDIDATES)
    assert first.confidence == again.confidence and first.report() == again.report()
    other = analyse_drivers(history, "it_consumption", NO_SIGNAL_CANDIDATES, settings=ConfidenceSettings(seed=99))
    assert other.confidence.seed == 99 and other.confidence.oos_r2 == first.confidence.oos_r2


def test_labels_follow_the_thresholds():
    s = ConfidenceSettings()
    assert label_of(0.002, 0.9, s) == STRONG
    assert label_of(0.002, 0.4, s) == "moderate"
    assert label_of(0.008, 0.9, s) == "moderate"
    assert label_of(0.05, 0.9, s) == WEAK
    assert label_of(0.5, 0.9, s) == NONE
    assert label_of(0.002, float("nan"), s) == WEAK


def _report(analysis):
    """A pool report carrying `analysis` (what apply_recommendation reads of it)."""
    from allocation_pipeline.core.insights.config import parse_insights as parse
    from allocation_pipeline.core.insights.recommend import PoolReport

    rules = world.rule_set()
    pool = parse(world.rules_document()).pools[0]
    return PoolReport(world.PERIOD, pool, rules.rules[0], True, analysis, None, None, {})


def test_nothing_is_written_into_the_rules_without_confident_evidence():
    text = "rules: []\n"
    none = next(
        a for a in (analyse_drivers(world.no_signal_history(s), "it_consumption", NO_SIGNAL_CANDIDATES) for s in range(30))
        if a.confidence.label == NONE
    )
    with pytest.raises(RecommendationError, match="No driver explains this pool.*Nothing written"):
        apply_recommendation(text, _report(none), "2026-11-01")
    weak = analyse_drivers(planted_history(overconsumers=OVER), "it_consumption", CANDIDATES, settings=ConfidenceSettings(min_all_units_r2=0.95))
    with pytest.raises(RecommendationError, match="weak evidence .* only strong or moderate evidence is written"):
        apply_recommendation(text, _report(weak), "2026-11-01")


def _drop_flags(last_values, months=("2026-05", "2026-06", "2026-07", "2026-08", world.PREVIOUS)):
    history = pd.concat([world.driver_values(p) for p in months] + [last_values])
    runs = world.allocate(last_values)
    rules = {r.id: r for r in world.rule_set().rules}
    config = parse_insights(world.rules_document())
    flags = detect_flags(world.PERIOD, allocations_from_runs(runs, rules), last_values, config, rules, history=history)
    return [f for f in flags if f.kind == "confidence_drop"]


def test_a_key_that_loses_confidence_against_its_history_is_flagged():
    assert _drop_flags(world.driver_values()) == []
    scrambled = world.driver_values()
    consumption = scrambled["driver"] == "it_consumption"
    scrambled.loc[consumption, "value"] = scrambled.loc[consumption, "value"].to_numpy()[[3, 7, 0, 9, 5, 1, 8, 2, 6, 4]]
    (flag,) = _drop_flags(scrambled)
    assert flag.rule_id == "corporate_it" and flag.cost_object is None and flag.amount_cents is None
    assert flag.value > flag.threshold and flag.severity in ("medium", "high")
    assert "has lost confidence in 2026-10" in flag.message and "against strong in most of 2026-05 to 2026-09" in flag.message


def test_the_settings_blocks_are_optional_and_checked():
    document = world.rules_document()
    assert parse_insights(document).confidence == ConfidenceSettings()
    document["insights"]["confidence"] = {"permutations": 999, "strong_p": 0.001}
    document["insights"]["suggestions"] = {"suspense_cost_centers": ["SUSP"], "high_confidence": 0.9}
    config = parse_insights(document)
    assert config.confidence.permutations == 999 and config.confidence.strong_p == 0.001
    assert config.suggestions.suspense_cost_centers == ("SUSP",) and config.suggestions.high_confidence == 0.9
    document["insights"]["confidence"] = {"permutations": 5, "loose": 1}
    document["insights"]["suggestions"] = {"medium_confidence": 1.5}
    with pytest.raises(InsightsConfigError) as error:
        parse_insights(document, "rules.yaml")
    message = str(error.value)
    assert "confidence: unknown field(s) loose" in message and "confidence.permutations: must be a whole number of at least 19" in message
    assert "suggestions.medium_confidence: must be a probability" in message


def test_assess_caps_a_confident_label_without_a_key_over_every_unit():
    evidence = permutation_evidence(
        Panel.from_rows(*_rows(planted_history())), ConfidenceSettings()
    )
    assert assess(evidence, ConfidenceSettings(), 0.9, 1.0, 0.9).label == STRONG
    assert assess(evidence, ConfidenceSettings(), None, None, None).label == WEAK


def _rows(history):
    data = _Data.build(history, "it_consumption", CANDIDATES, "cost_center", None)
    return data.S, data.y, data.pidx, data.object_of_row
