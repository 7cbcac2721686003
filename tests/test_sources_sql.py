"""SQL sources through Ibis, on DuckDB and PostgreSQL: the raw table the cleaning takes (text
columns, the row's key values as its place), the month selected in the database, streaming into
another database with nothing left by a failure, and bad sources named. No Dagster."""

from __future__ import annotations

import socket

import ibis
import pytest
import sqlalchemy as sa

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.sources.config import SourcesError, SqlSource, parse_sources
from allocation_pipeline.core.sources.reader import read_sourced_extract
from allocation_pipeline.core.sources.sql import connect, copy_into, raw_table
from tests.conftest import postgres_database

GL_REQUIRED, GL_OPTIONAL = EXTRACT_SPECS["gl_lines"].file_columns()
ERP_COLUMNS = {"entity": "company", "document_id": "doc_no", "document_type": "doc_type", "line": "line_no", "posting_date": "posted_at",
               "account": "gl_account", "cost_center": "cost_centre", "debit": "dr", "credit": "cr", "currency": "currency_code"}
ERP_ROWS = [
    ("EE", "JE1", "JOURNAL", 1, "2026-10-02 09:30:00", "6100", "EE-IT", "100.50", "0", "EUR"),
    ("EE", "JE1", "JOURNAL", 2, "2026-10-02 09:30:00", "2000", "EE-IT", "0", "100.50", "EUR"),
    ("EE", "JE2", "JOURNAL", 1, "2026-10-03 00:00:00", "6100", None, "20", "0", "EUR"),  # no cost centre
    ("EE", "JE2", "JOURNAL", 2, "2026-10-03 00:00:00", "2000", "EE-IT", "0", "20", "EUR"),
    ("US", "JE9", "JOURNAL", 1, "2026-09-30 23:00:00", "6100", "US-IT", "5", "0", "USD"),  # September
]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def erp_url(request, tmp_path) -> str:
    """A database of its own holding an ERP-like GL table `erp.gl_entries` (its own column names)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'replica.duckdb'}"
        _create_erp(url).dispose()
        yield url
        return
    with postgres_database() as url:
        _create_erp(url).dispose()
        yield url


def _create_erp(url: str, schema: str = "erp") -> sa.Engine:
    """`<schema>.gl_entries` holding ERP_ROWS; the engine is returned open for more tables."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))  # fixed test names only
        conn.execute(sa.text(
            f"CREATE TABLE {schema}.gl_entries (company VARCHAR, doc_no VARCHAR, doc_type VARCHAR, line_no INTEGER, posted_at TIMESTAMP, "
            "gl_account VARCHAR, cost_centre VARCHAR, dr NUMERIC(18,2), cr NUMERIC(18,2), currency_code VARCHAR)"
        ))
        conn.execute(
            sa.text(f"INSERT INTO {schema}.gl_entries VALUES (:a, :b, :c, :d, CAST(:e AS TIMESTAMP), :f, :g, CAST(:h AS NUMERIC(18,2)), CAST(:i AS NUMERIC(18,2)), :j)"),
            [dict(zip("abcdefghij", row)) for row in ERP_ROWS],
        )
    return engine


def _gl_source(url: str, **overrides) -> SqlSource:
    settings = {"kind": "sql", "url": url, "table": "erp.gl_entries", "columns": ERP_COLUMNS, "period_column": "posted_at"}
    settings.update(overrides)
    return parse_sources({"sources": {"gl_lines": settings}}).sources_of("gl_lines")[0]


def test_the_raw_table_is_text_columns_and_the_rows_key_values(erp_url):
    expression = raw_table(_gl_source(erp_url), "gl_lines", GL_REQUIRED, GL_OPTIONAL, period="2026-10")
    assert isinstance(expression, ibis.Table)
    assert list(expression.columns) == GL_REQUIRED + GL_OPTIONAL + ["source_file", "row_number"]
    assert all(expression.schema()[c].is_string() for c in GL_REQUIRED + GL_OPTIONAL)
    frame = expression.to_pandas().sort_values("row_number", ignore_index=True)
    assert frame["row_number"].tolist() == [1, 2, 3, 4]  # September's row stayed in the database
    assert frame["source_file"].tolist()[:2] == [
        "erp.gl_entries[company=EE, doc_no=JE1, line_no=1]", "erp.gl_entries[company=EE, doc_no=JE1, line_no=2]"
    ]
    assert frame["posting_date"].tolist()[0] == "2026-10-02"  # the timestamp's date, as the contract reads it
    assert frame["debit"].tolist()[0] == "100.50" and frame["product"].isna().all()


