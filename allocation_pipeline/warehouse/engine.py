"""Engines for DuckDB, PostgreSQL and SQLite URLs, schema creation from `sql/`, and SQL file loading."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from allocation_pipeline import settings
from allocation_pipeline.settings import SQL_DIR

log = logging.getLogger(__name__)


class WarehouseError(RuntimeError):
    """A warehouse that cannot be reached or used; the message names it (password hidden)."""


class DuckDBFile:
    """One DuckDB database file opened once per process and shared by every user in it.

    The ledger's SQLAlchemy connections and the engine's Ibis backend each take a cursor (a
    connection to the same open database, with its own transactions), so the file is not opened
    again per transaction. The file (and DuckDB's lock on it, which keeps other processes out) is
    released when the last cursor is given back.
    """

    _open: dict[str, "DuckDBFile"] = {}
    _guard = threading.Lock()

    def __init__(self, path: str):
        self.path = path
        self._connection = None
        self._users = 0

    @classmethod
    def of(cls, path: str) -> "DuckDBFile":
        key = str(Path(path).expanduser().resolve()) if path != ":memory:" else path
        with cls._guard:
            if key not in cls._open:
                cls._open[key] = cls(key)
            return cls._open[key]

    def acquire(self):
        """A cursor on the open database (opening the file, waiting a bounded time for its lock)."""
        with self._guard:
            if self._connection is None:
                self._connection = _connect_duckdb(self.path)
            self._users += 1
            return self._connection.cursor()

    def release(self, cursor) -> None:
        with self._guard:
            try:
                cursor.close()
            finally:
                self._users -= 1
                if self._users <= 0 and self._connection is not None:
                    self._connection.close()
                    self._connection = None
                    self._users = 0

    @property
    def is_open(self) -> bool:
        return self._connection is not None


def duckdb_config() -> dict[str, str]:
    """DuckDB settings from the environment: memory limit (default 2GB) and spill directory."""
    config = {"memory_limit": os.environ.get(settings.DUCKDB_MEMORY_LIMIT_ENV) or settings.DEFAULT_DUCKDB_MEMORY_LIMIT}
    temp_dir = os.environ.get(settings.DUCKDB_TEMP_DIR_ENV)
    if temp_dir:
        config["temp_directory"] = temp_dir
    return config


def _connect_duckdb(path: str):
    """Open the file; while another process holds it, retry up to the configured total wait, then
    fail with a message that names the file, the holder and what to do."""
    import duckdb

    timeout = settings.duckdb_lock_timeout()
    deadline = time.monotonic() + timeout
    delay, warned = 0.05, False
    while True:
        try:
            return duckdb.connect(path, config=duckdb_config())
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise WarehouseError(f"DuckDB file {path} cannot be opened: {exc}") from exc
            holder = re.search(r"\(PID (\d+)\)", str(exc))
            who = f"process {holder.group(1)}" if holder else "another process"
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"DuckDB file {path} is in use by {who} (DuckDB lets one process open a file at a time); "
                    f"waited {timeout:g} s. Stop that process (another `allocation` command, `dagster dev`, the console) "
                    f"or wait for it to finish and retry; {settings.DUCKDB_LOCK_TIMEOUT_ENV} sets how long to wait."
                ) from None
            if not warned:
                log.warning("DuckDB file %s is in use by %s; waiting up to %g s", path, who, timeout)
                warned = True
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)


class _PooledCursor:
    """A DuckDB cursor as duckdb_engine expects its connections, returning itself to the file on close."""

    def __init__(self, file: DuckDBFile):
        from duckdb_engine import ConnectionWrapper

        self._file = file
        self._cursor = file.acquire()
        self._wrapper = ConnectionWrapper(self._cursor)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.release(self._cursor)

    def __getattr__(self, name):
        return getattr(self._wrapper, name)


def make_engine(url: str, hold_open: bool = True) -> sa.Engine:
    """An engine for `url`. A DuckDB file is opened once per process (see DuckDBFile) and released
    when the engine is disposed; SQLite files get no pooling; server databases a normal pool.

    `hold_open=False` is for long-running servers (the console, the MCP server): a DuckDB file is
    then closed whenever no request uses it, so `allocation run` and other processes can open it
    between requests."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("duckdb", "sqlite") and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if backend == "duckdb":
        file = DuckDBFile.of(parsed.database or ":memory:")
        if not hold_open:
            return sa.create_engine(parsed, creator=lambda: _PooledCursor(file), poolclass=NullPool)
        return sa.create_engine(parsed, creator=lambda: _PooledCursor(file), pool_size=2, max_overflow=8)
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
