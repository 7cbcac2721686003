"""SQL sources of the line extracts through the gl_lines asset (`dg.materialize` on the small sample
company): a GL month read from a table of the engine's own database (DuckDB file or PostgreSQL: no
copy) or of a separate database (PostgreSQL into a DuckDB engine, DuckDB into a PostgreSQL one:
streamed in) gives the same kept lines, quarantine and balances as the same month read from its
CSV file; a missing table or column and an unreachable database
fail the asset with one short message naming the source, and load nothing.

Not covered here: the raw table's shape and copy_into itself (test_sources_sql), the small
extracts' sources (test_sources_pipeline)."""

from __future__ import annotations

import re
import socket

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.reporting import run_failures
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, pipeline_resources
from tests.conftest import query_frame as _query

ASSETS = list(build_definitions().assets)
GL_AND_UPSTREAM = dg.AssetSelection.assets("gl_lines").upstream()
LINE_COLUMNS = ["entity", "document_id", "line", "posting_date", "account", "cost_center", "product", "region", "debit", "credit", "currency", "description"]
QUARANTINE = "SELECT source_file, row_number, column_name, bad_value, reason FROM quarantine WHERE extract = 'gl_lines' AND partition_key = :p"


def _plant_bad_rows(company) -> pd.DataFrame:
    """October's GL with a few bad rows (unknown cost center, amount that is no number, unknown
    account, a repeated line); September's rows stay as generated. Returns both months' rows."""
    folder = company / "extracts" / "gl_lines"
    october = pd.read_csv(folder / f"{SAMPLE_PERIOD}.csv", dtype=str, keep_default_na=False)
    october.loc[3, "cost_center"] = "XX-NOPE"
    october.loc[5, "debit"] = "12,50"
    october.loc[8, "account"] = "99999"
    october = pd.concat([october, october.iloc[[10]]], ignore_index=True)
    october.to_csv(folder / f"{SAMPLE_PERIOD}.csv", index=False)
    september = pd.read_csv(folder / "2026-09.csv", dtype=str, keep_default_na=False)
    return pd.concat([september, october], ignore_index=True)


def _load_table(url: str, table: str, rows: pd.DataFrame) -> None:
    """The rows as a table of text columns (the ERP's replica, say) in the database at `url`."""
    engine = sa.create_engine(url)
    schema, _, name = table.rpartition(".")
    columns = ", ".join(f'"{c}" VARCHAR' for c in rows.columns)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.execute(sa.text(f"CREATE TABLE {table} ({columns})"))
        if engine.dialect.name == "duckdb":
            # DuckDB reads the frame itself; row by row, the same thousands of rows take seconds.
            duckdb_conn = conn.connection.driver_connection
            duckdb_conn.register("rows_to_load", rows.astype(object))
            duckdb_conn.execute(f"INSERT INTO {table} SELECT * FROM rows_to_load")
            duckdb_conn.unregister("rows_to_load")
        else:
            marks = ", ".join(f":c{i}" for i in range(len(rows.columns)))
            conn.execute(sa.text(f"INSERT INTO {table} VALUES ({marks})"), [{f"c{i}": v for i, v in enumerate(r)} for r in rows.itertuples(index=False)])
    engine.dispose()


def _materialize(company, url: str, sources: dict | None = None):
    resources = pipeline_resources(company, url)
    if sources is not None:
        path = company / "sources.yaml"
        path.write_text(yaml.safe_dump(sources))
        resources["sources"] = SourcesResource(path=str(path))
    return dg.materialize(ASSETS, partition_key=SAMPLE_PARTITION, resources=resources, selection=GL_AND_UPSTREAM, raise_on_error=False)


def _month(url: str) -> dict[str, pd.DataFrame]:
    """What the month left: its stored lines (engine), quarantine and balances (ledger)."""
    lines = _query(url, f"SELECT source_file, row_number, {', '.join(LINE_COLUMNS)} FROM gl_lines WHERE period = :p", p=SAMPLE_PERIOD)
    balances = _query(url, "SELECT * FROM gl_balances WHERE period = :p", p=SAMPLE_PERIOD)
    balances = balances.sort_values(list(balances.columns), ignore_index=True)
    return {"lines": lines, "quarantine": _query(url, QUARANTINE, p=SAMPLE_PERIOD), "balances": balances}