def test_a_sql_extract_is_cleaned_with_its_key_values_in_the_quarantine(erp_url):
    config = parse_sources({"sources": {"gl_lines": _gl_source(erp_url).model_dump()}})
    raw = read_sourced_extract(config, "unused", "gl_lines", GL_REQUIRED, GL_OPTIONAL, period="2026-10")
    result = clean_extract(raw, EXTRACT_SPECS["gl_lines"], {"entity": {"EE", "US"}}, period="2026-10")
    assert result.rows_in == 4 and result.rows_kept == 3
    assert result.kept["debit_cents"].tolist() == [10050, 0, 0]
    (problem,) = result.quarantine.to_dict("records")
    assert problem["source_file"] == "erp.gl_entries[company=EE, doc_no=JE2, line_no=1]"
    assert problem["column"] == "cost_center" and problem["reason"] == "missing value"
    assert raw.files == [f"{sa.engine.make_url(erp_url).render_as_string(hide_password=True)} erp.gl_entries"]


def test_a_query_source_with_its_own_key(erp_url):
    source = _gl_source(
        erp_url, table=None, period_column=None, key=["doc_no", "line_no"],
        query="SELECT company, doc_no, doc_type, line_no, posted_at, gl_account, cost_centre, dr, cr, currency_code "
              "FROM erp.gl_entries WHERE company = 'EE'",
    )
    frame = raw_table(source, "gl_lines", GL_REQUIRED, GL_OPTIONAL).to_pandas().sort_values("row_number")
    assert frame["source_file"].tolist() == [f"query[doc_no=JE{d}, line_no={n}]" for d, n in ((1, 1), (1, 2), (2, 1), (2, 2))]


def test_streaming_into_the_engine_copies_every_row_or_nothing(erp_url):
    engine = ibis.duckdb.connect()
    expression = raw_table(_gl_source(erp_url), "gl_lines", GL_REQUIRED, GL_OPTIONAL)
    assert copy_into(expression, engine, "gl_lines_raw", "gl_lines", chunk_rows=2) == 5
    copied = engine.table("gl_lines_raw").to_pandas().sort_values("row_number")
    assert copied["source_file"].tolist() == expression.to_pandas().sort_values("row_number")["source_file"].tolist()
    # A query that fails while its rows are read (text that is no number, in one row) loads nothing.
    failing = _gl_source(
        erp_url, table=None, period_column=None, key=["doc_no"],
        query="SELECT company, doc_no, doc_type, CAST(CASE WHEN line_no = 2 THEN doc_no ELSE '1' END AS INTEGER) AS line_no, "
              "posted_at, gl_account, cost_centre, dr, cr, currency_code FROM erp.gl_entries",
    )
    broken = raw_table(failing, "gl_lines", GL_REQUIRED, GL_OPTIONAL)
    with pytest.raises(SourcesError, match=r"^gl_lines: reading failed after \d+ row\(s\); nothing was loaded \("):
        copy_into(broken, engine, "gl_lines_broken", "gl_lines", chunk_rows=1)
    tables = {name for (name,) in engine.raw_sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "gl_lines_raw" in tables and not {"gl_lines_broken", "gl_lines_broken__loading"} & tables


def test_a_missing_table_or_column_names_the_source(erp_url):
    shown = sa.engine.make_url(erp_url).render_as_string(hide_password=True)
    with pytest.raises(SourcesError) as error:
        raw_table(_gl_source(erp_url, table="erp.gl_lines_nope"), "gl_lines", GL_REQUIRED, GL_OPTIONAL)
    assert str(error.value) == f"gl_lines (sql {shown} erp.gl_lines_nope): table or view erp.gl_lines_nope not found"
    columns = {**ERP_COLUMNS, "account": "account_no"}
    with pytest.raises(SourcesError, match=r"missing column\(s\) account \(as account_no\) \(found: company, doc_no, "):
        raw_table(_gl_source(erp_url, columns=columns), "gl_lines", GL_REQUIRED, GL_OPTIONAL)
    with pytest.raises(SourcesError, match=r"'columns' maps amount, which gl_lines does not have"):
        raw_table(_gl_source(erp_url, columns={**ERP_COLUMNS, "amount": "dr"}), "gl_lines", GL_REQUIRED, GL_OPTIONAL)
    with pytest.raises(SourcesError, match=r"missing column\(s\) key column id"):
        raw_table(_gl_source(erp_url, key=["id"]), "gl_lines", GL_REQUIRED, GL_OPTIONAL)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_database_or_a_bad_url_is_one_short_message():
    url = f"postgresql+psycopg://reader:secret@127.0.0.1:{_closed_port()}/erp"
    with pytest.raises(SourcesError) as error:
        connect(_gl_source(url), "gl_lines")
    message = str(error.value)
    assert message.startswith(f"gl_lines (sql postgresql+psycopg://reader:***@127.0.0.1:") and "database cannot be reached" in message
    assert "secret" not in message and "\n" not in message
    with pytest.raises(SourcesError, match="not a database URL"):
        connect(_gl_source("not a url"), "gl_lines")
    with pytest.raises(SourcesError, match="no Ibis backend for 'informix' databases"):
        connect(_gl_source("informix://host/db"), "gl_lines")
