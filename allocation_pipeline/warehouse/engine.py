"""Engines for DuckDB, PostgreSQL and SQLite URLs, schema creation from `sql/`, and SQL file loading."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from allocation_pipeline.settings import SQL_DIR

# A DuckDB file takes one writing process at a time; other steps wait for it this long.
DUCKDB_LOCK_WAIT_SECONDS = 120.0


class WarehouseError(RuntimeError):
    """A warehouse that cannot be reached or used; the message names it (password hidden)."""


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`. DuckDB and SQLite files get their directory created and no pooling,
    so a step's connection (and DuckDB's file lock) is released as soon as the step is done."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("duckdb", "sqlite") and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if backend == "duckdb":
        engine = sa.create_engine(parsed, poolclass=NullPool)
        _wait_for_duckdb_lock(engine)
        return engine
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        _adapt_decimals_for_sqlite()
        return sa.create_engine(parsed, poolclass=NullPool)
    return sa.create_engine(parsed, pool_pre_ping=True)


def _adapt_decimals_for_sqlite() -> None:
    """SQLite has no decimal type: amounts go in as their exact text and its NUMERIC affinity
    stores them as numbers; every query reads money back as ROUND(x * 100) cents, which is exact
    for amounts below about 90 trillion."""
    import sqlite3
    from decimal import Decimal

    sqlite3.register_adapter(Decimal, str)


def _wait_for_duckdb_lock(engine: sa.Engine) -> None:
    """Retry connecting while another process holds the DuckDB file (parallel Dagster steps)."""

    @sa.event.listens_for(engine, "do_connect")
    def connect_with_retry(dialect, conn_rec, cargs, cparams):
        deadline = time.monotonic() + DUCKDB_LOCK_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except Exception as exc:  # duckdb.IOException; the type is not importable portably
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


@functools.cache
def sql_text(name: str) -> sa.TextClause:
    """The statement in `sql/<name>.sql` (one statement per file, bound parameters only)."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise WarehouseError(f"missing SQL file {path.name} in sql/")
    return sa.text(path.read_text(encoding="utf-8").strip().rstrip(";"))


def schema_files() -> list[Path]:
    """Tables first; then each view dropped and created again, so a changed view takes effect."""
    tables = sorted(SQL_DIR.glob("create_table_*.sql"))
    views = sorted(SQL_DIR.glob("create_view_*.sql"))
    drops = [SQL_DIR / p.name.replace("create_view_", "drop_view_") for p in views]
    return tables + drops + views


def ensure_schema(engine: sa.Engine) -> None:
    """Create every table that does not exist yet and (re)create the views (idempotent)."""
    try:
        with engine.begin() as conn:
            for path in schema_files():
                conn.execute(sql_text(path.stem))
    except sa.exc.OperationalError as exc:
        raise WarehouseError(f"warehouse {describe(str(engine.url))} cannot be used: {exc.orig}") from exc