def _leftover_copies(url: str) -> list[str]:
    found = _query(url, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'gl_lines_raw%'")
    return found["table_name"].tolist()


@pytest.fixture(scope="module")
def from_csv(sample_company_template, tmp_path_factory):
    """The planted month read from its CSV file: what every SQL source must give."""
    import shutil

    company = tmp_path_factory.mktemp("csv_month") / "company"
    shutil.copytree(sample_company_template, company)
    rows = _plant_bad_rows(company)
    url = f"duckdb:///{company.parent / 'warehouse.duckdb'}"
    result = _materialize(company, url)
    assert result.success, run_failures(result)
    month = _month(url)
    assert len(month["quarantine"]) >= 4  # the planted rows are there to compare
    return {"month": month, "rows": rows}


def _as_sql_keys(month: dict[str, pd.DataFrame], rows: pd.DataFrame, label: str) -> dict[str, pd.DataFrame]:
    """The CSV month with each row's place as a SQL source names it (its key values): the file's
    data row n is the October row n of `rows`."""
    october = rows[rows["posting_date"].str.startswith(SAMPLE_PERIOD)].reset_index(drop=True)
    places = {
        n + 1: f"{label}[entity={r.entity}, document_id={r.document_id}, line={r.line}]" for n, r in enumerate(october.itertuples(index=False))
    }

    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(source_file=frame["row_number"].map(places)).drop(columns="row_number")

    return {"lines": renamed(month["lines"]), "quarantine": renamed(month["quarantine"]), "balances": month["balances"]}


def _same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    columns = list(expected.columns)
    actual = actual[columns].astype(str).sort_values(columns, ignore_index=True)
    expected = expected[columns].astype(str).sort_values(columns, ignore_index=True)
    pd.testing.assert_frame_equal(actual, expected)


@pytest.fixture(
    params=["engine_duckdb_file", pytest.param("separate_postgres", marks=pytest.mark.postgres), pytest.param("engine_postgres", marks=pytest.mark.postgres),
            pytest.param("separate_duckdb_into_postgres", marks=pytest.mark.postgres)]
)
def where(request, tmp_path):
    """(warehouse and engine URL, source URL, table, whether the rows are copied)."""
    warehouse = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    if request.param == "engine_duckdb_file":
        return warehouse, warehouse, "erp.gl_month", False
    if request.param == "engine_postgres":
        postgres = request.getfixturevalue("postgres_url")
        return postgres, postgres, "gl_month", False
    if request.param == "separate_duckdb_into_postgres":
        return request.getfixturevalue("postgres_url"), f"duckdb:///{tmp_path / 'replica.duckdb'}", "erp.gl_month", True
    return warehouse, request.getfixturevalue("postgres_url"), "gl_month", True


def test_a_gl_month_from_sql_equals_the_same_month_from_csv(from_csv, where, sample_company):
    url, source_url, table, copied = where
    _plant_bad_rows(sample_company)
    _load_table(source_url, table, from_csv["rows"])
    (sample_company / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv").unlink()  # the database is the only source now
    sources = {"sources": {"gl_lines": {"kind": "sql", "url": source_url, "table": table, "period_column": "posting_date"}}}
    result = _materialize(sample_company, url, sources)
    assert result.success, run_failures(result)
    month = _month(url)
    expected = _as_sql_keys(from_csv["month"], from_csv["rows"], table)
    _same_rows(month["lines"].drop(columns="row_number"), expected["lines"])
    _same_rows(month["quarantine"].drop(columns="row_number"), expected["quarantine"])
    pd.testing.assert_frame_equal(month["balances"], expected["balances"])
    # Row numbers are positions in key order among the month's rows (September stayed in the database).
    assert month["lines"]["row_number"].between(1, len(expected["lines"]) + 4).all()
    (materialization,) = result.asset_materializations_for_node("gl_lines")
    metadata = materialization.metadata
    shown = sa.engine.make_url(source_url).render_as_string(hide_password=True)
    assert metadata["files"].value == f"{shown} {table}"
    if copied:
        assert metadata["rows_copied_from_sources"].value == len(from_csv["rows"][from_csv["rows"]["posting_date"].str.startswith(SAMPLE_PERIOD)])
        assert "read_in_place" not in metadata
    else:
        assert metadata["read_in_place"].value == f"{shown} {table}" and "rows_copied_from_sources" not in metadata
    assert _leftover_copies(url) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("table", "gl_lines (sql {url} erp.gl_nope): table or view erp.gl_nope not found"),
        ("column", "gl_lines (sql {url} erp.gl_month): missing column(s) account (as gl_account) (found: entity, document_id"),
        ("unreachable", "gl_lines (sql postgresql+psycopg://reader:***@127.0.0.1:{port}/erp erp.gl_month): database cannot be reached ("),
    ],
    ids=["missing_table", "missing_column", "unreachable"],
)
def test_a_broken_sql_source_fails_the_month_with_a_short_message_and_loads_nothing(from_csv, sample_company, tmp_path, breakage, message):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    _load_table(url, "erp.gl_month", from_csv["rows"])
    source = {"kind": "sql", "url": url, "table": "erp.gl_month", "period_column": "posting_date"}
    port = _closed_port()
    if breakage == "table":
        source["table"] = "erp.gl_nope"
    elif breakage == "column":
        source["columns"] = {"account": "gl_account"}
    else:
        source["url"] = f"postgresql+psycopg://reader:secret@127.0.0.1:{port}/erp"
    # A good file source listed first: nothing of it may be loaded either.
    result = _materialize(sample_company, url, {"sources": {"gl_lines": [{"kind": "files"}, source]}})
    assert not result.success
    failures = [f for f in run_failures(result) if "gl_lines" in f]
    expected = message.format(url=url, port=port)
    assert any(expected in f for f in failures), failures
    assert all("Traceback" not in f and "secret" not in f for f in failures)
    month = _month(url)
    assert month["lines"].empty and month["quarantine"].empty and month["balances"].empty
    assert not result.asset_materializations_for_node("gl_lines") and _leftover_copies(url) == []


