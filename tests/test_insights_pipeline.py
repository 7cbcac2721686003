"""The insight assets and the what-if job in Dagster, against a real warehouse (`defs/insights`).

Covered, on the sample company with seed 000's corporate IT pool allocated by headcount (the rule
appended to its rules file, analyses from two months on) and two months materialized (2026-09 up to
allocation runs, 2026-10 in full) on DuckDB: driver analysis stored with its recommendation; anomaly flags
stored, their checks failing as warnings; profitability; narratives that state the run's facts;
the what-if job and `allocation whatif` storing named scenarios (a scenario without changes
equals the baseline) while allocation runs, lines, history, journal entries and links stay
exactly as they were; `allocation forecast --whatif` applying a scenario to a forecast month (the
same baseline with and without a change, only the changed key moving it); a flag configured to block fails its check as an error and stops the
narratives; re-materializing replaces instead of adding. One month on PostgreSQL as well.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd
import pytest

from allocation_pipeline import cli
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.reporting import run_failures
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, pipeline_resources
from tests.test_pipeline import query

DEFS = build_definitions()
ASSETS = list(DEFS.assets)
INSIGHTS = ["driver_analysis", "anomaly_flags", "profitability", "allocation_narratives"]
POSTED_TABLES = ("allocation_runs", "allocation_lines", "allocation_run_history", "journal_entries", "journal_lines", "document_links")
HEADCOUNT_RULE = """
  - id: us_corporate_it
    description: Corporate IT shared by headcount, as it always was.
    entity: US
    order: 40
    source: {accounts: ["64200"], cost_centers: [US-IT]}
    method: driver
    parameters: {driver: headcount}
    target: {dimension: cost_center, where: {kind: operating}}
    accounts: {credit: "69100", debit: "69000"}
    approval: manual
