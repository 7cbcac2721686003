"""Forecasts of pools, drivers and cost objects (`core.insights.forecast`, the `allocation_forecasts`
asset and `allocation forecast`).

Covered: a planted trend is forecast with the truth inside the interval and a small backtest error;
24+ months of a seasonal series get the seasonal model and follow the season; too short, constant
and gappy histories are said plainly; same history, same forecast; every pool, driver and cost
object of a warehouse's runs is forecast, stored (replacing, not adding) by the asset and the CLI,
with the backtest next to each forecast; a what-if scenario applied to a forecast month. Runs are
written straight into a DuckDB warehouse under tmp_path (no pipeline run needed).
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from allocation_pipeline import cli
from allocation_pipeline.core.insights.config import shift_period
from allocation_pipeline.core.insights.forecast import forecast_all, forecast_month_inputs, forecast_series, forecasts_frame
from allocation_pipeline.core.insights.whatif import PeriodInputs, parse_scenario, run_scenario
from allocation_pipeline.defs.insights.assets import allocation_forecasts
from allocation_pipeline.defs.partitions import partition_key_of
from allocation_pipeline.defs.resources import WarehouseResource
from allocation_pipeline.warehouse.bulk import bulk_insert
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine
from tests import insights_world as world


def _months(n: int, last: str = "2026-10") -> list[str]:
    return [shift_period(last, k - n + 1) for k in range(n)]


def test_a_planted_trend_is_forecast_with_the_truth_inside_the_interval():
    rng = np.random.default_rng(3)
    months = _months(18)
    history = pd.Series(1_000_000 + 20_000 * np.arange(18) + rng.normal(0, 5_000, 18), index=months)
    f = forecast_series(history, 3, kind="pool", series="it", entity="US", currency="USD", unit="cents")
    truth = 1_000_000 + 20_000 * np.arange(18, 21)
    assert f.forecast["period"].tolist() == ["2026-11", "2026-12", "2027-01"]
    assert ((f.forecast["lower"] <= truth) & (truth <= f.forecast["upper"])).all()
    assert (np.abs(f.forecast["mean"] - truth) / truth < 0.03).all()
    assert f.model == "ETS(A,Ad,N) damped trend" and f.backtest_periods == 3 and f.backtest_mape < 3 and f.backtest_inside >= 2
    assert f.sentence.startswith("Pool it (US): ") and "expected in 2026-11 (80% interval" in f.sentence
    assert f"off by {f.backtest_mape:.1f}%" in f.sentence and "inside its interval" in f.sentence
    frame = f.frame("2026-10")
    assert len(frame) == 3 and set(frame["made_after"]) == {"2026-10"} and (frame["lower"] <= frame["mean"]).all()


def test_two_years_of_a_seasonal_series_get_the_seasonal_model():
    months = _months(36)
    season = 100 * np.sin(2 * np.pi * np.arange(39) / 12)
    rng = np.random.default_rng(5)
    history = pd.Series(1_000 + season[:36] + rng.normal(0, 5, 36), index=months)
    f = forecast_series(history, 3, kind="driver", series="tickets")
    assert f.model == "ETS(A,Ad,A) with yearly seasonality"
    assert (np.abs(f.forecast["mean"].to_numpy() - (1_000 + season[36:])) < 30).all()
    short = forecast_series(history.iloc[-12:], 3, kind="driver", series="tickets")
    assert short.model == "ETS(A,Ad,N) damped trend"


def test_short_constant_and_gappy_histories_are_said_plainly():
    short = forecast_series(pd.Series([1.0, 2.0, 3.0], index=_months(3)), 2, kind="driver", series="x")
    assert short.forecast.empty and short.sentence == "No forecast for driver x: 3 month(s) of history, at least 4 are needed."
    flat = forecast_series(pd.Series([5.0] * 6, index=_months(6)), 2, kind="driver", series="x")
    assert flat.model == "constant" and flat.forecast["mean"].tolist() == [5.0, 5.0] and "forecast unchanged" in flat.sentence
    gappy = forecast_series(pd.Series([4.0, 5.0, 6.0, 7.0], index=["2026-05", "2026-06", "2026-08", "2026-10"]), 1, kind="driver", series="x")
    assert len(gappy.history) == 6 and gappy.history["2026-07"] == 0.0


def test_the_same_history_gives_the_same_forecast():
    history = pd.Series(np.linspace(10, 30, 14) + np.tile([0.5, -0.5], 7), index=_months(14))
    first = forecast_series(history, 4, kind="driver", series="x")
    again = forecast_series(history.sample(frac=1.0, random_state=2), 4, kind="driver", series="x")
    pd.testing.assert_frame_equal(first.forecast, again.forecast)
    assert first.sentence == again.sentence


def _allocated(months: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for k, period in enumerate(months):
        for rule, base in (("corporate_it", 1_000_000_00), ("facilities", 400_000_00)):
            for i, cc in enumerate(("BU01", "BU02", "BU03")):
                amount = int(base * (1 + 0.01 * k) * (0.2 + 0.3 * i) / 1.2 * rng.lognormal(0, 0.01))
                rows.append((period, rule, "US", "USD", cc, amount))
    return pd.DataFrame(rows, columns=["period", "rule_id", "entity", "currency", "cost_center", "amount_cents"])


def _drivers(months: list[str]) -> pd.DataFrame:
    rows = [(p, "headcount", "cost_center", cc, 10.0 + k + i) for k, p in enumerate(months) for i, cc in enumerate(("BU01", "BU02", "BU03"))]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])


def test_every_pool_driver_and_cost_object_is_forecast():
    months = _months(12)
    forecasts = forecast_all(_allocated(months), _drivers(months), 3)
    assert [(f.kind, f.series) for f in forecasts] == [
        ("pool", "corporate_it"), ("pool", "facilities"), ("driver", "headcount"),
        ("cost_object", "BU01"), ("cost_object", "BU02"), ("cost_object", "BU03"),
    ]
    headcount = next(f for f in forecasts if f.kind == "driver")
    assert headcount.forecast["mean"].iloc[0] == pytest.approx(3 * 10 + 3 + 3 * 12, rel=0.02)
    frame = forecasts_frame(forecasts, "2026-10")
    assert len(frame) == 18 and frame["sentence"].str.len().gt(0).all()


def test_a_whatif_scenario_runs_on_a_forecast_month():
    months = _months(12, world.PERIOD)
    pool = pd.Series(world.POOL_CENTS * (1 + 0.02 * np.arange(12)), index=months)
    drivers = pd.concat([world.driver_values(p) for p in months])
    forecasts = [forecast_series(pool, 2, kind="pool", series="corporate_it", entity="US", currency="USD", unit="cents")]
    forecasts += forecast_all(pd.DataFrame(), drivers, 2)
    last = PeriodInputs(world.PERIOD, world.balances(), world.driver_values(), world.cost_centers(), world.entities(), world.rules_document())
    moved, assumptions = forecast_month_inputs(last, forecasts, "2026-12")
    # The pool grows from its last actual month (1.22 x) to its forecast; the balances move with it.
    expected = forecasts[0].forecast.set_index("period").loc["2026-12", "mean"] / pool.iloc[-1]
    assert moved.period == "2026-12" and set(moved.driver_values["period"]) == {"2026-12"}
    assert moved.balances["balance_cents"].iloc[0] == round(world.POOL_CENTS * expected)
    assert assumptions[0].startswith("US balances x ")
    unchanged = run_scenario(moved, parse_scenario({"name": "none"}))
    assert (unchanged.lines["difference_cents"] == 0).all()
    assert unchanged.lines["baseline_cents"].clip(lower=0).sum() == moved.balances["balance_cents"].iloc[0]
    scaled = run_scenario(moved, parse_scenario({"name": "more-cloud", "drivers": [{"scale": "cloud_spend", "cost_object": "BU01", "factor": 3}]}))
    assert scaled.lines.set_index("cost_center").loc["BU01", "difference_cents"] > 0


@pytest.fixture
def warehouse(tmp_path):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    engine = make_engine(url)
    ensure_schema(engine)
    months = _months(14)
    allocated = _allocated(months)
    runs, lines = [], []
    for number, ((period, rule), part) in enumerate(allocated.groupby(["period", "rule_id"], sort=True), start=1):
        run_id = f"AR-{number:05d}"
        total = int(part["amount_cents"].sum())
        runs.append((run_id, number, "US", period, "COST_ALLOCATION", rule, "driver", "pipeline", None, "posted", "USD", total, total, total,
                     f"fp{number}", None, None, None, None, pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-01")))
        lines.append((run_id, 1, "source", "69100", "IT", None, None, 0, total, None, None, None, "pool"))
        for i, row in enumerate(part.itertuples(index=False), start=2):
            lines.append((run_id, i, "target", "69000", row.cost_center, None, None, row.amount_cents, 0, "headcount", 1.0, 0.3, "share"))
    run_columns = ["run_id", "run_number", "entity", "period", "run_type", "rule_id", "method", "origin", "source_document", "status",
                   "currency", "pool_amount_cents", "total_debit_cents", "total_credit_cents", "fingerprint", "notes", "journal_entry_id",
                   "reversal_entry_id", "dagster_run_id", "created_at", "updated_at"]
    line_columns = ["run_id", "line_no", "role", "account", "cost_center", "product", "region", "debit_cents", "credit_cents", "driver",
                    "driver_value", "share", "explanation"]
    with engine.begin() as conn:
        bulk_insert(conn, "allocation_runs", pd.DataFrame(runs, columns=run_columns))
        bulk_insert(conn, "allocation_lines", pd.DataFrame(lines, columns=line_columns))
        bulk_insert(conn, "driver_values", _drivers(months))
    engine.dispose()
    return url


def _rows(url: str, sql: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(sql), conn)
    engine.dispose()
    return frame


def test_the_asset_and_the_cli_store_forecasts_with_their_backtest(warehouse, monkeypatch, capsys):
    resources = {"warehouse": WarehouseResource(url=warehouse)}
    for _ in range(2):  # materializing again replaces
        result = dg.materialize([allocation_forecasts], partition_key=partition_key_of("2026-10"), resources=resources)
        assert result.success
    stored = _rows(warehouse, "SELECT * FROM forecasts WHERE made_after = '2026-10'")
    assert len(stored) == 6 * 3 and sorted(set(stored["kind"])) == ["cost_object", "driver", "pool"]
    assert stored["backtest_mape"].notna().all() and (stored["lower"] <= stored["upper"]).all()
    metadata = result.asset_materializations_for_node("allocation_forecasts")[0].metadata
    assert metadata["series"].value == 6 and "Pool corporate_it (US)" in metadata["sentences"].value
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", warehouse)
    assert cli.main(["forecast", "--periods", "2", "--kind", "pool"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Forecast of 2026-11, 2026-12 from history up to 2026-10 (80% prediction intervals):")
    assert "pool corporate_it (US, USD), ETS(A,Ad,N) damped trend, 14 months:" in out and "backtest on the last 3 month(s): error" in out
    assert "Stored 2 series" in out
    assert len(_rows(warehouse, "SELECT * FROM forecasts WHERE made_after = '2026-10'")) == 2 * 2
    assert cli.main(["forecast", "--periods", "0"]) == 2
    assert "--periods 0: forecast between 1 and 36 months" in capsys.readouterr().err
    assert cli.main(["forecast", "--last", "2026-13"]) == 2
    assert "not a fiscal month" in capsys.readouterr().err


def test_the_report_data_carries_forecasts_confidence_and_suggestions(warehouse):
    from allocation_pipeline.core.insights.driver_analysis import analyse_drivers
    from allocation_pipeline.core.report.model import insight_figures
    from allocation_pipeline.warehouse.insights_store import replace_period, store_forecasts
    from allocation_pipeline.warehouse.report_store import read_report_data
    from tests.test_insights_driver_analysis import CANDIDATES, planted_history

    months = _months(14)
    analysis = analyse_drivers(planted_history(), "it_consumption", CANDIDATES, pool_id="corporate_it")
    engine = make_engine(warehouse)
    with engine.begin() as conn:
        bulk_insert(conn, "dim_entities", pd.DataFrame({"entity": ["US"], "name": ["Northwind"], "currency": ["USD"]}))
        store_forecasts(conn, "2026-10", forecasts_frame(forecast_all(_allocated(months), _drivers(months), 2), "2026-10"))
        replace_period(conn, "driver_confidence", analysis.confidence_frame("2026-10"), "2026-10")
    with engine.connect() as conn:
        data = read_report_data(conn, "2026-10", "US")
    engine.dispose()
    assert data.driver_confidence["label"].tolist() == ["strong"] and data.driver_confidence["sentence"].iloc[0].startswith("Strong evidence")
    assert set(data.forecasts["kind"]) == {"pool", "driver", "cost_object"} and len(data.forecasts) == 12
    assert data.suggestions.empty
    figures = insight_figures(data)
    assert figures["pools_strong"] == 1 and figures["pools_proposed"] == 1 and figures["forecast_series"] == 6
    assert figures["suggestions_open"] == 0
