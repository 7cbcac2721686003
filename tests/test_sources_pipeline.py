"""The month end to end with extracts from a sources file (headcount from a workbook, usage
metrics from a file plus a FOCUS cloud bill) on a DuckDB warehouse via `dg.materialize`; a broken
source fails its asset and leaves what the warehouse held; `allocation export` writes the month's
workbook. PostgreSQL and SQL sources are covered by test_sources_sql."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import yaml

from allocation_pipeline import cli
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.reporting import run_failures
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, pipeline_resources
from tests.conftest import query_frame as _query
from tests.sources_files import Charge, write_focus, write_workbook

ASSETS = list(build_definitions().assets)
DAY = dt.date(2026, 10, 12)
CHARGES = [
    Charge("Amazon EC2", "Compute", "111111111111", 1200.00, {"cost_center": "EE-IT"}, day=DAY),
    Charge("Amazon RDS", "Databases", "222222222222", 300.00, day=DAY),  # mapped by account
    Charge("Amazon S3", "Storage", "999999999999", 100.00, day=DAY),  # unmapped: 100 of 1550
    Charge("Amazon EC2", "Compute", "333333333333", -50.00, {"cost_center": "EE-HR"}, day=DAY, charge_category="Credit"),
]


def _sources(company) -> dict:
    headcount = pd.read_csv(company / "extracts" / "headcount.csv", dtype=str)
    october = headcount[headcount["period"] == SAMPLE_PERIOD]
    rows = [["Period", "Cost center", "FTE"]] + [[p, c, float(h)] for p, c, h in october.itertuples(index=False)]
    rows[3][2] = -1  # worksheet row 4 (header in row 1): a negative FTE
    write_workbook(company / "extracts" / "people.xlsx", "Headcount", rows)
    (company / "extracts" / "headcount.csv").unlink()
    write_focus(company / "extracts" / "billing" / SAMPLE_PERIOD / "part-1.parquet", CHARGES[:2])
    write_focus(company / "extracts" / "billing" / SAMPLE_PERIOD / "part-2.parquet", CHARGES[2:])
    return {
        "sources": {
            "headcount": {"kind": "excel", "workbook": "people.xlsx", "sheet": "Headcount",
                          "columns": {"period": "Period", "cost_center": "Cost center", "headcount": "FTE"}},
            "usage_metrics": [
                {"kind": "files"},
                {"kind": "focus", "files": "billing/{period}/*.parquet",
                 "cost_center": {"tag": "cost_center", "by": "SubAccountId", "map": {"222222222222": "EE-FIN"}},
                 "metrics": [{"name": "focus_cloud_spend"}, {"name": "focus_spend", "per": "ServiceCategory"}]},
            ],
        }
    }


def _resources(company, url, sources: dict) -> dict:
    path = company / "sources.yaml"
    path.write_text(yaml.safe_dump(sources))
    return {**pipeline_resources(company, url), "sources": SourcesResource(path=str(path))}


@pytest.fixture(scope="module")
def world(sample_company_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources_world")
    company = folder / "company"
    shutil.copytree(sample_company_template, company)
    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    sources = _sources(company)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ASSETS, partition_key=SAMPLE_PARTITION, resources=_resources(company, url, sources), instance=instance, raise_on_error=False)
    assert result.success, run_failures(result)
    return {"company": company, "url": url, "sources": sources, "result": result, "instance": instance}


def test_workbook_rows_are_quarantined_with_their_cell(world):
    rows = _query(world["url"], "SELECT source_file, row_number, column_name, reason FROM quarantine WHERE extract = 'headcount'")
    assert rows.to_dict("records") == [
        {"source_file": "people.xlsx!Headcount", "row_number": 4, "column_name": "headcount",
         "reason": "must not be below 0 (cell people.xlsx!Headcount!C4)"}
    ]


def test_cloud_spend_from_focus_becomes_drivers_and_unmapped_spend_is_reported(world):
    drivers = _query(world["url"], "SELECT driver, cost_object, value FROM driver_values WHERE period = :p AND driver LIKE 'focus%' ORDER BY driver, cost_object", p=SAMPLE_PERIOD)
    assert drivers.to_dict("records") == [
        {"driver": "focus_cloud_spend", "cost_object": "EE-FIN", "value": 300.0},
        {"driver": "focus_cloud_spend", "cost_object": "EE-IT", "value": 1200.0},
        {"driver": "focus_spend_compute", "cost_object": "EE-IT", "value": 1200.0},
        {"driver": "focus_spend_databases", "cost_object": "EE-FIN", "value": 300.0},
    ]
    # The file's own metrics are still there, next to the bill's.
    assert _query(world["url"], "SELECT COUNT(*) AS n FROM driver_values WHERE period = :p AND driver = 'cloud_spend'", p=SAMPLE_PERIOD)["n"][0] > 0
    (materialization,) = world["result"].asset_materializations_for_node("usage_metrics")
    metadata = materialization.metadata
    assert metadata["focus_1_spend"].value == 1550.0 and metadata["focus_1_unmapped_spend"].value == 100.0
    assert metadata["focus_1_unmapped_share"].value == round(100 / 1550, 6) and "999999999999" in metadata["focus_1_unmapped_by"].value
    # A cost center whose credits outweigh its spend is quarantined by the contract, with its place.
    credits = _query(world["url"], "SELECT source_file, reason FROM quarantine WHERE extract = 'usage_metrics' ORDER BY source_file")
    assert credits.to_dict("records") == [
        {"source_file": f"billing/{SAMPLE_PERIOD}/*.parquet[metric={m}, cost_center=EE-HR]", "reason": "must not be below 0"}
        for m in ("focus_cloud_spend", "focus_spend_compute")
    ]
    assert metadata["files"].value == f"usage_metrics.csv, billing/{SAMPLE_PERIOD}/part-1.parquet, billing/{SAMPLE_PERIOD}/part-2.parquet"
    warnings = [e.user_message for e in world["instance"].all_logs(world["result"].run_id) if e.level == 30 and "focus" in e.user_message]
    assert any("100.00 of 1,550.00 USD EffectiveCost in 2026-10 (6.5%) has no cost object" in w for w in warnings)


@pytest.mark.parametrize(
    ("breakage", "asset", "message"),
    [
        ("no_sheet", "headcount", "headcount (excel people.xlsx): no sheet 'Staff' (sheets: Headcount, Notes)"),
        ("focus_columns", "usage_metrics", f"usage_metrics (focus billing/{SAMPLE_PERIOD}/part-3.csv): missing FOCUS column(s) Tags"),
    ],
)
def test_a_broken_source_fails_its_asset_and_keeps_what_the_warehouse_held(world, tmp_path, breakage, asset, message):
    company = tmp_path / "company"
    shutil.copytree(world["company"], company)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    shutil.copy(world["url"].removeprefix("duckdb:///"), url.removeprefix("duckdb:///"))
    sources = yaml.safe_load(yaml.safe_dump(world["sources"]))
    if breakage == "no_sheet":
        sources["sources"]["headcount"]["sheet"] = "Staff"
    else:
        write_focus(company / "extracts" / "billing" / SAMPLE_PERIOD / "part-3.csv", CHARGES[:1], drop=("Tags",))
        # A good file next to it: nothing of it may be loaded either.
        sources["sources"]["usage_metrics"][1]["files"] = "billing/{period}/*.*"
    held = "SELECT * FROM quarantine WHERE extract = :e ORDER BY source_file, row_number"
    before = _query(url, held, e=asset)
    assert len(before) > 0  # the good run's quarantine rows, which the failed run must not replace
    result = dg.materialize(
        ASSETS, partition_key=SAMPLE_PARTITION, resources=_resources(company, url, sources),
        selection=dg.AssetSelection.assets(asset).upstream(), raise_on_error=False,
    )
    assert not result.success
    assert any(message in failure for failure in run_failures(result)), run_failures(result)
    pd.testing.assert_frame_equal(_query(url, held, e=asset), before)


def test_allocation_export_writes_the_months_runs_lines_and_cost_objects(world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", world["url"])
    out = tmp_path / "october.xlsx"
    assert cli.main(["export", "--period", SAMPLE_PERIOD, "--format", "xlsx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(str(out.resolve())) and " runs, " in printed
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Runs", "Lines", "Cost objects"]

    def sheet(name):
        rows = list(book[name].values)
        return pd.DataFrame(rows[1:], columns=rows[0])

    runs, lines, costs = sheet("Runs"), sheet("Lines"), sheet("Cost objects")
    expected = _query(world["url"], "SELECT run_id, CAST(ROUND(total_debit * 100) AS BIGINT) AS c FROM allocation_runs WHERE period = :p ORDER BY run_id", p=SAMPLE_PERIOD)
    assert sorted(runs["run_id"]) == expected["run_id"].tolist() and len(runs) > 0
    totals = {r: round(Decimal(str(v)) * 100) for r, v in zip(runs["run_id"], runs["total_debit"])}
    assert totals == dict(zip(expected["run_id"], expected["c"]))
    by_run = lines.groupby("run_id")["debit"].apply(lambda v: round(sum(Decimal(str(x)) for x in v) * 100))
    assert by_run.to_dict() == totals  # every run's lines add up to its total, to the cent
    assert {"cost_center", "component", "amount"} <= set(costs.columns) and len(costs) > 0
    assert book["Lines"]["K2"].number_format == "#,##0.00" or any(c.number_format == "#,##0.00" for c in book["Lines"][2])
    assert cli.main(["export", "--period", "2031-01", "--out", str(tmp_path / "none.xlsx")]) == 2
    assert "no allocation runs for 2031-01 in duckdb:///" in capsys.readouterr().err
    assert cli.main(["export", "--period", "2026-13", "--out", str(out)]) == 2
