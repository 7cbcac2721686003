"""One fiscal month end to end with `dg.materialize` against a real warehouse (DuckDB file and
PostgreSQL schema): posting, balance to the cent, idempotent re-runs, quarantine in the warehouse,
refusals (closed period, changed posted run, failed blocking check) and a crash mid-post.

Uses the generated sample company (tests/conftest.py); tests that start from a posted month take a
copy of the warehouse the session materialized once, and tests about the posting path materialize
only it (`*journal_entries` and the fiscal periods, not the insights and the report). Does not start Dagster processes.
"""

import pytest

import dagster as dg
from allocation_pipeline.reporting import run_failures
from allocation_pipeline.warehouse import ledger_store
from tests.conftest import materialize, query_frame

# The month up to its posted entries (the fiscal periods posting reads are among its upstream assets).
POSTING = dg.AssetSelection.assets("journal_entries").upstream()
# On a warehouse that already holds the month's GL lines (a copy of the reference or the posted
# month), a test that changes neither the GL nor what its cleaning reads (entities, accounts, cost
# centers) posts without loading the GL again: nothing takes gl_lines as an input, only as a dependency.
POSTING_ON_LOADED_GL = POSTING - dg.AssetSelection.assets("gl_lines")
RUNS_ON_LOADED_GL = dg.AssetSelection.assets("allocation_runs").upstream() - dg.AssetSelection.assets("gl_lines")


query = query_frame


def ledger_state(url):
    """Everything posting touches, to compare before and after."""
    return {
        table: query(url, f"SELECT * FROM {table} ORDER BY 1, 2").astype(str).to_dict("records")  # fixed table names
        for table in ("allocation_runs", "allocation_run_history", "journal_entries", "journal_lines", "document_links")
    }


def test_a_period_flows_from_extracts_to_balanced_posted_entries(posted_month):
    result, warehouse_url = posted_month.result, posted_month.url
    assert result.success, run_failures(result)

    runs = query(warehouse_url, "SELECT run_id, rule_id, entity, status, journal_entry_id FROM allocation_runs ORDER BY run_id")
    assert runs["rule_id"].tolist() == [
        "it_overhead_split", "ee_facilities_by_floor_area", "us_facilities_by_floor_area", "ee_service_centers", "us_service_centers",
    ]
    assert runs["status"].tolist() == ["posted"] * 5
    assert runs["journal_entry_id"].tolist() == ["EE-CAL000001", "EE-CAL000002", "US-CAL000001", "EE-CAL000003", "US-CAL000002"]

    it_lines = query(
        warehouse_url,
        "SELECT cost_center, CAST(debit * 100 AS BIGINT) AS debit_cents, CAST(credit * 100 AS BIGINT) AS credit_cents "
        "FROM journal_lines WHERE entry_id = :entry ORDER BY line_no",
        entry="EE-CAL000001",
    )
    assert it_lines.values.tolist() == [["EE-IT", 0, 1_000_000], ["EE-ENG", 600_000, 0], ["EE-PRD", 250_000, 0], ["EE-SAL", 150_000, 0]]

    sums = query(warehouse_url, "SELECT entry_id, SUM(debit) AS d, SUM(credit) AS c, COUNT(*) AS n FROM journal_lines GROUP BY entry_id")
    assert len(sums) == 5
    assert (sums["d"] == sums["c"]).all() and (sums["n"] >= 2).all()
    headers = query(warehouse_url, "SELECT transaction_type, total_debit, total_credit, posting_date FROM journal_entries")
    assert set(headers["transaction_type"]) == {"COST_ALLOCATION"}
    assert (headers["total_debit"] == headers["total_credit"]).all()
    assert {str(d) for d in headers["posting_date"]} == {"2026-10-31"}

    links = query(warehouse_url, "SELECT from_document, to_document, link_type FROM document_links ORDER BY from_document")
    assert links.values.tolist() == [
        ["ALLOC-0001", "EE-CAL000001", "posted_as"],
        ["ALLOC-0002", "EE-CAL000002", "posted_as"],
        ["ALLOC-0003", "US-CAL000001", "posted_as"],
        ["ALLOC-0004", "EE-CAL000003", "posted_as"],
        ["ALLOC-0005", "US-CAL000002", "posted_as"],
    ]
    history = query(warehouse_url, "SELECT from_status, to_status, changed_by FROM allocation_run_history WHERE run_id = 'ALLOC-0001' ORDER BY seq")
    assert history.fillna("").values.tolist() == [
        ["", "draft", "pipeline"],
        ["draft", "calculated", "pipeline"],
        ["calculated", "approved", "policy:auto"],
        ["approved", "posted", "pipeline"],
    ]
    gl_rows = query(warehouse_url, "SELECT COUNT(*) AS n FROM gl_lines WHERE period = '2026-10'")["n"].iloc[0]
    gl_metadata = result.asset_materializations_for_node("gl_lines")[0].metadata
    assert gl_rows == gl_metadata["rows_kept"].value
    assert gl_metadata["rows_in"].value == gl_metadata["rows_kept"].value + gl_metadata["rows_quarantined"].value

    posting = result.asset_materializations_for_node("journal_entries")[0].metadata
    assert posting["posted_now"].value == 5
    assert "ALLOC-0001 -> EE-CAL000001" in posting["posted_now_entries"].value


