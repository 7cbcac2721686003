"""Shared fixtures: a small generated sample company, warehouses (DuckDB file, PostgreSQL schema), resources.

PostgreSQL tests use the server at $ALLOCATION_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), each in a schema of its own that is dropped
afterwards. An unreachable server skips them locally and fails them under CI (CI=true).
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
