"""Tests of the sample-company generator (`allocation_pipeline.sample`) and its CLI.

Covered: the file layout and summary; byte-identical output for the same arguments; every GL
document balancing to the cent with one-sided lines and unique keys; the fixed facts the sample
rules rely on (the monthly 10,000.00 IT pool on EE-IT, EE-BILL000527 and EE-BILL000528 in both
AP invoices and GL, rent and utilities on the facilities centers, master data counts, inactive
accounts and cost centers unused); AP invoices matching their GL documents; drivers (headcount,
seed-000 ranges and correlations, floor area, cloud spend matching the cloud bill, timesheet
hours per FTE); the allocation matrix (support centers sending exactly 100% within their entity,
IT <-> HR and HR <-> facilities cycles, sub-center roll-ups, management retention, small monthly
moves); GL line volume within 5%; CSV and Parquet holding the same rows; fiscal period
status; replacing earlier extracts; argument errors; the `allocation generate` subcommand; and that the
project's extract reader and cleaner accept every row.

Not covered: the 1,000,000-line timing (a benchmark, not a timed test) and the 10-million-line
memory bound; the allocation pipeline itself. Everything runs on a few thousand lines a month.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from allocation_pipeline.sample import company as sc
from allocation_pipeline.sample.generate import GenerationSummary, generate_company

PERIODS = 3
END = "2026-10"
MONTHS = ["2026-08", "2026-09", "2026-10"]
LINES = 4_000
CLOSED = 1


def _generate(out: Path, **overrides) -> GenerationSummary:
    args = dict(seed=11, periods=PERIODS, end_period=END, closed_periods=CLOSED, gl_lines_per_period=LINES, file_format="csv")
    args.update(overrides)
    return generate_company(out, **args)


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("company_csv")
    return out, _generate(out)


@pytest.fixture(scope="module")
def extracts(company) -> Path:
    return company[0] / "extracts"


def _read(extracts: Path, name: str) -> pd.DataFrame:
    """An extract as text, the way a careful reader sees it (empty stays empty)."""
    folder = extracts / name
    paths = sorted(folder.glob("*.csv")) if folder.is_dir() else [extracts / f"{name}.csv"]
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False).assign(_file=p.stem) for p in paths]
    return pd.concat(frames, ignore_index=True)


def _cents(text: pd.Series) -> pd.Series:
    assert text.str.fullmatch(r"\d+\.\d{2}").all(), "money must be plain text with two decimals"
    return text.str.replace(".", "", regex=False).astype("int64")


@pytest.fixture(scope="module")
def gl(extracts) -> pd.DataFrame:
    frame = _read(extracts, "gl_lines")
    return frame.assign(debit_c=_cents(frame["debit"]), credit_c=_cents(frame["credit"]))


@pytest.fixture(scope="module")
def ap(extracts) -> pd.DataFrame:
    frame = _read(extracts, "ap_invoices")
    return frame.assign(amount_c=_cents(frame["amount"]))


# --- layout and determinism ------------------------------------------------------------------


def test_layout_and_summary(company):
    out, summary = company
    extracts = out / "extracts"
    singles = {f"{name}.csv" for name in sc.SINGLE_FILE_EXTRACTS}
    assert {p.name for p in extracts.iterdir() if p.is_file()} == singles
    assert {p.name for p in extracts.iterdir() if p.is_dir()} == set(sc.PER_PERIOD_EXTRACTS)
    for name in sc.PER_PERIOD_EXTRACTS:
        assert sorted(p.name for p in (extracts / name).iterdir()) == [f"{m}.csv" for m in MONTHS]
    assert summary.periods == tuple(MONTHS)
    assert summary.closed_periods == tuple(MONTHS[:CLOSED])
    assert summary.extracts_dir == extracts.resolve()
    assert all(p.is_file() for p in summary.files)
    assert {p for p in summary.files if p.parent != out.resolve()} == {p.resolve() for p in extracts.rglob("*.csv")}
    for name in sc.EXTRACTS:
        assert summary.row_counts[name] == len(_read(extracts, name)), name
    assert not (out / ".extracts.partial").exists()


def test_same_arguments_write_the_same_bytes(company, tmp_path):
    out, _ = company
    _generate(tmp_path)
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    second = {p.relative_to(tmp_path): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_another_seed_gives_other_transactions(extracts, tmp_path):
    _generate(tmp_path, seed=12, periods=1)
    assert (tmp_path / "extracts" / "accounts.csv").read_bytes() == (extracts / "accounts.csv").read_bytes()
    assert (tmp_path / "extracts/gl_lines/2026-10.csv").read_bytes() != (extracts / "gl_lines/2026-10.csv").read_bytes()


# --- GL invariants ---------------------------------------------------------------------------


def test_every_document_balances_to_the_cent(gl):
    totals = gl.groupby(["entity", "document_id"])[["debit_c", "credit_c"]].sum()
    unbalanced = totals[totals["debit_c"] != totals["credit_c"]]
    assert unbalanced.empty, unbalanced.head()
    assert ((gl["debit_c"] == 0) != (gl["credit_c"] == 0)).all(), "exactly one of debit/credit is non-zero"


def test_gl_keys_currencies_and_dates(gl):
    assert not gl.duplicated(["entity", "document_id", "line"]).any()
    assert (gl["currency"] == gl["entity"].map(sc.ENTITY_CURRENCY)).all()
    assert (gl["posting_date"].str[:7] == gl["_file"]).all(), "a period file holds only its month"
    assert gl["posting_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    lines = gl.groupby(["entity", "document_id"])["line"].apply(lambda s: sorted(map(int, s)))
    assert all(v == list(range(1, len(v) + 1)) for v in lines)
    assert gl["cost_center"].ne("").all() and gl["account"].str.fullmatch(r"\d+").all()
    revenue = gl[gl["account"].isin([sc.ACCOUNT_REVENUE, sc.ACCOUNT_SERVICES_REVENUE])]
    assert len(revenue) and revenue["product"].ne("").all() and revenue["region"].ne("").all()
    assert set(revenue["product"]) >= {"P-CORE", "P-SRVC"}


@pytest.mark.parametrize("lines", [sc.MIN_GL_LINES_PER_PERIOD, 25_000])
def test_line_volume_within_five_percent(tmp_path, lines):
    summary = _generate(tmp_path, periods=2, gl_lines_per_period=lines)
    for month in summary.periods:
        got = len(pd.read_csv(tmp_path / "extracts" / "gl_lines" / f"{month}.csv", usecols=["line"]))
        assert abs(got - lines) <= 0.05 * lines, (month, got)


def test_line_volume_of_default_run(gl):
    assert (gl.groupby("_file").size().sub(LINES).abs() <= 0.05 * LINES).all()


# --- fixed facts -----------------------------------------------------------------------------


def test_it_pool_is_exactly_10000_on_ee_it_every_month(gl):
    pool = gl[(gl["account"] == sc.IT_POOL_ACCOUNT) & (gl["cost_center"] == sc.IT_POOL_COST_CENTER)]
    assert sorted(pool["_file"]) == MONTHS, "one (64000, EE-IT) line per month, no other"
    assert (pool["entity"] == "EE").all() and (pool["debit"] == "10000.00").all() and (pool["credit"] == "0.00").all()
    assert list(pool["document_id"]) == [sc.it_pool_document_id(m) for m in MONTHS]
    assert list(pool["document_id"]) == ["EE-ITMS-202608", "EE-ITMS-202609", "EE-ITMS-202610"]
    docs = gl[gl["document_id"].isin(pool["document_id"])]
    assert set(docs["document_type"]) == {"JOURNAL"}
    assert docs.groupby("document_id")["account"].apply(set).map(lambda s: s == {"64000", "2000"}).all()
    assert (docs.groupby("document_id")["credit_c"].sum() == sc.IT_POOL_CENTS).all()


def test_slack_invoice_in_ap_and_gl(gl, ap):
    lines = ap[ap["document_id"] == sc.SLACK_INVOICE_ID]
    assert len(lines) == 1
    row = lines.iloc[0]
    assert (row["vendor"], row["account"], row["amount"], row["currency"], row["cost_center"]) == ("Slack", "60002", "120.00", "EUR", "EE-ENG")
    assert row["invoice_date"][:7] == END
    doc = gl[gl["document_id"] == sc.SLACK_INVOICE_ID]
    assert set(doc["document_type"]) == {"AP_INVOICE"} and set(doc["_file"]) == {END}
    assert set(doc["account"]) == {"2000", "60002"}
    assert doc.loc[doc["account"] == "60002", "debit"].tolist() == ["120.00"]
    assert doc.loc[doc["account"] == "2000", "credit"].tolist() == ["120.00"]


def test_two_line_invoice_in_ap_and_gl(gl, ap):
    lines = ap[ap["document_id"] == sc.SPLIT_INVOICE_ID].sort_values("line")
    assert lines[["line", "account", "amount"]].values.tolist() == [["1", "60002", "120.00"], ["2", "61000", "350.00"]]
    doc = gl[gl["document_id"] == sc.SPLIT_INVOICE_ID]
    assert set(doc["account"]) == {"60002", "61000", "2000"}
    assert doc.loc[doc["account"] == "2000", "credit"].tolist() == ["470.00"]
    assert set(doc["_file"]) == {END}


def test_ap_invoices_match_their_gl_documents(gl, ap):
    assert ap["document_id"].str.fullmatch(r"(EE|US)-BILL\d{6}").all()
    assert (ap["document_id"].str[:2] == ap["entity"]).all()
    assert not ap.duplicated(["document_id", "line"]).any()
    assert (ap["amount_c"] > 0).all() and (ap["currency"] == ap["entity"].map(sc.ENTITY_CURRENCY)).all()
    docs = gl[gl["document_type"] == "AP_INVOICE"]
    assert set(docs["document_id"]) == set(ap["document_id"])
    debits = docs[docs["debit_c"] > 0]
    merged = debits.merge(ap, on=["entity", "document_id", "line"], how="outer", indicator=True, suffixes=("_gl", "_ap"))
    assert (merged["_merge"] == "both").all(), "one GL debit line per invoice line"
    assert (merged["account_gl"] == merged["account_ap"]).all()
    assert (merged["cost_center_gl"] == merged["cost_center_ap"]).all()
    assert (merged["debit_c"] == merged["amount_c"]).all()
    assert (merged["posting_date"] == merged["invoice_date"]).all()
    credits = docs[docs["credit_c"] > 0]
    assert (credits["account"] == sc.ACCOUNT_PAYABLE).all()
    assert credits.groupby("document_id").size().eq(1).all()
    totals = ap.groupby("document_id")["amount_c"].sum()
    assert (credits.set_index("document_id")["credit_c"].sort_index() == totals.sort_index()).all()
    assert credits["line"].astype(int).tolist() == (ap.groupby("document_id").size().loc[credits["document_id"]] + 1).tolist()
    assert ap.groupby("_file").size().gt(20).all(), "a realistic number of invoices every month"


def test_master_data(extracts):
    centers = _read(extracts, "cost_centers")
    accounts = _read(extracts, "accounts").set_index("account")
    entities = _read(extracts, "entities").set_index("entity")
    members = _read(extracts, "dimension_members")
    assert entities["currency"].to_dict() == {"EE": "EUR", "US": "USD"}
    assert len(centers) >= 40
    active = centers[centers["active"] == "true"]
    assert (active["kind"] == "operating").sum() >= 8
    assert (centers["active"] == "false").sum() >= 2
    by_id = centers.set_index("cost_center")
    for entity in ("EE", "US"):
        for suffix, function in sc.SUPPORT_FUNCTIONS.items():
            row = by_id.loc[f"{entity}-{suffix}"]
            assert (row["kind"], row["function"], row["entity"], row["active"]) == ("support", function, entity, "true")
    assert by_id.loc["EE-IT-INFRA", "parent"] == "EE-IT"
    assert set(centers["parent"]) - {""} <= set(centers["cost_center"])
    assert {"EE-ENG", "EE-PRD", "EE-SAL"} <= set(active.loc[active["kind"] == "operating", "cost_center"])
    bus = by_id.loc[list(sc.US_BUSINESS_UNITS)]
    assert (bus["kind"] == "operating").all() and (bus["active"] == "true").all() and bus["name"].str.len().gt(3).all()
    expected = {
        "1000": "asset", "2000": "liability", "40000": "revenue", "50000": "expense", "60002": "expense",
        "61000": "expense", "62000": "expense", "62100": "expense", "64000": "expense", "69000": "expense",
        "69100": "expense", "69200": "expense",
    }
    assert {a: accounts.loc[a, "type"] for a in expected} == expected
    assert accounts.loc["2000", "name"] == "Accounts payable" and accounts.loc["60002", "name"] == "Software subscriptions"
    assert (accounts["active"] == "false").sum() >= 3
    assert set(accounts.index[accounts["active"] == "false"]) == set(sc.INACTIVE_ACCOUNTS)
    counts = members[members["active"] == "true"].groupby("dimension").size()
    assert counts["product"] >= 5 and counts["region"] >= 4 and counts["segment"] >= 2 and counts["activity"] >= 4


def test_inactive_master_data_and_allocation_accounts_unused(gl, extracts):
    accounts = _read(extracts, "accounts")
    centers = _read(extracts, "cost_centers")
    periods = _read(extracts, "fiscal_periods")
    open_months = set(periods.loc[periods["status"] == "open", "period"])
    open_gl = gl[gl["_file"].isin(open_months)]
    assert len(open_gl)
    inactive = set(accounts.loc[accounts["active"] == "false", "account"])
    assert not open_gl["account"].isin(inactive).any()
    assert not gl["account"].isin(inactive).any()
    assert not gl["cost_center"].isin(centers.loc[centers["active"] == "false", "cost_center"]).any()
    assert not gl["account"].isin(sc.ALLOCATION_ACCOUNTS).any(), "allocation accounts are the pipeline's"
    assert set(gl["account"]) <= set(accounts["account"]) and set(gl["cost_center"]) <= set(centers["cost_center"])


def test_rent_and_utilities_on_facilities_every_month(gl):
    facilities = gl[gl["account"].isin([sc.ACCOUNT_RENT, sc.ACCOUNT_UTILITIES])]
    assert set(facilities["cost_center"]) == {"EE-FAC", "US-FAC"}
    seen = facilities.groupby(["_file", "cost_center", "account"]).size()
    assert len(seen) == len(MONTHS) * 2 * 2


# --- drivers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def usage(extracts) -> pd.DataFrame:
    frame = _read(extracts, "usage_metrics")
    return frame.assign(value=frame["value"].astype(float))


@pytest.fixture(scope="module")
def headcount(extracts) -> pd.DataFrame:
    frame = _read(extracts, "headcount")
    return frame.assign(headcount=frame["headcount"].astype(float))


def test_headcount_and_metrics_for_every_active_center_every_month(headcount, usage):
    assert sorted(zip(headcount["period"], headcount["cost_center"])) == sorted(
        (m, c) for m in MONTHS for c in sc.ACTIVE_COST_CENTERS
    )
    by_center = usage[usage["dimension"] == "cost_center"]
    for metric in sc.USAGE_METRICS:
        rows = by_center[by_center["metric"] == metric]
        assert sorted(zip(rows["period"], rows["cost_object"])) == sorted((m, c) for m in MONTHS for c in sc.OPERATING_COST_CENTERS)
    products = usage[(usage["metric"] == "revenue") & (usage["dimension"] == "product")]
    assert set(products["cost_object"]) == set(sc.PRODUCT_IDS) and products["value"].sum() > 0
    assert (usage["value"] >= 0).all() and not usage.duplicated(["period", "metric", "dimension", "cost_object"]).any()


def test_us_business_units_follow_seed_000(headcount, usage):
    bu = usage[usage["cost_object"].isin(sc.US_BUSINESS_UNITS)].pivot_table(
        index=["period", "cost_object"], columns="metric", values="value"
    )
    bu = bu.join(headcount.set_index(["period", "cost_center"])["headcount"].rename_axis(["period", "cost_object"]))
    for driver, (low, high) in sc.US_BU_RANGES.items():
        assert bu[driver].between(low, high).all(), driver
    # Spread across the ranges, not uniform noise: licences and tickets grow with headcount.
    month = bu.xs(END, level="period")
    assert month["headcount"].min() < 25 and month["headcount"].max() > 180
    ranks = month.rank()  # Spearman correlation, without importing scipy
    assert ranks["headcount"].corr(ranks["app_licences"]) > 0.9
    assert ranks["headcount"].corr(ranks["it_tickets"]) > 0.7
    # Cloud spend is heaviest in the engineering-like units, not in sales or support.
    assert month["cloud_spend"].idxmax() in {"US-BU1", "US-BU3", "US-BU4"}
    assert month.loc["US-BU2", "cloud_spend"] < month.loc["US-BU1", "cloud_spend"] / 5


def test_floor_area_follows_headcount(headcount, usage):
    area = usage[usage["metric"] == "floor_area"].set_index(["period", "cost_object"])["value"]
    fte = headcount.set_index(["period", "cost_center"])["headcount"].rename_axis(["period", "cost_object"])
    per_fte = (area / fte.loc[area.index]).dropna()
    assert per_fte.between(6, 16).all()


def test_cloud_bill_equals_cloud_spend(gl, usage):
    cloud = usage[usage["metric"] == "cloud_spend"]
    for entity, center in sc.CLOUD_COST_CENTER.items():
        spend = cloud[cloud["cost_object"].str.startswith(entity + "-")].groupby("period")["value"].sum()
        bill = gl[(gl["account"] == sc.ACCOUNT_CLOUD_HOSTING) & (gl["cost_center"] == center)].groupby("_file")["debit_c"].sum()
        assert np.allclose(bill.loc[spend.index].to_numpy() / 100, spend.to_numpy(), atol=0.01 * 40)


def test_payroll_and_revenue_follow_the_drivers(gl, headcount, usage):
    salaries = gl[gl["account"] == sc.ACCOUNT_SALARIES].groupby(["_file", "cost_center"])["debit_c"].sum()
    fte = headcount.set_index(["period", "cost_center"])["headcount"]
    assert set(salaries.index) == set(fte.index)
    assert np.corrcoef(salaries.loc[fte.index].to_numpy(), fte.to_numpy())[0, 1] > 0.8
    revenue = gl[gl["account"].str.startswith("4")].groupby(["_file", "cost_center"])["credit_c"].sum() / 100
    metric = usage[(usage["metric"] == "revenue") & (usage["dimension"] == "cost_center")].set_index(["period", "cost_object"])["value"]
    metric = metric[metric > 0]
    assert np.allclose(revenue.loc[metric.index].to_numpy(), metric.to_numpy(), atol=0.01)


def test_timesheets_consistent_with_headcount(extracts, headcount):
    sheets = _read(extracts, "timesheets")
    hours = sheets["hours"].astype(float)
    assert hours.gt(0).all() and hours.le(24).all()
    assert not sheets.duplicated(["employee", "work_date", "cost_center", "activity"]).any()
    assert (sheets["work_date"].str[:7] == sheets["_file"]).all()
    assert set(sheets["activity"]) <= set(sc.ACTIVITY_IDS) and {"development", "support", "sales", "administration"} <= set(sheets["activity"])
    assert sheets["employee"].groupby(sheets["employee"]).first().map(lambda e: e.startswith("EMP")).all()
    assert sheets.groupby("employee")["cost_center"].nunique().eq(1).all()
    total = hours.groupby([sheets["_file"], sheets["cost_center"]]).sum()
    fte = headcount.set_index(["period", "cost_center"])["headcount"]
    per_fte = (total / fte.loc[total.index].to_numpy())
    assert set(total.index) == set(fte.index)
    assert per_fte.between(120, 190).all() and 140 <= per_fte.median() <= 165


# --- periods, formats, replacing -------------------------------------------------------------


# --- multi-level allocation matrix -----------------------------------------------------------


@pytest.fixture(scope="module")
def allocation_matrix(extracts) -> pd.DataFrame:
    frame = _read(extracts, "allocation_matrix")
    return frame.assign(percent=frame["percent"].astype(float))


def test_matrix_sends_every_support_center_in_full_within_its_entity(allocation_matrix, extracts):
    centers = _read(extracts, "cost_centers").set_index("cost_center")
    matrix = allocation_matrix
    assert not matrix.duplicated(["period", "entity", "source", "target"]).any()
    assert sorted(set(zip(matrix["period"], matrix["source"]))) == sorted((m, c) for m in MONTHS for c in sc.SUPPORT_COST_CENTERS)
    assert (centers.loc[matrix["source"], "entity"].to_numpy() == matrix["entity"].to_numpy()).all()
    assert (centers.loc[matrix["target"], "entity"].to_numpy() == matrix["entity"].to_numpy()).all()
    assert set(matrix["target"]) <= set(sc.ACTIVE_COST_CENTERS)
    assert (matrix["percent"] > 0).all()
    assert matrix["percent"].map(lambda p: round(p * 100) == p * 100 or abs(round(p, 2) - p) < 1e-9).all(), "two decimals"
    basis_points = (matrix["percent"] * 100).round().astype(int).groupby([matrix["period"], matrix["source"]]).sum()
    assert (basis_points == 10_000).all(), "each source's percents sum to exactly 100"
    # Every operating center is served by every top-level support center.
    served = matrix[matrix["target"].isin(sc.OPERATING_COST_CENTERS)].groupby(["period", "source"])["target"].nunique()
    operating = {e: sum(1 for c in sc.OPERATING_COST_CENTERS if centers.loc[c, "entity"] == e) for e in ("EE", "US")}
    for (period, source), count in served.items():
        assert count == operating[centers.loc[source, "entity"]], (period, source)


def test_matrix_has_reciprocal_cycles_rollups_and_management_retention(allocation_matrix):
    month = allocation_matrix[allocation_matrix["period"] == END]
    pairs = set(zip(month["source"], month["target"]))
    for entity in ("EE", "US"):
        assert (f"{entity}-IT", f"{entity}-HR") in pairs and (f"{entity}-HR", f"{entity}-IT") in pairs, "IT <-> HR"
        assert (f"{entity}-HR", f"{entity}-FAC") in pairs and (f"{entity}-FAC", f"{entity}-HR") in pairs, "HR <-> facilities"
        assert (f"{entity}-MGT", f"{entity}-FIN") not in pairs, "management serves the business only"
        retention = month[(month["source"] == f"{entity}-MGT") & (month["target"] == f"{entity}-MGT")]["percent"]
        assert retention.tolist() == [sc.MANAGEMENT_RETENTION_PERCENT]
    rollup = month[(month["source"] == "EE-IT-INFRA") & (month["target"] == "EE-IT")]["percent"]
    assert rollup.between(20, 40).all() and len(rollup) == 1


def test_matrix_percents_move_a_little_from_month_to_month(allocation_matrix):
    wide = allocation_matrix.pivot_table(index=["source", "target"], columns="period", values="percent")
    assert not wide.isna().any().any(), "the same relations every month"
    moves = wide.diff(axis=1).abs().iloc[:, 1:]
    assert (moves.to_numpy() > 0).any() and moves.to_numpy().max() < 3.0, "percents drift, not jump"


def test_fiscal_periods_closed_then_open(extracts):
    periods = _read(extracts, "fiscal_periods")
    assert len(periods) == 2 * PERIODS
    for _, rows in periods.groupby("entity"):
        assert rows["period"].tolist() == MONTHS
        assert rows["status"].tolist() == ["closed"] * CLOSED + ["open"] * (PERIODS - CLOSED)
    oct_ = periods[periods["period"] == "2026-10"].iloc[0]
    assert (oct_["start_date"], oct_["end_date"]) == ("2026-10-01", "2026-10-31")


def test_more_closed_periods_than_periods_closes_all(tmp_path):
    summary = _generate(tmp_path, periods=2, closed_periods=9, gl_lines_per_period=1_000)
    periods = pd.read_csv(tmp_path / "extracts" / "fiscal_periods.csv")
    assert set(periods["status"]) == {"closed"} and summary.closed_periods == summary.periods


def test_csv_and_parquet_hold_the_same_rows(extracts, tmp_path):
    summary = _generate(tmp_path, file_format="parquet")
    pq_root = tmp_path / "extracts"
    assert summary.row_counts == {name: len(_read(extracts, name)) for name in sc.EXTRACTS}
    parquet_files = sorted(p.relative_to(pq_root).with_suffix("") for p in pq_root.rglob("*.parquet"))
    csv_files = sorted(p.relative_to(extracts).with_suffix("") for p in extracts.rglob("*.csv"))
    assert parquet_files == csv_files
    for relative in parquet_files:
        table = pq.read_table(pq_root / relative.with_suffix(".parquet"))
        options = pa_csv.ConvertOptions(column_types=table.schema, strings_can_be_null=True)
        from_csv = pa_csv.read_csv(extracts / relative.with_suffix(".csv"), convert_options=options)
        assert from_csv.schema.names == table.schema.names
        assert from_csv.equals(table), relative
    gl = pq.read_table(pq_root / "gl_lines" / f"{END}.parquet")
    assert str(gl.schema.field("debit").type) == "string" and str(gl.schema.field("line").type) == "int64"


def test_regenerating_replaces_the_extracts(tmp_path):
    _generate(tmp_path, periods=2, gl_lines_per_period=1_000)
    (tmp_path / "extracts" / "stray.csv").write_text("x\n")
    _generate(tmp_path, periods=1, gl_lines_per_period=1_000, file_format="parquet")
    files = [p for p in (tmp_path / "extracts").rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".parquet" for p in files)
    assert [p.name for p in (tmp_path / "extracts" / "gl_lines").iterdir()] == [f"{END}.parquet"]
    assert not (tmp_path / ".extracts.partial").exists()


def test_rules_file_copied_when_the_package_ships_one(company):
    out, summary = company
    shipped = Path(sc.__file__).parents[1] / "sample" / "rules.yaml"
    if shipped.is_file():
        assert (out / "rules.yaml").read_bytes() == shipped.read_bytes()
        assert summary.rules_file == (out / "rules.yaml").resolve()
    else:
        assert not (out / "rules.yaml").exists() and summary.rules_file is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"end_period": "2026-13"}, "YYYY-MM"),
        ({"end_period": "Oct 2026"}, "YYYY-MM"),
        ({"periods": 0}, "periods"),
        ({"closed_periods": -1}, "closed_periods"),
        ({"gl_lines_per_period": 10}, "gl_lines_per_period"),
        ({"file_format": "xlsx"}, "file_format"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _generate(tmp_path / "out", **overrides)
    assert not (tmp_path / "out").exists()


def test_generator_imports_neither_dagster_nor_sqlalchemy():
    code = "import sys, allocation_pipeline.sample.generate; print(sorted({'dagster', 'sqlalchemy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- the project's reader and cleaner accept every row ---------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_project_cleaner_quarantines_nothing(tmp_path, file_format):
    from allocation_pipeline.core.ingestion import cleaning
    from allocation_pipeline.core.ingestion import extracts as extracts_module

    _generate(tmp_path, periods=1, gl_lines_per_period=1_500, file_format=file_format)
    for name, spec in cleaning.EXTRACT_SPECS.items():
        required, optional = spec.file_columns()
        raw = extracts_module.read_extract(tmp_path / "extracts", name, required, optional)
        result = cleaning.clean_extract(raw, spec)
        assert result.rows_quarantined == 0, (name, result.reasons().head())
        assert result.rows_kept == result.rows_in > 0


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli():
    from allocation_pipeline import cli as cli_module

    return cli_module


def test_cli_generate(cli, tmp_path, capsys):
    status = cli.main(["generate", "--out", str(tmp_path), "--gl-lines-per-period", "2000", "--periods", "3"])
    assert status == 0
    printed = capsys.readouterr().out
    assert str(tmp_path) in printed and "gl_lines" in printed and "2026-08 .. 2026-10" in printed
    assert sorted(p.name for p in (tmp_path / "extracts" / "gl_lines").iterdir()) == [f"{m}.csv" for m in MONTHS]
    # Without --closed-periods the latest three months stay open.
    periods = pd.read_csv(tmp_path / "extracts" / "fiscal_periods.csv")
    assert set(periods["status"]) == {"open"}


def test_cli_generate_parquet_with_options(cli, tmp_path):
    argv = ["generate", "--out", str(tmp_path), "--gl-lines-per-period", "1000", "--periods", "2", "--end-period", "2025-01",
            "--closed-periods", "1", "--seed", "3", "--format", "parquet"]
    assert cli.main(argv) == 0
    periods = pq.read_table(tmp_path / "extracts" / "fiscal_periods.parquet").to_pandas()
    assert periods.groupby("period")["status"].first().to_dict() == {"2024-12": "closed", "2025-01": "open"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--end-period", "2026-1"], "--end-period"),
        (["--periods", "0"], "--periods"),
        (["--gl-lines-per-period", "5"], "--gl-lines-per-period"),
        (["--format", "xlsx"], "--format"),
    ],
)
def test_cli_bad_arguments(cli, tmp_path, capsys, argv, message):
    assert cli.main(["generate", "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("allocation generate:") and message in err
    assert not (tmp_path / "out").exists()