def test_rematerializing_a_period_replaces_and_never_double_posts(sample_company, posted_warehouse_url):
    warehouse_url = posted_warehouse_url
    before = ledger_state(warehouse_url)
    counts = {t: query(warehouse_url, f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0] for t in ("gl_lines", "driver_values", "quarantine")}
    # Every asset that writes what is compared (the ledger's tables, the lines, driver values and the
    # extracts' quarantine); the insights and the report downstream write none of it.
    again = materialize(sample_company, warehouse_url, selection=POSTING | dg.AssetSelection.assets("ap_invoices"))
    assert again.success, run_failures(again)
    assert ledger_state(warehouse_url) == before
    assert {t: query(warehouse_url, f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0] for t in counts} == counts
    runs_meta = again.asset_materializations_for_node("allocation_runs")[0].metadata
    assert runs_meta["runs_unchanged"].value == "ALLOC-0001, ALLOC-0002, ALLOC-0003"
    assert again.asset_materializations_for_node("journal_entries")[0].metadata["posted_now"].value == 0


def test_bad_rows_land_in_the_quarantine_table(sample_company, duckdb_url):
    gl_file = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    lines = gl_file.read_text().splitlines()
    header = lines[0].split(",")
    good = dict(zip(header, lines[1].split(",")))
    bad_rows = [
        {**good, "document_id": "BAD-1", "cost_center": "XX-UNKNOWN"},
        {**good, "document_id": "BAD-2", "debit": "twelve"},
        {**good, "document_id": "BAD-3", "posting_date": "2026-10-35"},
        dict(good),  # a duplicate of line 1
    ]
    gl_file.write_text("\n".join(lines + [",".join(r[h] for h in header) for r in bad_rows]) + "\n")
    result = materialize(sample_company, duckdb_url, selection="*gl_lines")
    assert result.success, run_failures(result)
    quarantine = query(duckdb_url, "SELECT extract, partition_key, source_file, row_number, column_name, bad_value, reason FROM quarantine ORDER BY row_number")
    first_bad = len(lines)  # data rows are numbered from 1 after the header
    assert quarantine.fillna("").values.tolist() == [
        ["gl_lines", "2026-10", "gl_lines/2026-10.csv", first_bad, "cost_center", "XX-UNKNOWN", "unknown cost center 'XX-UNKNOWN'"],
        ["gl_lines", "2026-10", "gl_lines/2026-10.csv", first_bad + 1, "debit", "twelve", "not an amount (at most 16 digits and two decimal places)"],
        ["gl_lines", "2026-10", "gl_lines/2026-10.csv", first_bad + 2, "posting_date", "2026-10-35", "not a date (expected YYYY-MM-DD)"],
        ["gl_lines", "2026-10", "gl_lines/2026-10.csv", first_bad + 3, "", f"{good['entity']} / {good['document_id']} / {good['line']}", "duplicate entity, document_id, line (first at row 1)"],
    ]
    metadata = result.asset_materializations_for_node("gl_lines")[0].metadata
    assert metadata["rows_in"].value == len(lines) - 1 + 4
    assert metadata["rows_quarantined"].value == 4
    assert metadata["rows_kept"].value == len(lines) - 1
    # Re-running the partition replaces its quarantine rows instead of adding to them.
    assert materialize(sample_company, duckdb_url, selection="*gl_lines").success
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM quarantine")["n"].iloc[0] == 4


