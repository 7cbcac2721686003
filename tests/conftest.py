"""Shared fixtures: a small generated sample company, warehouses (DuckDB file, PostgreSQL schema), resources.

PostgreSQL tests use the server at $ALLOCATION_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), each in a schema of its own that is dropped
afterwards. An unreachable server skips them locally and fails them under CI (CI=true).

Materializing a month costs seconds, so the warehouses many tests start from (the reference data
alone; the whole month posted) are built once per session and xdist worker as templates, and each
test gets its own copy (a DuckDB file copied, a PostgreSQL schema copied table by table).
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

# The partitions are computed at import from the data directory's extracts; the tests' own companies
# live under tmp, so the first fiscal month is fixed for every in-process test (subprocess tests
# drop ALLOCATION_* variables and see the default behaviour).
os.environ["ALLOCATION_FIRST_PERIOD"] = "2024-01"

from allocation_pipeline.sample.generate import generate_company  # noqa: E402

REFERENCE_ASSETS = ["entities", "accounts", "cost_centers", "fiscal_periods", "gl_lines"]
POSTGRES_URL = os.environ.get("ALLOCATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLE_PERIOD = "2026-10"
SAMPLE_PARTITION = "2026-10-01"


@pytest.fixture(scope="session", autouse=True)
def reports_under_tmp(tmp_path_factory):
    """Period reports written by any materialization go under the session's tmp, never into data/."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALLOCATION_REPORTS_DIR", str(tmp_path_factory.mktemp("reports")))
        yield


@pytest.fixture(scope="session")
def sample_company_template(tmp_path_factory) -> Path:
    """A small sample company (3 months, 2026-08 closed, 2026-09 and 2026-10 open), generated once."""
    root = tmp_path_factory.mktemp("sample_company")
    generate_company(root, periods=3, end_period=SAMPLE_PERIOD, closed_periods=1, gl_lines_per_period=3000, file_format="csv")
    return root


@pytest.fixture
def sample_company(sample_company_template: Path, tmp_path: Path) -> Path:
    """A private copy of the sample company that a test may change."""
    target = tmp_path / "company"
    shutil.copytree(sample_company_template, target)
    return target


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def _postgres_or_skip() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL at {engine.url.render_as_string(hide_password=True)} is unreachable: {exc.orig}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (under CI an unreachable server is a failure)")
        pytest.skip(message)
    return engine


def _schema_of(url: str) -> str:
    """The schema a URL made by postgres_schema() searches."""
    return sa.engine.make_url(url).query["options"].removeprefix("-csearch_path=")


@contextmanager
def postgres_schema():
    """A URL whose search_path is a fresh schema, dropped (with everything in it) afterwards."""
    admin = _postgres_or_skip()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not user input
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from allocation_pipeline.defs import resources

        for key in [k for k in resources._ENGINES if schema in k]:
            resources._ENGINES.pop(key).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def postgres_database():
    """A URL of a fresh PostgreSQL database, dropped afterwards: for tests that need fixed schema
    names of their own (an ERP's `erp.gl_entries`), which a shared database would let two workers race on."""
    admin = _postgres_or_skip()
    database = f"test_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))  # generated identifier, not user input
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> str:
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path: Path) -> str:
    """Each test using it runs once on DuckDB and once on PostgreSQL."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("postgres_url")


def pipeline_resources(company: Path, url: str) -> dict:
    from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, RulesResource, WarehouseResource
    from allocation_pipeline.defs.sources.resources import SourcesResource

    return {
        "warehouse": WarehouseResource(url=url),
        "engine": EngineResource(url=url),
        "extracts": ExtractsResource(directory=str(company / "extracts")),
        "rules": RulesResource(path=str(company / "rules.yaml")),
        "sources": SourcesResource(),
    }


def query_frame(url: str, sql: str, **params):
    """The rows a query returns from the warehouse at `url`, as a frame (bound parameters only)."""
    from allocation_pipeline.warehouse.bulk import read_frame
    from allocation_pipeline.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return read_frame(conn, sa.text(sql), params)
    finally:
        engine.dispose()


def copy_postgres_schema(source_url: str, target_url: str) -> None:
    """Fill the (fresh) schema of target_url with a copy of every table of source_url's schema."""
    from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

    source, target = _schema_of(source_url), _schema_of(target_url)
    engine = make_engine(target_url)
    try:
        ensure_schema(engine)  # the warehouse's own tables and views, as the product creates them
    finally:
        engine.dispose()
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            columns: dict[str, list[str]] = {}
            for table, column in conn.execute(
                sa.text(
                    "SELECT c.table_name, c.column_name FROM information_schema.columns AS c JOIN information_schema.tables AS t "
                    "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                    "WHERE c.table_schema = :s AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position"
                ),
                {"s": source},
            ):
                columns.setdefault(table, []).append(column)
            for table, names in columns.items():
                # generated identifiers and catalogue names, not user input
                conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{target}"."{table}" (LIKE "{source}"."{table}" INCLUDING ALL)'))
                listed = ", ".join(f'"{name}"' for name in names)
                conn.execute(sa.text(f'INSERT INTO "{target}"."{table}" ({listed}) SELECT {listed} FROM "{source}"."{table}"'))
    finally:
        admin.dispose()


