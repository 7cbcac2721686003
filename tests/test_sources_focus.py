"""FOCUS cloud billing read as usage metrics: tag and account mappings, per-service metrics,
spend without a cost object measured and reported, and bad exports refused whole. Pure: files
under tmp_path, no warehouse, no Dagster."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.sources.config import SourcesError, parse_sources
from allocation_pipeline.core.sources.focus import FOCUS_COLUMNS, read_focus
from allocation_pipeline.core.sources.reader import read_sourced_extract
from tests.sources_files import Charge, write_focus

REQUIRED, OPTIONAL = EXTRACT_SPECS["usage_metrics"].file_columns()

CHARGES = [
    Charge("Amazon EC2", "Compute", "111111111111", 120.25, {"cost_center": "EE-IT", "env": "prod"}),
    Charge("Amazon EC2", "Compute", "222222222222", 80.00, {"cost_center": "EE-SALES"}),
    Charge("Amazon RDS", "Databases", "222222222222", 50.50),  # untagged, account mapped
    Charge("Amazon S3", "Storage", "333333333333", 30.00),  # untagged, account unknown
    Charge("AWS Support", "Management and Governance", "333333333333", 19.25),  # untagged, unknown
    Charge("Amazon EC2", "Compute", "111111111111", 500.00, {"cost_center": "EE-IT"}, day=dt.date(2026, 9, 30)),  # other month
]


def _source(**overrides) -> dict:
    source = {
        "kind": "focus",
        "files": "billing/*.csv",
        "cost_center": {"tag": "cost_center", "by": "SubAccountId", "map": {"222222222222": "EE-SALES"}},
        "metrics": [{"name": "cloud_spend"}, {"name": "spend", "per": "ServiceCategory"}, {"name": "database_spend", "where": {"ServiceCategory": "Databases"}}],
    }
    source.update(overrides)
    return source


def _config(**overrides):
    return parse_sources({"sources": {"usage_metrics": _source(**overrides)}})


def _values(frame) -> dict[tuple[str, str], float]:
    return {(m, c): round(float(v), 2) for m, c, v in zip(frame["metric"], frame["cost_object"], frame["value"])}


def test_the_generated_files_carry_the_specification_columns():
    assert {"BilledCost", "EffectiveCost", "ListCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "ServiceName",
            "ServiceCategory", "SubAccountId", "SubAccountName", "Tags", "BillingCurrency", "ChargeCategory"} <= set(FOCUS_COLUMNS)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_spend_becomes_usage_metrics_per_cost_center_with_unmapped_spend_reported(tmp_path, suffix):
    write_focus(tmp_path / "billing" / f"export{suffix}", CHARGES)
    source = _config(files=f"billing/*{suffix}").sources_of("usage_metrics")[0]
    read = read_focus(source, tmp_path, period="2026-10")
    assert _values(read.raw.frame) == {
        ("cloud_spend", "EE-IT"): 120.25,
        ("cloud_spend", "EE-SALES"): 130.50,  # 80.00 tagged + 50.50 through its account
        ("database_spend", "EE-SALES"): 50.50,
        ("spend_compute", "EE-IT"): 120.25,
        ("spend_compute", "EE-SALES"): 80.00,
        ("spend_databases", "EE-SALES"): 50.50,
    }
    assert set(read.raw.frame["period"]) == {"2026-10"} and set(read.raw.frame["dimension"]) == {"cost_center"}
    assert read.total == pytest.approx(300.00) and read.unmapped == pytest.approx(49.25)
    assert read.unmapped_share == pytest.approx(49.25 / 300.00)
    assert read.unmapped_by.to_dict("records") == [{"key": "333333333333", "amount": pytest.approx(49.25)}]
    warning = read.summary("usage_metrics (focus billing)")
    assert "49.25 of 300.00 USD EffectiveCost in 2026-10 (16.4%) has no cost object" in warning
    assert "SubAccountId 333333333333: 49.25" in warning
    # Every dollar is accounted for: what the metric sums plus what no cost object claimed.
    cloud = read.raw.frame[read.raw.frame["metric"] == "cloud_spend"]["value"].sum()
    assert cloud + read.unmapped == pytest.approx(read.total)


def test_many_files_a_month_and_the_period_in_the_pattern(tmp_path):
    write_focus(tmp_path / "billing" / "2026-10" / "part-1.parquet", CHARGES[:2])
    write_focus(tmp_path / "billing" / "2026-10" / "part-2.parquet", CHARGES[2:5])
    write_focus(tmp_path / "billing" / "2026-09" / "part-1.parquet", CHARGES[5:])
    source = _config(files="billing/{period}/*.parquet").sources_of("usage_metrics")[0]
    october = read_focus(source, tmp_path, period="2026-10")
    assert october.raw.files == ["billing/2026-10/part-1.parquet", "billing/2026-10/part-2.parquet"]
    assert _values(october.raw.frame)[("cloud_spend", "EE-IT")] == 120.25
    september = read_focus(source, tmp_path, period="2026-09")
    assert _values(september.raw.frame) == {("cloud_spend", "EE-IT"): 500.0, ("spend_compute", "EE-IT"): 500.0}


def test_billed_cost_map_file_and_a_cost_object_for_the_unmapped(tmp_path):
    charges = CHARGES[:5]
    charges[0] = Charge("Amazon EC2", "Compute", "111111111111", 120.25, {"cost_center": "EE-IT"})
    write_focus(tmp_path / "billing.csv", charges)
    (tmp_path / "accounts.csv").write_text("SubAccountId,cost_center\n222222222222,EE-SALES\n")
    source = _config(
        files="billing.csv", cost="BilledCost", metrics=[{"name": "cloud_spend"}],
        cost_center={"tag": "cost_center", "by": "SubAccountId", "map_file": "accounts.csv", "unmapped": "EE-IT"},
    ).sources_of("usage_metrics")[0]
    read = read_focus(source, tmp_path, period="2026-10")
    assert _values(read.raw.frame) == {("cloud_spend", "EE-IT"): 169.50, ("cloud_spend", "EE-SALES"): 130.50}
    assert read.unmapped == pytest.approx(49.25)  # still reported, though assigned
    assert "assigned to EE-IT" in read.summary("x")


def test_a_fully_tagged_month_reports_nothing_unmapped(tmp_path):
    write_focus(tmp_path / "billing.csv", CHARGES[:2])
    read = read_focus(_config(files="billing.csv").sources_of("usage_metrics")[0], tmp_path, period="2026-10")
    assert read.unmapped == 0 and read.summary("x") is None and read.unmapped_by.empty


def test_credits_that_outweigh_spend_are_quarantined_by_the_contract_not_dropped(tmp_path):
    charges = CHARGES[:2] + [Charge("Amazon EC2", "Compute", "222222222222", -100.0, {"cost_center": "EE-SALES"}, charge_category="Credit")]
    write_focus(tmp_path / "billing" / "credits.csv", charges)
    sourced = read_sourced_extract(_config(metrics=[{"name": "cloud_spend"}]), tmp_path, "usage_metrics", REQUIRED, OPTIONAL, period="2026-10")
    result = clean_extract(sourced, EXTRACT_SPECS["usage_metrics"], {}, period="2026-10")
    assert result.rows_in == 2 and result.rows_kept == 1
    (row,) = result.quarantine.to_dict("records")
    assert row["source_file"] == "billing/*.csv[metric=cloud_spend, cost_center=EE-SALES]"
    assert row["reason"] == "must not be below 0" and row["value"] == "-20.0"
    usage_only = read_focus(_config(charge_categories=["Usage"]).sources_of("usage_metrics")[0], tmp_path, period="2026-10")
    assert _values(usage_only.raw.frame)[("cloud_spend", "EE-SALES")] == 80.0


def test_a_file_without_the_required_columns_fails_the_whole_source(tmp_path):
    write_focus(tmp_path / "billing" / "a.csv", CHARGES[:2])
    write_focus(tmp_path / "billing" / "b.csv", CHARGES[2:4], drop=("Tags", "EffectiveCost"))
    config = _config()
    with pytest.raises(SourcesError) as error:
        read_sourced_extract(config, tmp_path, "usage_metrics", REQUIRED, OPTIONAL, period="2026-10")
    assert str(error.value) == "usage_metrics (focus billing/b.csv): missing FOCUS column(s) EffectiveCost, Tags"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,amount\nx,1\n", "missing FOCUS column(s) ChargePeriodStart, EffectiveCost, BillingCurrency, ServiceName, Tags, SubAccountId, ServiceCategory - this does not look like a FOCUS export"),
    ],
)
def test_a_file_that_is_not_focus_at_all(tmp_path, content, message):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "bill.csv").write_text(content)
    with pytest.raises(SourcesError, match="usage_metrics \\(focus billing/bill.csv\\): ") as error:
        read_focus(_config().sources_of("usage_metrics")[0], tmp_path, period="2026-10")
    assert message in str(error.value)


def test_bad_costs_dates_currencies_and_missing_files_are_named(tmp_path):
    path = write_focus(tmp_path / "billing" / "a.csv", CHARGES[:3])
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[1, "EffectiveCost"] = "n/a"
    frame.to_csv(path, index=False)
    source = _config().sources_of("usage_metrics")[0]
    with pytest.raises(SourcesError, match=r"billing/a.csv\): EffectiveCost is not a number in 1 row\(s\) \(data rows 2\)"):
        read_focus(source, tmp_path, period="2026-10")
    write_focus(path, [CHARGES[0], Charge("Azure VM", "Compute", "9", 1.0, currency="EUR")])
    with pytest.raises(SourcesError, match=r"more than one BillingCurrency \(EUR, USD\)"):
        read_focus(source, tmp_path, period="2026-10")
    with pytest.raises(SourcesError, match=r"usage_metrics \(focus nothing/\*.csv\): no file matches nothing/\*.csv"):
        read_focus(_config(files="nothing/*.csv").sources_of("usage_metrics")[0], tmp_path, period="2026-10")