def test_preview_analyze_suggestions_and_run_read_the_gl_from_the_sources_file(sample_company, tmp_path, monkeypatch, capsys):
    from allocation_pipeline import cli
    from allocation_pipeline.settings import DATA_DIR_ENV, EXTRACTS_DIR_ENV, RULES_FILE_ENV, SOURCES_FILE_ENV, WAREHOUSE_URL_ENV

    for name in (EXTRACTS_DIR_ENV, RULES_FILE_ENV, WAREHOUSE_URL_ENV, SOURCES_FILE_ENV, "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(sample_company))
    monkeypatch.setenv("DAGSTER_HOME", str(sample_company / "dagster_home"))
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    (sample_company / "dagster_home").mkdir()
    (sample_company / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    commands = {
        "preview": ["preview", "it_overhead_split", "--period", SAMPLE_PERIOD],
        "analyze": ["analyze", "--period", SAMPLE_PERIOD, "--pool", "us_corporate_it"],
        "suggestions": ["suggestions", "--period", SAMPLE_PERIOD, "--no-store"],
    }

    def outputs() -> dict[str, str]:
        printed = {}
        for name, argv in commands.items():
            assert cli.main(argv) == 0, capsys.readouterr().err
            printed[name] = capsys.readouterr().out
        return printed

    from_files = outputs()
    folder = sample_company / "extracts" / "gl_lines"
    rows = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))], ignore_index=True)
    erp = f"duckdb:///{tmp_path / 'replica.duckdb'}"
    _load_table(erp, "erp.gl_entries", rows)
    for path in folder.glob("*.csv"):
        path.unlink()
    folder.rmdir()
    sources = sample_company / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": {"gl_lines": {"kind": "sql", "url": erp, "table": "erp.gl_entries", "period_column": "posting_date"}}}))
    monkeypatch.setenv(SOURCES_FILE_ENV, str(sources))
    assert outputs() == from_files
    assert "GL lines read: 3,013" in from_files["preview"]

    status = cli.main(["run", "--period", SAMPLE_PERIOD, "--verbose"])
    captured = capsys.readouterr()
    out = captured.out
    assert status == 0, captured.err[-3000:]
    assert f"(extracts: {sample_company / 'extracts'}, sources: {sources})" in out
    assert re.search(r"gl_lines\s+done\s+3,013 rows", out), out
    monkeypatch.setenv(SOURCES_FILE_ENV, str(tmp_path / "nope.yaml"))
    assert cli.main(commands["preview"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{tmp_path / 'nope.yaml'}: sources file not found")


def test_the_readme_example_for_line_extracts_reads_in_place_and_streams_in(tmp_path):
    """README's line-extracts example with its URLs pointed here: the GL in the engine's own DuckDB
    file (read in place), the new AP system in another DuckDB file (copied), next to an AP file."""
    from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS
    from allocation_pipeline.core.ingestion.line_cleaning import clean_lines, quarantine_frame
    from allocation_pipeline.core.sources.config import parse_sources
    from allocation_pipeline.core.sources.lines import drop_copies, read_line_sources
    from allocation_pipeline.warehouse.lines import open_line_engine
    from tests.test_sources_config import _readme_examples

    document = _readme_examples()[1]
    engine_url, ap_url = f"duckdb:///{tmp_path / 'engine.duckdb'}", f"duckdb:///{tmp_path / 'ap_system.duckdb'}"
    document["sources"]["gl_lines"]["url"] = engine_url
    document["sources"]["ap_invoices"][1]["url"] = ap_url
    config = parse_sources(document)
    gl = pd.DataFrame(
        [["EE", "JE1", "JOURNAL", "1", "2026-10-02", "6100", "EE-IT", "100.50", "0", "EUR"],
         ["EE", "JE1", "JOURNAL", "2", "2026-10-02", "2000", "EE-IT", "0", "100.50", "EUR"],
         ["EE", "JE2", "JOURNAL", "1", "2026-09-30", "6100", "EE-IT", "5", "0", "EUR"]],  # September stays in the database
        columns=EXTRACT_SPECS["gl_lines"].file_columns()[0],
    )
    _load_table(engine_url, "erp.gl_entries", gl)
    invoices = pd.DataFrame(
        [["EE", "B7", "1", "Cloud Co", "2026-10-05", "6100", "EE-IT", "70.00", "EUR", "hosting"],
         ["EE", "B8", "1", "Cloud Co", "2026-10-06", "6100", "XX-NOPE", "30.00", "EUR", "hosting"]],
        columns=["company", "invoice_no", "line_no", "supplier", "invoice_date", "gl_account", "cost_centre", "net_amount", "currency", "memo"],
    )
    _load_table(ap_url, "invoices", invoices)
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    (extracts / "ap_invoices.csv").write_text(
        "entity,document_id,line,vendor,invoice_date,account,amount,currency\nEE,B1,1,Office Ltd,2026-10-01,6100,12.00,EUR\n"
    )
    references = {"entity": {"EE"}, "account": {"6100", "2000"}, "cost center": {"EE-IT"}}
    lines = open_line_engine(engine_url)
    try:
        outcomes = {}
        for extract in ("gl_lines", "ap_invoices"):
            raw = read_line_sources(lines.backend, lines.url, config, extracts, extract, SAMPLE_PERIOD)
            cleaned = clean_lines(raw.table, EXTRACT_SPECS[extract], references, SAMPLE_PERIOD, materialize=lines.materialize, duplicates=lines.duplicates)
            kept = lines.execute(cleaned.kept.select("source_file", "row_number").order_by(["source_file", "row_number"]))
            quarantine = quarantine_frame(lines.execute(cleaned.quarantine), raw.unreadable, extract)
            outcomes[extract] = (raw.in_place, raw.copies.copy(), raw.rows_copied, kept.values.tolist(), quarantine[["source_file", "reason"]].values.tolist())
            for table in cleaned.scratch:
                lines.release(table)
            drop_copies(lines.backend, raw)
        left = lines.backend.con.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%_raw_%'").fetchall()
    finally:
        lines.close()
    assert outcomes["gl_lines"] == (
        [f"{engine_url} erp.gl_entries"], [], 0,
        [["erp.gl_entries[entity=EE, document_id=JE1, line=1]", 1], ["erp.gl_entries[entity=EE, document_id=JE1, line=2]", 2]], [],
    )
    assert outcomes["ap_invoices"] == (
        [], ["ap_invoices_raw_2026_10"], 2,
        [["ap_invoices.csv", 1], ["query[document_id=B7, line=1]", 1]],
        [["query[document_id=B8, line=1]", "unknown cost center 'XX-NOPE'"]],
    )
    assert left == []