def materialize(company: Path, url: str, partition: str = SAMPLE_PARTITION, selection=None):
    """The pipeline's assets (or a selection of them) for one month, in process; failures are returned, not raised."""
    import dagster as dg

    from allocation_pipeline.defs.definitions import build_definitions

    return dg.materialize(
        list(build_definitions().assets), partition_key=partition, resources=pipeline_resources(company, url), selection=selection, raise_on_error=False
    )


def _materialized(company: Path, url: str, selection=None):
    from allocation_pipeline.reporting import run_failures

    result = materialize(company, url, selection=selection)
    assert result.success, run_failures(result)
    return result


def _duckdb_copy(template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(template, copy)
    return f"duckdb:///{copy}"


@pytest.fixture(scope="session")
def reference_duckdb_template(sample_company_template: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reference_duckdb") / "warehouse.duckdb"
    _materialized(sample_company_template, f"duckdb:///{path}", selection=REFERENCE_ASSETS)
    return path


@pytest.fixture(scope="session")
def reference_postgres_template(sample_company_template: Path) -> str:
    with postgres_schema() as url:
        _materialized(sample_company_template, url, selection=REFERENCE_ASSETS)
        yield url


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def reference_warehouse_url(request, tmp_path: Path) -> str:
    """A private warehouse (DuckDB, then PostgreSQL) holding the sample company's master data and
    2026-10 GL lines, as materializing the extract assets leaves it."""
    if request.param == "duckdb":
        return _duckdb_copy(request.getfixturevalue("reference_duckdb_template"), tmp_path)
    template = request.getfixturevalue("reference_postgres_template")
    url = request.getfixturevalue("postgres_url")
    copy_postgres_schema(template, url)
    return url


@pytest.fixture
def reference_duckdb_url(reference_duckdb_template: Path, tmp_path: Path) -> str:
    """A private copy of the DuckDB warehouse holding the sample company's master data and 2026-10 GL lines."""
    return _duckdb_copy(reference_duckdb_template, tmp_path)


class PostedMonth:
    """The sample company's 2026-10 materialized end to end once (every run posted): the
    warehouse (read only; take a copy to change it) and the materialization's result."""

    def __init__(self, url: str, result):
        self.url = url
        self.result = result


@pytest.fixture(scope="session")
def posted_duckdb_month(sample_company_template: Path, tmp_path_factory) -> PostedMonth:
    url = f"duckdb:///{tmp_path_factory.mktemp('posted_duckdb') / 'warehouse.duckdb'}"
    return PostedMonth(url, _materialized(sample_company_template, url))


@pytest.fixture(scope="session")
def posted_postgres_month(sample_company_template: Path) -> PostedMonth:
    with postgres_schema() as url:
        yield PostedMonth(url, _materialized(sample_company_template, url))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def posted_month(request) -> PostedMonth:
    """The shared posted month on DuckDB, then on PostgreSQL; tests only read it."""
    return request.getfixturevalue(f"posted_{request.param}_month")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def posted_warehouse_url(request, tmp_path: Path) -> str:
    """A private copy (DuckDB, then PostgreSQL) of the warehouse after the posted month."""
    if request.param == "duckdb":
        return _duckdb_copy(sa.engine.make_url(request.getfixturevalue("posted_duckdb_month").url).database, tmp_path)
    template = request.getfixturevalue("posted_postgres_month").url
    url = request.getfixturevalue("postgres_url")
    copy_postgres_schema(template, url)
    return url


@pytest.fixture
def posted_duckdb_url(posted_duckdb_month: PostedMonth, tmp_path: Path) -> str:
    """A private copy of the DuckDB warehouse after the posted month."""
    return _duckdb_copy(sa.engine.make_url(posted_duckdb_month.url).database, tmp_path)
