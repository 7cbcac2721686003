"""The report's driver analysis reads the same history as `allocation analyze` (issue 11, item 5).

A generated company of six months; only the last month is materialized (as a new user's first
`allocation run` does), so the warehouse holds one month of driver values while the extracts hold
six. The driver_analysis asset and `allocation analyze` both read the history through
`core.insights.history.driver_history`: the stored rows (what the period report shows) equal the
command's analysis of the same pool and month, figure for figure, and the report says six months.
The anomaly_flags asset reads the same history (issue 13): a rule's key that followed consumption in
the five earlier months (extracts only) and not in the last is flagged fit_drop and confidence_drop.
"""

from __future__ import annotations

import contextlib
import io
import math

import dagster as dg
import pandas as pd
import pytest

from allocation_pipeline import cli
from allocation_pipeline.commands.insights import AnalysisContext
from allocation_pipeline.core.insights.config import shift_period
from allocation_pipeline.core.insights.history import driver_history
from allocation_pipeline.defs.insights import assets as insights_assets
from allocation_pipeline.core.report.html import render_report
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.reporting import run_failures
from allocation_pipeline.sample.generate import generate_company
from allocation_pipeline.warehouse.engine import make_engine
from allocation_pipeline.warehouse.report_store import read_report_data
from tests.conftest import pipeline_resources
from tests.test_insights_pipeline import with_headcount_rule
from tests.test_pipeline import query

PERIOD = "2026-10"
POOL = "us_corporate_it"
MONTHS = 6
CANDIDATES = "candidates: [headcount, it_tickets, cloud_spend, app_licences]"
ASSETS = list(build_definitions().assets)


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    root = tmp_path_factory.mktemp("history_company")
    generate_company(root, periods=MONTHS, end_period=PERIOD, closed_periods=1, gl_lines_per_period=1000, file_format="csv")
    # Hours among the candidates: the asset reads the month's hours from the engine (stored by the
    # timesheets asset) and earlier months' from the files; the command reads every month's files.
    rules = root / "rules.yaml"
    rules.write_text(rules.read_text().replace(CANDIDATES, CANDIDATES.replace("]", ", hours]")))
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    result = dg.materialize(
        ASSETS, partition_key=f"{PERIOD}-01", resources=pipeline_resources(root, url), selection="*driver_analysis", raise_on_error=False
    )
    assert result.success, run_failures(result)
    return root, url, result


def _same(a, b) -> bool:
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    if isinstance(a, (float, int)) and isinstance(b, (float, int)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return frame.sort_values(columns[:2]).reset_index(drop=True)[columns].to_dict("records")


def test_the_report_shows_the_same_driver_analysis_as_allocation_analyze(company):
    root, url, result = company
    # The warehouse has run one month only; the extracts hold six.
    assert query(url, "SELECT DISTINCT period FROM driver_values")["period"].tolist() == [PERIOD]
    metadata = result.asset_materializations_for_node("driver_analysis")[0].metadata
    assert metadata["periods_in_history"].value == MONTHS

    context = AnalysisContext.load(PERIOD, str(root / "rules.yaml"), str(root / "extracts"), POOL)
    analysis = context.report(context.pool(POOL)).analysis
    assert analysis.status != "insufficient_data"
    expected = analysis.frame(PERIOD)
    assert "hours" in expected["rationale"].iloc[0]  # measured, with the month's hours from the engine in the asset's history
    expected_confidence = analysis.confidence_frame(PERIOD)

    engine = make_engine(url)  # as the product opens the warehouse: one DuckDB file per process, shared with the engine
    try:
        with engine.connect() as conn:
            data = read_report_data(conn, PERIOD, "US")
    finally:
        engine.dispose()
    shown = data.driver_analysis[data.driver_analysis["pool_id"] == POOL]
    columns = [c for c in expected.columns if c in shown.columns and c != "period"]
    assert len(columns) >= 15
    for want, got in zip(_rows(expected, columns), _rows(shown, columns), strict=True):
        assert all(_same(want[c], got[c]) for c in columns), (want, got)
    assert set(shown["periods_used"]) == {MONTHS}

    confidence = data.driver_confidence[data.driver_confidence["pool_id"] == POOL]
    columns = [c for c in expected_confidence.columns if c in confidence.columns and c != "period"]
    (want,), (got,) = _rows(expected_confidence, columns), _rows(confidence, columns)
    assert all(_same(want[c], got[c]) for c in columns), (want, got)

    # The page says it: six months, the command's figures, and the same confidence label.
    page = render_report(data)
    assert f"{MONTHS} periods ({expected['first_period'].iloc[0]} to {PERIOD})" in page
    assert "too little data" not in page.split('<section id="drivers">')[1].split("</section>")[0]
    assert f'data-pool="{POOL}" data-label="{want["label"]}"' in page

    # And `allocation analyze` prints the same months.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["analyze", "--period", PERIOD, "--pool", POOL, "--rules", str(root / "rules.yaml"), "--extracts", str(root / "extracts")]) == 0
    assert f"{MONTHS} period" in out.getvalue()


def test_anomaly_flags_judge_a_key_against_the_months_the_extracts_hold(tmp_path, monkeypatch):
    generate_company(tmp_path, periods=MONTHS, end_period=PERIOD, closed_periods=1, gl_lines_per_period=1000, file_format="csv")
    # The pool allocated by its planted key, which follows consumption in every month but the last,
    # where the consumption measured per business unit is reversed.
    with_headcount_rule(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        rules.read_text().replace(
            "method: driver\n    parameters: {driver: headcount}",
            "method: weighted_drivers\n    parameters: {weights: {cloud_spend: 50, app_licences: 30, it_tickets: 20}}",
        )
    )
    usage = pd.read_csv(tmp_path / "extracts" / "usage_metrics.csv", dtype=str)
    last = (usage["period"] == PERIOD) & (usage["metric"] == "it_consumption")
    assert last.sum() == 8
    usage.loc[last, "value"] = usage.loc[last, "value"].to_numpy()[::-1]
    usage.to_csv(tmp_path / "extracts" / "usage_metrics.csv", index=False)

    # driver_analysis and anomaly_flags run in one process here: the history is read once for both.
    reads = []
    monkeypatch.setattr(insights_assets, "driver_history", lambda *args: reads.append(args[0]) or driver_history(*args))
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    result = dg.materialize(
        ASSETS, partition_key=f"{PERIOD}-01", resources=pipeline_resources(tmp_path, url), selection=["*anomaly_flags", "driver_analysis"], raise_on_error=False
    )
    assert result.success, run_failures(result)
    assert reads == [PERIOD]
    assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} >= {"driver_analysis", "anomaly_flags"}
    assert query(url, "SELECT DISTINCT period FROM driver_values")["period"].tolist() == [PERIOD]
    flags = query(url, "SELECT kind, severity, rule_id, message FROM anomaly_flags WHERE kind IN ('fit_drop', 'confidence_drop') ORDER BY kind")
    assert flags["kind"].tolist() == ["confidence_drop", "fit_drop"] and set(flags["rule_id"]) == {POOL}
    drop = flags["message"].iloc[0]
    span = f"{shift_period(PERIOD, 1 - MONTHS)} to {shift_period(PERIOD, -1)}"
    assert f"has lost confidence in {PERIOD}" in drop and f"against strong in most of {span}" in drop
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["driver_keys_keep_their_confidence"].passed is False and checks["driver_fits_hold"].passed is False
