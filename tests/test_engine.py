"""The engine: line cleaning as Ibis expressions gives the pandas cleaning's outcomes row for row,
on DuckDB, PostgreSQL and local Spark; balances agree; the data-sanity cases (BOM, currency of the
entity, header-only month, gutted month); a busy DuckDB file gives a prompt message.

Small literal files under tmp_path and the small sample company; PostgreSQL where reachable,
Spark where Java is installed (under CI=true a missing Java fails the Spark test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract, clean_frame
from allocation_pipeline.core.ingestion.extracts import read_extract, read_extract_table
from allocation_pipeline.core.ingestion import line_cleaning
from allocation_pipeline.core.ingestion.line_cleaning import ENTITY_CURRENCY, kept_frame, quarantine_frame
from allocation_pipeline.warehouse.engine import WarehouseError, make_engine
from allocation_pipeline.warehouse.lines import BALANCE_KEYS, balances, open_line_engine
from tests.conftest import SAMPLE_PARTITION, pipeline_resources

GL_HEADER = "entity,document_id,document_type,line,posting_date,account,cost_center,product,region,debit,credit,currency,description"
MESSY_GL = f"""{GL_HEADER}
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,P1,,120.00,0.00,EUR,good
EE,D1,JOURNAL,2,2026-10-01,2000,EE-ENG,,,0.00,120.00,EUR,good
EE,D2,JOURNAL,1,2026-10-02,60002,XX-NOPE,,,10.00,0.00,EUR,unknown cost center
EE,D2,JOURNAL,2,2026-10-02,2000,EE-ENG,,,0.00,ten,EUR,non-numeric amount
EE,D3,JOURNAL,1,2026-10-32,2000,EE-ENG,,,0.00,5.00,EUR,bad date
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,,,120.00,0.00,EUR,duplicate line
EE,D4,JOURNAL,1,2026-10-03,60002,EE-ENG,,,-5.00,0.00,EUR,negative debit
EE,D5,JOURNAL,1,2026-10-03,60002,EE-ENG,,,5.00,5.00,EUR,both sides
EE,D6,JOURNAL,1.5,2026-10-03,60002,EE-IT,,,1.005,0.00,eur,three decimals and more
EE,D7,JOURNAL,1,2026-10-03,99999,EE-IT,,,1.00,0.00,EUR,unknown account
EE,D8,JOURNAL,x,2026-10-04,,EE-IT,R1,,  7.25 ,0,EUR,blank account
EE,D9,JOURNAL,3,2026-11-04,60002,EE-IT,,,1.00,0.00,EUR,another month
ZZ,D10,JOURNAL,1,2026-10-05,60002,EE-IT,,,+3.50,0.00,EUR,unknown entity
EE,D11,JOURNAL,1,2026-10-05,60002,EE-IT,P2,N1,3.50,0.00,EUR,good too
"""
REFERENCES = {"entity": {"EE"}, "account": {"60002", "2000"}, "cost center": {"EE-ENG", "EE-IT"}}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def _pandas_result(directory: Path, extract: str, period: str = "2026-10"):
    spec = EXTRACT_SPECS[extract]
    required, optional = spec.file_columns()
    return clean_frame(read_extract(directory, extract, required, optional, period=period), spec, REFERENCES, period=period)


def _engine_result(url: str, directory: Path, extract: str, period: str = "2026-10", references=REFERENCES):
    spec = EXTRACT_SPECS[extract]
    required, optional = spec.file_columns()
    lines = open_line_engine(url)
    try:
        raw = read_extract_table(lines.backend, directory, extract, required, optional, period=period)
        cleaned = lines.clean(raw.table, spec, references, period)  # as the pipeline cleans: from the process's compiled plan
        kept = kept_frame(lines.execute(cleaned.kept), spec).sort_values(["source_file", "row_number"], ignore_index=True)
        quarantine = quarantine_frame(lines.execute(cleaned.quarantine), raw.unreadable, extract)
        sums = None
        if extract == "gl_lines":
            lines.replace_period("gl_lines", period, cleaned.stored)
            sums = lines.execute(balances(lines.lines("gl_lines", period)))
            sums = sums.sort_values(BALANCE_KEYS, na_position="first", ignore_index=True)[[*BALANCE_KEYS, "debit_cents", "credit_cents", "lines"]]
        for table in cleaned.scratch:
            lines.release(table)
        return kept, quarantine, sums
    finally:
        lines.close()


def _same(kept: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(kept[expected.columns].reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


@pytest.fixture
def messy(tmp_path) -> Path:
    write(tmp_path / "gl_lines" / "2026-10.csv", MESSY_GL)
    write(
        tmp_path / "timesheets.csv",
        "employee,work_date,cost_center,activity,project,hours\n"
        "E1,2026-10-01,EE-ENG,development,P1,7.5\nE1,2026-10-02,EE-ENG,development,,-2\nE2,2026-10-02,EE-ENG,support,,25\n"
        "E3,2026-10-02,EE-ENG,support,,lots\nE1,2026-10-01,EE-ENG,development,P2,1\nE4,2026-09-30,EE-ENG,support,,3\n",
    )
    return tmp_path


@pytest.mark.parametrize("extract", ["gl_lines", "timesheets"])
def test_engine_cleaning_gives_the_pandas_outcomes_row_for_row(messy, extract):
    expected = _pandas_result(messy, extract)
    result = clean_extract(read_extract(messy, extract, *EXTRACT_SPECS[extract].file_columns(), period="2026-10"), EXTRACT_SPECS[extract], REFERENCES, period="2026-10")
    _same(result.kept, expected.kept)
    columns = ["source_file", "row_number", "column", "value", "reason"]
    assert sorted(map(tuple, result.quarantine[columns].astype(object).where(result.quarantine[columns].notna(), None).values.tolist())) == sorted(
        map(tuple, expected.quarantine[columns].astype(object).where(expected.quarantine[columns].notna(), None).values.tolist())
    )
    assert (result.rows_in, result.rows_kept, result.rows_quarantined) == (expected.rows_in, expected.rows_kept, expected.rows_quarantined)
    assert result.rows_in == result.rows_kept + result.rows_quarantined


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "spark"])
def engine_url(request, tmp_path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'engine.duckdb'}"
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    if shutil.which("java") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Java is not installed: the Spark engine test needs it (scripts/test installs openjdk-17-jre-headless)")
        pytest.skip("Java is not installed: the Spark engine test is skipped locally")
    pytest.importorskip("pyspark")
    # Settings for a month of a dozen rows on a small machine; the comparison is the same. One shuffle
    # partition, no adaptive re-planning, no whole-stage code generation (compiling it costs more than
    # running these plans) and the JVM's quick compiler only: the test went from about 80 s to 55 s.
    options = "&".join(
        [
            f"spark.sql.warehouse.dir={tmp_path / 'spark-warehouse'}",
            "spark.sql.shuffle.partitions=1",
            "spark.sql.adaptive.enabled=false",
            "spark.sql.codegen.wholeStage=false",
            "spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1",
        ]
    )
    return f"spark:local[1]?{options}"


def test_each_engine_keeps_quarantines_and_sums_the_same_rows(messy, engine_url, tmp_path):
    reference, reference_quarantine, reference_sums = _engine_result(f"duckdb:///{tmp_path / 'reference.duckdb'}", messy, "gl_lines")
    kept, quarantine, sums = _engine_result(engine_url, messy, "gl_lines")
    _same(kept, reference)
    pd.testing.assert_frame_equal(quarantine.reset_index(drop=True), reference_quarantine.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(sums.reset_index(drop=True), reference_sums.reset_index(drop=True), check_dtype=False)
    expected = _pandas_result(messy, "gl_lines")
    _same(kept, expected.kept)
    assert sums["lines"].sum() == len(expected.kept) and sums["debit_cents"].sum() == expected.kept["debit_cents"].sum()


def test_a_compiled_cleaning_plan_is_reused_only_for_the_same_references_and_period(messy, tmp_path, monkeypatch):
    compiled = []
    compile_expressions = line_cleaning.clean_lines
    monkeypatch.setattr(line_cleaning, "clean_lines", lambda *args, **kwargs: compiled.append(args[3]) or compile_expressions(*args, **kwargs))
    monkeypatch.setattr(line_cleaning, "_PLANS", type(line_cleaning._PLANS)())
    first = _engine_result(f"duckdb:///{tmp_path / 'a.duckdb'}", messy, "gl_lines")
    again = _engine_result(f"duckdb:///{tmp_path / 'b.duckdb'}", messy, "gl_lines")
    assert compiled == ["2026-10"]  # the second month in the process is bound to the first one's plan
    for before, after in zip(first, again):
        pd.testing.assert_frame_equal(before, after)
    assert "XX-NOPE" in set(first[1]["value"]) and "XX-NOPE" not in set(first[0]["cost_center"])

    # A cost center the master data gained since: a new plan, and the row is kept.
    known = {**REFERENCES, "cost center": REFERENCES["cost center"] | {"XX-NOPE"}}
    kept, quarantine, _ = _engine_result(f"duckdb:///{tmp_path / 'c.duckdb'}", messy, "gl_lines", references=known)
    assert compiled == ["2026-10", "2026-10"]
    assert "XX-NOPE" in set(kept["cost_center"]) and "XX-NOPE" not in set(quarantine["value"].dropna())

    # Another month: a new plan, in which the October lines are the wrong month's.
    write(messy / "gl_lines" / "2026-11.csv", MESSY_GL)
    kept, quarantine, _ = _engine_result(f"duckdb:///{tmp_path / 'd.duckdb'}", messy, "gl_lines", period="2026-11")
    assert compiled == ["2026-10", "2026-10", "2026-11"]
    assert list(kept["document_id"]) == ["D9"]
    # Every row with a date of another month: all but row 5 (no such date) and row 12 (November).
    outside = quarantine.loc[quarantine["reason"] == "outside period 2026-11, which is the only period this file holds", "row_number"]
    assert sorted(outside) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 13, 14]


def test_whitespace_at_either_end_is_trimmed_as_pandas_trims_it(tmp_path):
    # Each ASCII whitespace character (Python's string.whitespace) at the start or the end, a
    # control character that is not whitespace (kept), an empty value and non-ASCII text: the
    # engine's guarded trim gives what pandas' strip gives. Parquet, so that the values reach the
    # cleaning exactly as written.
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        ["\tEE", " D1\r", "JOURNAL", "1", "2026-10-01", "60002\x0c", "EE-ENG\x0b", "Ü1 ", "", "\n10.00", "0.00 ", "EUR\n", "\x01note "],
        ["EE ", "D1", "JOURNAL", " 2", "\x0c2026-10-01", "2000", "\rEE-ENG", "", "\x01", "0.00", "\t10.00\t", " EUR", "ä"],
    ]
    path = tmp_path / "gl_lines" / "2026-10.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({name: [row[i] for row in rows] for i, name in enumerate(GL_HEADER.split(","))}), path)
    expected = _pandas_result(tmp_path, "gl_lines")
    spec = EXTRACT_SPECS["gl_lines"]
    result = clean_extract(read_extract(tmp_path, "gl_lines", *spec.file_columns(), period="2026-10"), spec, REFERENCES, period="2026-10")
    assert result.rows_kept == expected.rows_kept == 2, result.quarantine
    _same(result.kept, expected.kept)
    assert list(result.kept["entity"]) == ["EE", "EE"] and list(result.kept["cost_center"]) == ["EE-ENG", "EE-ENG"]
    assert list(result.kept["description"]) == ["\x01note", "ä"] and result.kept["product"].iloc[0] == "Ü1"


def test_dates_cast_by_the_engine_are_the_dates_pandas_accepts(tmp_path):
    """DuckDB casts a date the pattern has shaped (TRY_CAST) instead of parsing it field by field:
    the same dates are kept and the same ones quarantined as by pandas, leap days, single-digit
    months and days, year 0 (which DuckDB would read as 1 BC, and pandas as a year) and impossible
    days included."""
    dates = ["2024-02-29", "2026-02-29", "2000-02-29", "1900-02-29", "2026-2-5", "0000-01-01", "0001-01-01", "2026-13-01", "2026-10-00",
             "2026-10-32", "9999-12-31", "26-10-01", "2026-10-01T00:00", "2026/10/01"]
    body = "".join(f"EE,D{n},JOURNAL,1,{d},60002,EE-ENG,,,1.00,0.00,EUR,\n" for n, d in enumerate(dates))
    write(tmp_path / "gl_lines.csv", f"{GL_HEADER}\n{body}")
    spec = EXTRACT_SPECS["gl_lines"]
    raw = read_extract(tmp_path, "gl_lines", *spec.file_columns())
    expected = clean_frame(raw, spec, REFERENCES)
    result = clean_extract(raw, spec, REFERENCES)
    assert list(result.kept["document_id"]) == list(expected.kept["document_id"]) == ["D0", "D2", "D4", "D6", "D10"]
    _same(result.kept, expected.kept)
    bad = result.quarantine[result.quarantine["column"] == "posting_date"]
    assert list(bad["row_number"]) == list(expected.quarantine.loc[expected.quarantine["column"] == "posting_date", "row_number"]) == [2, 4, 6, 8, 9, 10, 12, 13, 14]
    assert set(bad["reason"]) == {"not a date (expected YYYY-MM-DD)"}


@pytest.mark.postgres
def test_on_postgresql_the_parsing_layers_are_fenced_not_stored(messy, postgres_url):
    # The outcomes are compared with DuckDB's above; this is how PostgreSQL gets them: each parsing
    # layer ends in a LIMIT no month reaches (which PostgreSQL does not flatten), and only the
    # checked rows and the bad rows are stored.
    spec = EXTRACT_SPECS["gl_lines"]
    lines = open_line_engine(postgres_url)
    try:
        raw = read_extract_table(lines.backend, messy, "gl_lines", *spec.file_columns(), period="2026-10")
        plan = line_cleaning.plan_cleaning(
            lines.backend, raw.table.schema(), spec, REFERENCES, "2026-10", duplicates=lines.duplicates, store_parsed=lines.store_parsed,
            guard_strip=lines.guard_strip, fence_parsed=lines.fence_parsed,
        )
    finally:
        lines.close()
    assert len(plan.steps) == 2
    assert plan.steps[0][2].count(f"LIMIT {line_cleaning._FENCE_ROWS}") == 3


def test_a_byte_order_mark_is_accepted(tmp_path):
    write(tmp_path / "gl_lines" / "2026-10.csv", MESSY_GL, encoding="utf-8-sig")
    assert (tmp_path / "gl_lines" / "2026-10.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    spec = EXTRACT_SPECS["gl_lines"]
    result = clean_extract(read_extract(tmp_path, "gl_lines", *spec.file_columns(), period="2026-10"), spec, REFERENCES, period="2026-10")
    assert result.rows_kept == 3


def test_a_line_in_another_currency_than_its_entity_is_quarantined(messy, tmp_path):
    _, quarantine, _ = _engine_result(f"duckdb:///{tmp_path / 'e.duckdb'}", messy, "gl_lines", references={**REFERENCES, ENTITY_CURRENCY: {"EE": "USD"}})
    currency = quarantine[quarantine["column"] == "currency"]
    assert set(currency["row_number"]) >= {1, 2, 14}
    assert currency.set_index("row_number").loc[1, "reason"] == (
        "currency EUR is not the currency of entity EE (USD); lines in other currencies are not translated"
    )


def _materialize_up_to_the_runs(company: Path, url: str):
    """The month as far as allocation_runs: whether a bad GL stops the allocation is decided there."""
    from allocation_pipeline.defs.definitions import build_definitions

    return dg.materialize(
        list(build_definitions().assets), partition_key=SAMPLE_PARTITION, resources=pipeline_resources(company, url),
        selection=dg.AssetSelection.assets("allocation_runs").upstream(), raise_on_error=False,
    )


def _failure_messages(result) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]


def test_a_header_only_month_fails_naming_the_file(sample_company, duckdb_url):
    gl_file = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    gl_file.write_text(gl_file.read_text().splitlines()[0] + "\n")
    result = _materialize_up_to_the_runs(sample_company, duckdb_url)
    assert not result.success
    assert any("gl_lines/2026-10.csv: no gl_lines rows for 2026-10" in m for m in _failure_messages(result))
    assert not result.asset_materializations_for_node("allocation_runs")


def test_a_gutted_month_fails_the_quarantine_share_check_and_nothing_is_allocated(sample_company, duckdb_url):
    gl_file = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    lines = gl_file.read_text().splitlines()
    gl_file.write_text("\n".join([lines[0]] + [line.replace(",EUR,", ",EURO,").replace(",USD,", ",USDX,") for line in lines[1:]]) + "\n")
    result = _materialize_up_to_the_runs(sample_company, duckdb_url)
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["gl_quarantine_share_within_limit"]
    assert check.passed is False
    assert check.metadata["quarantined_percent"].value == 100.0
    assert "100.0% of the month's GL lines quarantined" in check.description and "does not have the expected format" in check.description
    assert not result.asset_materializations_for_node("allocation_runs")
    engine = make_engine(duckdb_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM allocation_runs").scalar() == 0
    finally:
        engine.dispose()


def test_a_busy_duckdb_file_is_named_within_the_configured_wait(tmp_path, monkeypatch):
    path = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("ALLOCATION_DUCKDB_LOCK_TIMEOUT", "0.5")
        started = time.monotonic()
        engine = make_engine(f"duckdb:///{path}")
        with pytest.raises(WarehouseError) as error:
            engine.connect()
        assert time.monotonic() - started < 5
        message = str(error.value)
        assert str(path) in message and f"process {holder.pid}" in message and "ALLOCATION_DUCKDB_LOCK_TIMEOUT" in message
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.parametrize("ledger", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_with_the_engine_apart_from_the_ledger_documents_and_the_report_read_the_engines_lines(ledger, sample_company, tmp_path, monkeypatch, request):
    """The ledger keeps an (empty) gl_lines table of its own: reading it would find no document."""
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.resources import EngineResource
    from allocation_pipeline.commands.ledger import resolve_document_id
    from allocation_pipeline.warehouse import console_store
    from allocation_pipeline.warehouse.ledger_store import document_context, document_header
    from allocation_pipeline.warehouse.report_store import read_report_data

    ledger_url = f"duckdb:///{tmp_path / 'ledger.duckdb'}" if ledger == "duckdb" else request.getfixturevalue("postgres_url")
    engine_url = f"duckdb:///{tmp_path / 'engine.duckdb'}"
    wanted = {"entities", "accounts", "cost_centers", "gl_lines", "ap_invoices"}
    assets = [a for a in build_definitions().assets if {k.to_user_string() for k in a.keys} & wanted]
    resources = {**pipeline_resources(sample_company, ledger_url), "engine": EngineResource(url=engine_url)}
    assert dg.materialize(assets, partition_key=SAMPLE_PARTITION, resources=resources).success
    monkeypatch.setenv("ALLOCATION_ENGINE_URL", engine_url)

    lines = open_line_engine(engine_url)
    try:
        month = lines.execute(lines.lines("gl_lines", "2026-10"))
        invoices = lines.execute(lines.lines("ap_invoices", "2026-10"))
    finally:
        lines.close()
    month["cents"] = ((month["debit"] - month["credit"]) * 100).round().astype("int64")
    ledger_engine = make_engine(ledger_url)
    try:
        with ledger_engine.connect() as conn:
            accounts = pd.read_sql("SELECT account, type FROM dim_accounts", conn)
            document = str(month["document_id"].iloc[0])
            header = document_header(conn, document)
            context = document_context(conn, document)
            entity = str(month["entity"].iloc[0])
            report = read_report_data(conn, "2026-10", entity, top_documents=3)
            # The console's document page and `allocation chain`'s lookup of a GL document id.
            detail = console_store.document_lines(conn, document)
            invoice = str(invoices["document_id"].iloc[0])
            invoice_lines = console_store.ap_invoice_lines(conn, invoice)
            resolved = resolve_document_id(conn, document.lower())
    finally:
        ledger_engine.dispose()

    own = month[month["document_id"] == document]
    expected = own.groupby(["entity", "account"], as_index=False).agg(debit=("debit", "sum"), credit=("credit", "sum"))
    assert sorted(zip(header["entity"], header["account"], header["debit_cents"], header["credit_cents"])) == sorted(
        (e, a, round(d * 100), round(c * 100)) for e, a, d, c in expected.itertuples(index=False)
    )
    assert set(header["period"]) == {"2026-10"}
    assert context is not None and set(context.amounts) == set(own["account"])
    assert resolved == document
    assert sorted(detail["line"]) == sorted(own["line"]) and detail["account_name"].notna().all()
    assert int(detail["debit_cents"].sum()) == round(own["debit"].sum() * 100)
    assert sorted(invoice_lines["line"]) == sorted(invoices.loc[invoices["document_id"] == invoice, "line"])

    expense = month[(month["entity"] == entity) & month["account"].isin(accounts.loc[accounts["type"] == "expense", "account"])]
    documents = expense.groupby(["cost_center", "account", "document_id"], as_index=False)["cents"].sum()
    documents["size"] = documents["cents"].abs()
    documents = documents.sort_values(["cost_center", "account", "size", "document_id"], ascending=[True, True, False, True])
    top = documents.groupby(["cost_center", "account"]).head(3)
    shown = report.source_transactions
    assert not shown.empty and shown["account_name"].notna().all()
    assert list(zip(shown["cost_center"], shown["account"], shown["document_id"], shown["amount_cents"])) == list(
        zip(top["cost_center"], top["account"], top["document_id"], top["cents"])
    )
    totals = documents.groupby(["cost_center", "account"])["cents"].agg(["sum", "count"])
    for row in shown.itertuples():
        assert (row.account_total_cents, row.account_documents) == tuple(totals.loc[(row.cost_center, row.account)])


@pytest.mark.postgres
def test_on_postgresql_a_month_of_files_is_cleaned_in_a_staging_duckdb_and_loaded_by_copy(sample_company, postgres_url, tmp_path):
    """The line assets on a PostgreSQL engine reading files: each month cleaned in the process's
    staging DuckDB, its kept lines loaded into the engine; rows, quarantine and balances are those
    of the same month cleaned on a DuckDB engine, and the metadata says where it was cleaned."""
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.ingestion.assets import STAGED

    gl_file = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    october = pd.read_csv(gl_file, dtype=str, keep_default_na=False)
    october.loc[3, "cost_center"], october.loc[5, "debit"], october.loc[8, "posting_date"] = "XX-NOPE", "12,50", "2026-10-32"
    pd.concat([october, october.iloc[[10]]], ignore_index=True).to_csv(gl_file, index=False)  # and a repeated line
    wanted = {"entities", "accounts", "cost_centers", "gl_lines", "ap_invoices", "timesheets"}
    assets = [a for a in build_definitions().assets if {k.to_user_string() for k in a.keys} & wanted]
    duckdb_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    months = {}
    for url in (duckdb_url, postgres_url):
        result = dg.materialize(assets, partition_key=SAMPLE_PARTITION, resources=pipeline_resources(sample_company, url))
        assert result.success
        staged = {n: m.metadata.get("cleaned_in") for n in ("gl_lines", "ap_invoices", "timesheets") for m in result.asset_materializations_for_node(n)}
        lines = open_line_engine(url)
        try:
            months[url] = {
                table: lines.execute(lines.lines(table, "2026-10")).sort_values(["source_file", "row_number"], ignore_index=True)
                for table in ("gl_lines", "ap_invoices", "timesheets")
            }
        finally:
            lines.close()
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                months[url]["quarantine"] = pd.read_sql("SELECT * FROM quarantine ORDER BY extract, source_file, row_number, column_name", conn)
                months[url]["gl_balances"] = pd.read_sql("SELECT * FROM gl_balances ORDER BY entity, account, cost_center, product, region, currency", conn)
        finally:
            engine.dispose()
        if url == postgres_url:
            assert {n: getattr(v, "value", None) for n, v in staged.items()} == {n: STAGED for n in staged}
        else:
            assert set(staged.values()) == {None}
    duck, postgres = months[duckdb_url], months[postgres_url]
    assert len(postgres["gl_lines"]) > 1000 and len(postgres["quarantine"]) == 4
    for name in ("gl_lines", "ap_invoices", "timesheets", "gl_balances"):
        pd.testing.assert_frame_equal(postgres[name], duck[name], check_dtype=False)
    columns = ["extract", "partition_key", "source_file", "row_number", "column_name", "bad_value", "reason"]
    pd.testing.assert_frame_equal(postgres["quarantine"][columns], duck["quarantine"][columns], check_dtype=False)


@pytest.mark.postgres
def test_a_month_loaded_from_the_staging_engine_replaces_the_period_or_nothing(messy, postgres_url, monkeypatch):
    """load_period replaces the period's rows in one transaction: a load that fails half-way leaves
    the month the engine had, and other periods are never touched."""
    from allocation_pipeline.warehouse import lines as lines_module

    spec = EXTRACT_SPECS["gl_lines"]
    target = open_line_engine(postgres_url)
    try:
        with lines_module.staging_engine() as staging:
            raw = read_extract_table(staging.backend, messy, "gl_lines", *spec.file_columns(), period="2026-10")
            cleaned = staging.clean(raw.table, spec, REFERENCES, "2026-10")
            staging.replace_period("gl_lines", "2026-10", cleaned.stored)
            first = staging.execute(staging.lines("gl_lines", "2026-10")).sort_values("row_number", ignore_index=True)
            staging.backend.con.execute("INSERT INTO gl_lines SELECT * REPLACE ('2026-09' AS period) FROM gl_lines WHERE row_number = 1")
            for table in cleaned.scratch:
                staging.release(table)
            assert target.load_period("gl_lines", "2026-10", staging) == len(first) == 3
            assert target.load_period("gl_lines", "2026-09", staging) == 1
            stored = target.execute(target.lines("gl_lines", "2026-10")).sort_values("row_number", ignore_index=True)
            pd.testing.assert_frame_equal(stored, first[stored.columns], check_dtype=False)

            staging.backend.con.execute("DELETE FROM gl_lines WHERE period = '2026-10' AND row_number > 1")
            real = lines_module.LineEngine.record_batches

            def broken(self, expr, rows):
                yield from real(self, expr, rows)
                raise OSError("the staging file went away")

            monkeypatch.setattr(lines_module.LineEngine, "record_batches", broken)
            with pytest.raises(OSError):
                target.load_period("gl_lines", "2026-10", staging)
        again = target.execute(target.lines("gl_lines", "2026-10")).sort_values("row_number", ignore_index=True)
        pd.testing.assert_frame_equal(again, stored)
        assert len(target.execute(target.lines("gl_lines", "2026-09"))) == 1
    finally:
        target.close()


def test_a_month_stored_as_it_is_cleaned_has_the_outcomes_of_the_two_step_cleaning(messy, tmp_path, monkeypatch):
    """DuckDB stores the kept rows while it parses the month and parses only the rest again: the
    stored rows, quarantine and counts are pandas' (a row repeating a key whose first occurrence
    failed a check is still a repeat; a stored row that repeats a key is taken out again), and a
    cleaning that fails half-way leaves the month the table had."""
    from allocation_pipeline.warehouse import lines as lines_module

    gl = messy / "gl_lines" / "2026-10.csv"
    gl.write_text(
        gl.read_text()
        + "EE,D4,JOURNAL,1,2026-10-06,60002,EE-ENG,,,4.00,0.00,EUR,repeats a line whose first occurrence failed a check\n"
        + "EE,D11,JOURNAL,1,2026-10-06,60002,EE-IT,,,1.00,0.00,EUR,repeats a good line\n"
    )
    expected = _pandas_result(messy, "gl_lines")
    assert {"duplicate entity, document_id, line (first at row 7)", "duplicate entity, document_id, line (first at row 14)"} <= set(expected.quarantine["reason"])
    spec = EXTRACT_SPECS["gl_lines"]
    lines = open_line_engine(f"duckdb:///{tmp_path / 'engine.duckdb'}")
    try:
        assert lines.stores_while_cleaning
        raw = read_extract_table(lines.backend, messy, "gl_lines", *spec.file_columns(), period="2026-10")
        cleaned = lines.clean(raw.table, spec, REFERENCES, "2026-10", into="gl_lines")
        assert cleaned.kept is None and cleaned.stored is None
        quarantine = quarantine_frame(lines.execute(cleaned.quarantine), raw.unreadable, "gl_lines")
        counts = lines.execute(cleaned.checked.aggregate(rows=cleaned.checked.count(), bad=cleaned.checked["_bad"].sum()))
        for table in cleaned.scratch:
            lines.release(table)
        stored = lines.execute(lines.lines("gl_lines", "2026-10")).sort_values("row_number", ignore_index=True)
        assert stored["row_number"].tolist() == expected.kept["row_number"].tolist()
        assert ((stored["debit"] * 100).astype("int64") - expected.kept["debit_cents"]).eq(0).all()
        columns = ["source_file", "row_number", "column", "value", "reason"]
        pd.testing.assert_frame_equal(quarantine[columns].reset_index(drop=True), expected.quarantine[columns].reset_index(drop=True), check_dtype=False)
        assert int(counts["rows"].iloc[0]) + cleaned.rows_stored == expected.rows_in
        assert int(counts["bad"].iloc[0]) == expected.rows_quarantined

        # A month whose every row is kept: the rows left out are known to be none without a join.
        clean_dir = tmp_path / "clean"
        write(clean_dir / "gl_lines" / "2026-10.csv", "\n".join(MESSY_GL.splitlines()[:3]) + "\n")
        seen = []
        real = lines_module.LineEngine.materialize_sql
        monkeypatch.setattr(lines_module.LineEngine, "materialize_sql", lambda self, sql, schema: seen.append(sql) or real(self, sql, schema))
        clean_raw = read_extract_table(lines.backend, clean_dir, "gl_lines", *spec.file_columns(), period="2026-10")
        clean = lines.clean(clean_raw.table, spec, REFERENCES, "2026-10", into="gl_lines")
        assert clean.rows_stored == 2 and len(lines.execute(clean.quarantine)) == 0
        assert sum("AS leftovers WHERE FALSE" in sql for sql in seen) == 1
        for table in clean.scratch:
            lines.release(table)
        monkeypatch.undo()
        for table in lines.clean(raw.table, spec, REFERENCES, "2026-10", into="gl_lines").scratch:  # the messy month back
            lines.release(table)

        made = []

        def failing(self, sql, schema):
            made.append(sql)
            if len(made) == 2:
                raise OSError("disk full")
            return real(self, sql, schema)

        monkeypatch.setattr(lines_module.LineEngine, "materialize_sql", failing)
        with pytest.raises(OSError):
            lines.clean(raw.table, spec, REFERENCES, "2026-10", into="gl_lines")
        again = lines.execute(lines.lines("gl_lines", "2026-10")).sort_values("row_number", ignore_index=True)
        pd.testing.assert_frame_equal(again, stored)
    finally:
        lines.close()