"""


def with_headcount_rule(company, min_periods=3):
    rules = company / "rules.yaml"
    text = rules.read_text().replace("\n# Multi-level", HEADCOUNT_RULE + "\n# Multi-level", 1)
    rules.write_text(text.replace("  min_periods: 3\n", f"  min_periods: {min_periods}\n"))


def materialize(company, url, partition=SAMPLE_PARTITION, selection=None):
    return dg.materialize(ASSETS, partition_key=partition, resources=pipeline_resources(company, url), selection=selection, raise_on_error=False)


def posted_state(url):
    return {t: query(url, f"SELECT * FROM {t} ORDER BY 1, 2").astype(str).to_dict("records") for t in POSTED_TABLES}  # fixed names


@pytest.fixture(scope="module")
def warehouse(sample_company_template, tmp_path_factory):
    root = tmp_path_factory.mktemp("insights_pipeline")
    company = root / "company"
    shutil.copytree(sample_company_template, company)
    with_headcount_rule(company, min_periods=2)  # two months make an analysis here, to keep the test short
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    # The previous month only as far as the insights read it: driver values and the rules' runs.
    assert materialize(company, url, "2026-09-01", selection="*allocation_runs").success
    result = materialize(company, url)
    assert result.success, run_failures(result)
    return company, url, result


def test_the_driver_analysis_is_stored_with_its_recommendation(warehouse):
    _, url, result = warehouse
    rows = query(url, "SELECT * FROM driver_analysis WHERE period = :p ORDER BY driver", p=SAMPLE_PERIOD)
    assert rows["driver"].tolist() == ["app_licences", "cloud_spend", "headcount", "it_tickets"]
    # The history is every month the extracts hold (as `allocation analyze` reads it), not only the months materialized.
    assert set(rows["status"]) == {"ok"} and set(rows["periods_used"]) == {3} and set(rows["first_period"]) == {"2026-08"}
    assert set(rows["recommended_method"]) == {"weighted_drivers"} and rows["weight_percent"].sum() == 100
    assert rows.set_index("driver").loc["headcount", "weight_percent"] == 0
    assert materialize(warehouse[0], url, "2026-08-01", selection=["driver_analysis"]).success
    earlier = query(url, "SELECT DISTINCT status, rationale FROM driver_analysis WHERE period = '2026-08'")
    assert earlier["status"].tolist() == ["insufficient_data"]
    assert "1 period(s) with it_consumption (2026-08); the analysis needs at least 2" in earlier["rationale"].iloc[0]
    metadata = result.asset_materializations_for_node("driver_analysis")[0].metadata
    assert "Recommendation: weighted_drivers" in metadata["analysis"].value


def test_flags_are_stored_and_their_checks_warn(warehouse):
    _, url, result = warehouse
    flags = query(url, "SELECT * FROM anomaly_flags WHERE period = :p AND kind = 'consumption_gap'", p=SAMPLE_PERIOD)
    assert set(flags["rule_id"]) == {"us_corporate_it"} and not flags["blocking"].any()
    bu2 = flags.set_index("cost_object").loc["US-BU2"]
    assert bu2["amount"] > 0 and "over-charged by" in bu2["message"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    gap = checks["allocated_shares_match_consumption"]
    assert gap.passed is False and gap.severity == dg.AssetCheckSeverity.WARN
    assert gap.metadata["flags"].value == len(flags)
    assert checks["unit_costs_in_line_with_peers"].severity == dg.AssetCheckSeverity.WARN
    assert "allocation_narratives" in {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def test_narratives_and_profitability_state_the_facts(warehouse):
    _, url, _ = warehouse
    texts = query(url, "SELECT scope, rule_id, narrative FROM narratives WHERE period = :p ORDER BY scope, rule_id", p=SAMPLE_PERIOD)
    assert texts["scope"].tolist().count("period") == 1
    runs = query(url, "SELECT rule_id FROM allocation_runs WHERE period = :p AND origin = 'pipeline'", p=SAMPLE_PERIOD)
    assert set(texts.loc[texts["scope"] == "rule", "rule_id"]) == set(runs["rule_id"])
    it = texts.set_index("rule_id").loc["us_corporate_it", "narrative"]
    assert it.startswith("In 2026-10, rule us_corporate_it (US) allocated 833,333.34 USD from US-IT by driver headcount to 8 cost centers.")
    assert "Against 2026-09, the pool was about unchanged (833,333.33 to 833,333.34)." in it
    assert "[high, consumption gap] US-BU2 consumed" in it
    period = texts.loc[texts["scope"] == "period", "narrative"].iloc[0]
    assert period.startswith("In 2026-10, 4 allocation runs moved ") and "us_corporate_it 833,333.34 USD by driver headcount" in period
    table = query(url, "SELECT * FROM profitability WHERE period = :p", p=SAMPLE_PERIOD)
    assert len(table) and (table["revenue"] > 0).all()
    assert ((table["margin_before"] - table["allocated_cost"] - table["margin"]).abs() < 0.005).all()


def test_whatif_stores_scenarios_and_never_writes_posted_tables(warehouse, tmp_path, monkeypatch, capsys):
    company, url, _ = warehouse
    before = posted_state(url)
    job = DEFS.resolve_job_def("whatif_job")
    nothing = job.execute_in_process(
        run_config={"ops": {"run_whatif_scenario": {"config": {"period": SAMPLE_PERIOD, "scenario_yaml": "name: no-change\n"}}}},
        resources=pipeline_resources(company, url),
    )
    assert nothing.success
    scenario = tmp_path / "weighted.yaml"
    scenario.write_text(
        "name: weighted-it\nrules:\n  us_corporate_it: {method: weighted_drivers, parameters: {weights: {cloud_spend: 50, app_licences: 30, it_tickets: 20}}}\n"
    )
    monkeypatch.setenv("ALLOCATION_DATA_DIR", str(company))
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    assert cli.main(["whatif", "--period", SAMPLE_PERIOD, "--scenario", str(scenario)]) == 0
    assert "Stored as scenario 'weighted-it' for 2026-10" in capsys.readouterr().out
    assert posted_state(url) == before

    stored = query(url, "SELECT scenario, objects_changed, baseline_total, scenario_total FROM whatif_scenarios ORDER BY scenario")
    assert stored["scenario"].tolist() == ["no-change", "weighted-it"]
    assert stored["objects_changed"].tolist()[0] == 0 and stored["objects_changed"].tolist()[1] > 0
    assert (stored["baseline_total"] == stored["scenario_total"]).all()
    results = query(url, "SELECT * FROM whatif_results WHERE scenario = 'no-change'")
    assert len(results) and (results["difference"] == 0).all() and (results["baseline_amount"] == results["scenario_amount"]).all()
    # The baseline is what the pipeline allocated: the same target amounts as the stored runs.
    posted = query(
        url, "SELECT r.rule_id, l.cost_center, l.debit FROM allocation_runs AS r JOIN allocation_lines AS l ON l.run_id = r.run_id "
        "WHERE r.period = :p AND r.origin = 'pipeline' AND l.role = 'target'", p=SAMPLE_PERIOD,
    )
    baseline = results[results["baseline_amount"] > 0].set_index(["rule_id", "cost_center"])["baseline_amount"].sort_index()
    assert baseline.to_dict() == posted.set_index(["rule_id", "cost_center"])["debit"].sort_index().to_dict()
    weighted = query(url, "SELECT cost_center, difference FROM whatif_results WHERE scenario = 'weighted-it' AND rule_id = 'us_corporate_it'")
    assert weighted.set_index("cost_center").loc["US-BU2", "difference"] < 0


def _whatif_table(out: str) -> dict[str, tuple[str, str, str]]:
    """The per-cost-object table a what-if prints: cost center -> (baseline, scenario, difference)."""
    table = out.split("Per cost object (net allocated: + received, - given away):\n")[1].split("\n")[1:]
    rows = {}
    for line in table:
        if not line.startswith("  "):
            break
        entity, cost_center, currency, *amounts = line.split()
        rows[cost_center] = tuple(amounts)
    return rows


def test_forecast_whatif_applies_the_scenario_to_a_forecast_month(warehouse, tmp_path, monkeypatch, capsys):
    company, url, _ = warehouse
    monkeypatch.setenv("ALLOCATION_DATA_DIR", str(company))
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    outputs = {}
    for name, text in {
        "no-change": "name: no-change\n",
        "weighted-it": "name: weighted-it\nrules:\n  us_corporate_it: {method: weighted_drivers, parameters: {weights: {cloud_spend: 50, app_licences: 30, it_tickets: 20}}}\n",
    }.items():
        scenario = tmp_path / f"{name}.yaml"
        scenario.write_text(text)
        assert cli.main(["forecast", "--periods", "2", "--no-store", "--whatif", str(scenario), "--month", "2026-12"]) == 0, capsys.readouterr().err
        outputs[name] = capsys.readouterr().out
    for name, out in outputs.items():
        assert f"What-if '{name}' on forecast month 2026-12, built from 2026-10's inputs: " in out
        assert f"What-if scenario '{name}' for 2026-12 (nothing is posted)" in out
    same, weighted = _whatif_table(outputs["no-change"]), _whatif_table(outputs["weighted-it"])
    assert set(same) == set(weighted) and "US-BU2" in same
    # The same forecast month's baseline both times; only the scenario that changes the key moves it.
    assert {c: row[0] for c, row in same.items()} == {c: row[0] for c, row in weighted.items()}
    assert all(row[2] == "0.00" for row in same.values()) and "Changes: none" in outputs["no-change"]
    assert weighted["US-BU2"][2].startswith("-") and weighted["US-BU2"][1] != weighted["US-BU2"][0]
    assert "rule us_corporate_it" in outputs["weighted-it"].split("Changes:")[1].split("Per rule:")[0]
    assert cli.main(["forecast", "--periods", "2", "--no-store", "--whatif", str(tmp_path / "no-change.yaml"), "--month", "2027-05"]) == 2
    assert "--month 2027-05 is not one of the forecast months (2026-11, 2026-12)" in capsys.readouterr().err


def test_a_flag_configured_to_block_fails_its_check_and_stops_what_follows(warehouse, tmp_path):
    company, url, _ = warehouse
    strict = tmp_path / "strict"
    shutil.copytree(company, strict, ignore=shutil.ignore_patterns("*.duckdb"))
    rules = strict / "rules.yaml"
    rules.write_text(rules.read_text().replace("blocking: {}", "blocking: {consumption_gap: high}"))
    counts = {t: query(url, f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0] for t in ("anomaly_flags", "narratives", "driver_analysis")}
    result = materialize(strict, url, selection=INSIGHTS)
    assert not result.success
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["allocated_shares_match_consumption"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.ERROR and check.metadata["blocking_flags"].value >= 1
    assert "allocation_narratives" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    blocking = query(url, "SELECT cost_object FROM anomaly_flags WHERE period = :p AND blocking", p=SAMPLE_PERIOD)
    assert "US-BU2" in set(blocking["cost_object"])
    again = materialize(company, url, selection=INSIGHTS)
    assert again.success, run_failures(again)
    assert {t: query(url, f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0] for t in counts} == counts


@pytest.mark.postgres
def test_the_insights_of_a_month_on_postgresql(sample_company, postgres_url):
    with_headcount_rule(sample_company)
    # Every insight and what it reads; posting and the period report are covered on PostgreSQL elsewhere.
    result = materialize(sample_company, postgres_url, selection=dg.AssetSelection.assets(*INSIGHTS).upstream())
    assert result.success, run_failures(result)
    flags = query(postgres_url, "SELECT kind, blocking, amount, value FROM anomaly_flags WHERE period = :p", p=SAMPLE_PERIOD)
    assert "consumption_gap" in set(flags["kind"]) and not flags["blocking"].any()
    analysis = query(postgres_url, "SELECT DISTINCT status, periods_used FROM driver_analysis")
    assert analysis.to_dict("records") == [{"status": "ok", "periods_used": 3}]  # the extracts' three months, as `allocation analyze` reads them
    assert len(query(postgres_url, "SELECT * FROM driver_confidence WHERE period = :p", p=SAMPLE_PERIOD)) == 1
    assert len(query(postgres_url, "SELECT * FROM narratives")) == 5
    assert len(query(postgres_url, "SELECT * FROM profitability")) > 0
    assert isinstance(query(postgres_url, "SELECT * FROM profitability")["turned_unprofitable"].iloc[0], (bool, pd.BooleanDtype().type, object))