def test_a_document_left_unbalanced_by_quarantine_is_a_warning(sample_company, duckdb_url):
    gl_file = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    lines = gl_file.read_text().splitlines()
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(",")))
    lines[1] = ",".join({**first, "cost_center": "XX-UNKNOWN"}[h] for h in header)
    gl_file.write_text("\n".join(lines) + "\n")
    result = materialize(sample_company, duckdb_url, selection=POSTING)
    assert result.success, run_failures(result)
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["gl_documents_balance"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unbalanced_documents"].value == 1
    assert first["document_id"] in check.metadata["documents"].value


def test_a_posted_run_whose_recomputation_differs_is_refused(sample_company, posted_duckdb_url):
    duckdb_url = posted_duckdb_url
    before = ledger_state(duckdb_url)
    rules = sample_company / "rules.yaml"
    rules.write_text(rules.read_text().replace("{EE-ENG: 60, EE-PRD: 25, EE-SAL: 15}", "{EE-ENG: 50, EE-PRD: 30, EE-SAL: 20}"))
    result = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert not result.success
    (failure,) = [f for f in run_failures(result) if f.startswith("allocation_runs")]
    assert "ALLOC-0001 (rule it_overhead_split, EE 2026-10) is posted as EE-CAL000001 and its recomputed lines differ; void it first" in failure
    assert ledger_state(duckdb_url) == before


def test_posting_into_a_closed_period_is_refused_and_nothing_is_posted(sample_company, warehouse_url):
    result = materialize(sample_company, warehouse_url, partition="2026-08-01", selection=POSTING)
    assert not result.success
    (failure,) = [f for f in run_failures(result) if f.startswith("journal_entries")]
    assert "posting 2026-08 failed, nothing was posted" in failure
    assert "fiscal period 2026-08 of entity EE is closed; posting refused" in failure
    assert query(warehouse_url, "SELECT COUNT(*) AS n FROM journal_entries")["n"].iloc[0] == 0
    assert set(query(warehouse_url, "SELECT status FROM allocation_runs")["status"]) == {"approved"}


def test_a_failed_blocking_check_stops_posting_and_stores_nothing(sample_company, duckdb_url):
    accounts = sample_company / "extracts" / "accounts.csv"
    rows = accounts.read_text().splitlines()
    accounts.write_text("\n".join(r.replace(",true", ",false") if r.startswith("69000,") else r for r in rows) + "\n")
    result = materialize(sample_company, duckdb_url, selection=POSTING)
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["runs_valid"].passed is False
    assert "Account 69000 is inactive." in checks["runs_valid"].metadata["details"].value
    assert checks["runs_balance"].passed is True
    assert "journal_entries" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM allocation_runs")["n"].iloc[0] == 0
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM journal_entries")["n"].iloc[0] == 0


def test_a_crash_in_the_middle_of_posting_leaves_the_ledger_as_it_was(sample_company, reference_warehouse_url, monkeypatch):
    warehouse_url = reference_warehouse_url
    real_insert = ledger_store.bulk_insert
    calls = {"journal_lines": 0}

    def failing_insert(conn, table, frame):
        if table == "journal_lines":
            calls["journal_lines"] += 1
            if calls["journal_lines"] == 2:
                raise RuntimeError("simulated crash while writing the second entry")
        return real_insert(conn, table, frame)

    monkeypatch.setattr(ledger_store, "bulk_insert", failing_insert)
    result = materialize(sample_company, warehouse_url, selection=POSTING_ON_LOADED_GL)
    assert not result.success
    assert query(warehouse_url, "SELECT COUNT(*) AS n FROM journal_entries")["n"].iloc[0] == 0
    assert query(warehouse_url, "SELECT COUNT(*) AS n FROM journal_lines")["n"].iloc[0] == 0
    assert query(warehouse_url, "SELECT COUNT(*) AS n FROM document_links")["n"].iloc[0] == 0
    assert set(query(warehouse_url, "SELECT status FROM allocation_runs")["status"]) == {"approved"}
    monkeypatch.setattr(ledger_store, "bulk_insert", real_insert)
    retry = materialize(sample_company, warehouse_url, selection=POSTING_ON_LOADED_GL)
    assert retry.success, run_failures(retry)
    assert query(warehouse_url, "SELECT entry_id FROM journal_entries ORDER BY entry_id")["entry_id"].tolist() == [
        "EE-CAL000001", "EE-CAL000002", "EE-CAL000003", "US-CAL000001", "US-CAL000002",
    ]


def test_a_missing_extract_fails_its_asset_with_the_file_named(sample_company, duckdb_url):
    (sample_company / "extracts" / "usage_metrics.csv").unlink()
    result = materialize(sample_company, duckdb_url, selection=["usage_metrics"])
    assert not result.success
    (failure,) = [f for f in run_failures(result) if f.startswith("usage_metrics")]
    assert "usage_metrics: extract 'usage_metrics' not found (expected usage_metrics.csv, usage_metrics.parquet or a folder usage_metrics/)" in failure


def test_a_sqlite_warehouse_also_works(sample_company, tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    first = materialize(sample_company, url)
    assert first.success, run_failures(first)
    again = materialize(sample_company, url, selection=POSTING)
    assert again.success, run_failures(again)
    entries = query(
        url,
        "SELECT e.entry_id, CAST(ROUND(SUM(l.debit) * 100) AS INTEGER) AS d, CAST(ROUND(SUM(l.credit) * 100) AS INTEGER) AS c "
        "FROM journal_entries AS e JOIN journal_lines AS l ON l.entry_id = e.entry_id GROUP BY e.entry_id ORDER BY e.entry_id",
    )
    assert entries["entry_id"].tolist() == ["EE-CAL000001", "EE-CAL000002", "EE-CAL000003", "US-CAL000001", "US-CAL000002"]
    assert (entries["d"] == entries["c"]).all()
    assert entries.loc[0, "d"] == 1_000_000
