"""Seed 000's example as a demo, through the sample company and the `allocation` CLI in-process.

Covered: the generator's corporate IT pool (2,500,000.00 a quarter on (64200, US-IT)) and its
`it_consumption` metric; `allocation analyze` recovers the planted weights of the four seed-000
drivers within 5 points, says headcount adds nothing, names the planted over-consumers, allocates
the pool with percentages and sums it exactly; `allocation recommend` shows without writing, and
with --apply adds the rule once (valid, manual approval), then on an existing rule with another
method adds a commented proposal and keeps the method; `allocation whatif` prints baseline and
scenario (--no-store writes nothing); user errors raise CommandError. One 12-month sample company
of 1,000 GL lines a month, generated once; no warehouse, no Dagster.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocation_pipeline import cli
from allocation_pipeline.sample import company as sc
from allocation_pipeline.sample.generate import generate_company
from allocation_pipeline.core.allocation.rules import load_rules

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def company_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seed000")
    generate_company(root, periods=12, end_period=PERIOD, gl_lines_per_period=1_000)
    return root


@pytest.fixture
def company(company_template, tmp_path, monkeypatch) -> Path:
    target = tmp_path / "company"
    shutil.copytree(company_template, target)
    monkeypatch.setenv("ALLOCATION_DATA_DIR", str(target))
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    return target


def run(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_the_sample_company_holds_seed_000s_pool_and_consumption(company_template):
    extracts = company_template / "extracts"
    months = sc.period_range(PERIOD, 12)
    pool = {m: sc.corporate_it_month_cents(m) for m in months}
    assert pool["2026-10"] == 83_333_334 and pool["2026-11" if False else "2026-09"] == 83_333_333
    assert sum(pool[m] for m in ("2026-07", "2026-08", "2026-09")) == sc.CORPORATE_IT_QUARTER_CENTS
    gl = pd.read_csv(extracts / "gl_lines" / f"{PERIOD}.csv", dtype=str)
    line = gl[(gl["account"] == sc.CORPORATE_IT_ACCOUNT)]
    assert line[["cost_center", "debit"]].values.tolist() == [["US-IT", "833333.34"]]
    usage = pd.read_csv(extracts / "usage_metrics.csv")
    consumed = usage[usage["metric"] == sc.IT_CONSUMPTION_METRIC]
    assert sorted(set(consumed["cost_object"])) == sorted(sc.US_BUSINESS_UNITS)
    assert len(consumed) == 8 * 12 and (consumed["value"] > 0).all()


def test_analyze_recovers_the_planted_key_and_names_the_overconsumers(company, capsys):
    out = run(capsys, "analyze", "--period", PERIOD, "--pool", "us_corporate_it")
    rows = {m.group(1): int(m.group(2)) for m in re.finditer(r"^  (\w+)\s+\S+\s+\S+\s+\S+\s+(\d+)%", out, re.MULTILINE)}
    assert set(rows) == set(sc.IT_CONSUMPTION_WEIGHTS)
    for driver, planted in sc.IT_CONSUMPTION_WEIGHTS.items():
        assert abs(rows[driver] - planted) <= 5, (driver, rows)
    assert "Recommendation: weighted_drivers (cloud_spend" in out
    assert re.search(r"headcount\s.*adds nothing", out)
    assert "US-BU7 and US-BU8 consume far more than any mix of these drivers explains" in out
    assert "Allocation of 833,333.34 USD (pool of us_corporate_it, US, 2026-10) by the recommended key" in out
    table = re.findall(r"^  (US-BU\d)\s+[\d,.]+\s+[\d.]+%\s+([\d,.]+)\s+([\d.]+)%$", out, re.MULTILINE)
    assert [t[0] for t in table] == list(sc.US_BUSINESS_UNITS)
    assert sum(round(float(a.replace(",", "")) * 100) for _, a, _ in table) == 83_333_334
    under = re.findall(r"\] (US-BU\d) consumed .* under-charged by", out)
    assert set(under) == set(sc.IT_OVERCONSUMERS)


def test_recommend_shows_then_applies_a_new_rule_once(company, capsys):
    rules = company / "rules.yaml"
    before = rules.read_text()
    out = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it")
    assert "Not applied (run again with --apply to write it): would have added rule us_corporate_it" in out
    assert rules.read_text() == before
    out = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply")
    assert f"{rules}: added rule us_corporate_it (US, order 40) with weighted_drivers" in out
    rule = load_rules(rules).get("us_corporate_it")
    assert rule.method == "weighted_drivers" and rule.approval.mode == "manual"
    assert set(rule.parameters["weights"]) == {"cloud_spend", "app_licences", "it_tickets"}
    assert sum(rule.parameters["weights"].values()) == 100
    assert "# Recommended by `allocation recommend` on" in rules.read_text()
    assert rules.read_text().startswith(before.split("\n# Multi-level")[0])  # what was there stays as it was
    again = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply")
    assert "Nothing to write: rule us_corporate_it already uses the recommended key" in again


def test_on_an_existing_rule_recommend_only_proposes_and_analyze_names_the_mischarged(company, capsys):
    rules = company / "rules.yaml"
    headcount_rule = (
        "\n  - id: us_corporate_it\n    entity: US\n    order: 40\n    source: {accounts: [\"64200\"], cost_centers: [US-IT]}\n"
        "    method: driver\n    parameters: {driver: headcount}\n    target: {dimension: cost_center, where: {kind: operating}}\n"
        "    accounts: {credit: \"69100\", debit: \"69000\"}\n"
    )
    text = rules.read_text()
    rules.write_text(text.replace("\n# Multi-level", headcount_rule + "\n# Multi-level", 1))
    out = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply")
    assert "added a commented proposal under rule us_corporate_it" in out
    assert "the rule still uses driver headcount until you edit it" in out
    rule = load_rules(rules).get("us_corporate_it")
    assert rule.method == "driver" and rule.parameters == {"driver": "headcount"}
    written = rules.read_text()
    assert written.count("# >>> proposal for us_corporate_it") == 1 and "    # method: weighted_drivers" in written
    out = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply")
    assert "already has this proposal" in out and rules.read_text() == written

    out = run(capsys, "analyze", "--period", PERIOD)
    assert "by the recommended key" in out and "and by the rule as it stands (driver headcount)" in out
    assert "Over- and under-consumers against what they are charged under the rule as it stands:" in out
    # Enterprise Sales has the most people and little cloud: over-charged by a headcount key.
    assert re.search(r"US-BU2 consumed .* over-charged by", out)


def test_whatif_prints_baseline_and_scenario_side_by_side(company, capsys, tmp_path):
    scenario = tmp_path / "reorg.yaml"
    scenario.write_text(
        "name: facilities-by-head\n"
        "rules:\n  us_facilities_by_floor_area: {parameters: {driver: headcount}}\n"
        "drivers:\n  - {move: headcount, from: US-BU2, to: US-BU5, amount: 20}\n"
    )
    out = run(capsys, "whatif", "--period", PERIOD, "--scenario", str(scenario), "--no-store")
    assert out.startswith("What-if scenario 'facilities-by-head' for 2026-10 (nothing is posted)")
    assert "  - rule us_facilities_by_floor_area: parameters {driver: floor_area} -> {driver: headcount}" in out
    assert "  - headcount: 20 moved from US-BU2 to US-BU5" in out
    bu2 = re.search(r"^  US\s+US-BU2\s+USD\s+([-\d,.]+)\s+([-\d,.]+)\s+([-\d,.]+)$", out, re.MULTILINE)
    baseline, changed, difference = (round(float(x.replace(",", "")) * 100) for x in bu2.groups())
    assert changed - baseline == difference != 0
    assert "Not stored (--no-store)." in out
    assert not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "--period", "2026-13"], "--period '2026-13' is not a fiscal month YYYY-MM"),
        (["analyze", "--period", PERIOD, "--pool", "nope"], "no insights pool 'nope' (pools: us_corporate_it)"),
        (["recommend", "--period", PERIOD, "--rule", "nope"], "no insights pool 'nope'"),
        (["recommend", "--period", PERIOD, "--rule", "us_corporat_it"], "no insights pool 'us_corporat_it' (pools: us_corporate_it) (did you mean us_corporate_it?)"),
        (["whatif", "--period", PERIOD, "--scenario", "missing.yaml"], "missing.yaml: scenario file not found"),
        (["analyze", "--period", PERIOD, "--rules", "nowhere.yaml"], "nowhere.yaml: rules file not found"),
    ],
)
def test_user_errors_are_one_clear_message(company, capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_too_little_history_is_said_plainly(company, capsys):
    out = run(capsys, "analyze", "--period", "2025-12")
    assert "Too little data: 2 period(s) with it_consumption (2025-11, 2025-12)" in out
    assert "No recommendation." in out
    assert cli.main(["recommend", "--period", "2025-12", "--rule", "us_corporate_it", "--apply"]) == 2
    assert "no recommendation for us_corporate_it in 2025-12: too little data" in capsys.readouterr().err


def test_when_no_driver_explains_the_pool_nothing_is_proposed_or_written(company, capsys):
    # Consumption steady per unit month after month and unrelated to any driver (issue 13's trap).
    usage_file = company / "extracts" / "usage_metrics.csv"
    usage = pd.read_csv(usage_file, dtype={"period": str})
    consumption = usage["metric"] == sc.IT_CONSUMPTION_METRIC
    units = sorted(set(usage.loc[consumption, "cost_object"]))
    rng = np.random.default_rng(4)
    steady = dict(zip(units, rng.lognormal(8, 0.9, len(units))))
    usage.loc[consumption, "value"] = [
        round(steady[u] * f, 2) for u, f in zip(usage.loc[consumption, "cost_object"], rng.lognormal(0, 0.05, int(consumption.sum())))
    ]
    usage.to_csv(usage_file, index=False)
    rules = company / "rules.yaml"
    before = rules.read_text()
    out = run(capsys, "analyze", "--period", PERIOD)
    assert "Confidence: none (p = " in out and "No driver explains this pool" in out
    assert "Recommendation: none; no driver explains this pool, so nothing is proposed." in out
    assert "by the recommended key" not in out and "over-consumers" not in out.split("Recommendation: none")[1].split("\n")[0]
    assert cli.main(["recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply"]) == 2
    assert "no recommendation for us_corporate_it in 2026-10: no driver explains this pool" in capsys.readouterr().err
    assert rules.read_text() == before


def test_weak_evidence_is_shown_but_never_written(company, capsys):
    rules = company / "rules.yaml"
    # Asking the key to fit every unit (the two over-consumers included) to R2 0.99 makes it weak.
    rules.write_text(rules.read_text().replace("insights:\n", "insights:\n  confidence: {min_all_units_r2: 0.99}\n", 1))
    before = rules.read_text()
    out = run(capsys, "recommend", "--period", PERIOD, "--rule", "us_corporate_it")
    assert "Confidence: weak" in out and "confidence weak" in out
    assert "Nothing to write: the recommendation for us_corporate_it in 2026-10 has weak evidence" in out
    assert cli.main(["recommend", "--period", PERIOD, "--rule", "us_corporate_it", "--apply"]) == 2
    assert "only strong or moderate evidence is written into the rules; nothing written" in capsys.readouterr().err
    assert rules.read_text() == before
