"""Where things live: the project root, the data directory and the environment variables that move them."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_ROOT / "sql"

# The environment variables a deployment sets; each has a default under the data directory.
DATA_DIR_ENV = "ALLOCATION_DATA_DIR"
WAREHOUSE_URL_ENV = "ALLOCATION_WAREHOUSE_URL"
EXTRACTS_DIR_ENV = "ALLOCATION_EXTRACTS_DIR"
RULES_FILE_ENV = "ALLOCATION_RULES_FILE"
# Optional: where each extract is read from (SQL, FOCUS billing, Excel); unset, every extract is a file.
SOURCES_FILE_ENV = "ALLOCATION_SOURCES_FILE"
# The engine holds line-level data (extracts read, cleaned GL/AP lines, balances aggregated);
# unset, it is the warehouse (ledger) URL, so both roles share one DuckDB file.
ENGINE_URL_ENV = "ALLOCATION_ENGINE_URL"
# DuckDB settings for the embedded files: memory limit, spill directory, how long to wait for a
# file another process holds.
DUCKDB_MEMORY_LIMIT_ENV = "ALLOCATION_DUCKDB_MEMORY_LIMIT"
DUCKDB_TEMP_DIR_ENV = "ALLOCATION_DUCKDB_TEMP_DIR"
DUCKDB_LOCK_TIMEOUT_ENV = "ALLOCATION_DUCKDB_LOCK_TIMEOUT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
DEFAULT_DUCKDB_LOCK_TIMEOUT_SECONDS = 10.0
# A month whose GL lines are quarantined beyond this share (percent) is not allocated.
QUARANTINE_LIMIT_ENV = "ALLOCATION_QUARANTINE_LIMIT_PERCENT"
DEFAULT_QUARANTINE_LIMIT_PERCENT = 5.0


def data_dir() -> Path:
    """The project's data directory: `$ALLOCATION_DATA_DIR`, else `data/` in the project root."""
    return Path(os.environ.get(DATA_DIR_ENV) or PROJECT_ROOT / "data")


def default_warehouse_url() -> str:
    """The embedded default warehouse: a DuckDB file in the data directory."""
    return f"duckdb:///{data_dir() / 'warehouse.duckdb'}"


def default_extracts_dir() -> str:
    return str(data_dir() / "extracts")


def default_rules_file() -> str:
    return str(data_dir() / "rules.yaml")


def warehouse_url() -> str:
    return os.environ.get(WAREHOUSE_URL_ENV) or default_warehouse_url()


def engine_url() -> str:
    """The engine's URL: `$ALLOCATION_ENGINE_URL`, else the warehouse (ledger) URL."""
    return os.environ.get(ENGINE_URL_ENV) or warehouse_url()


def duckdb_lock_timeout() -> float:
    """Seconds to wait in total for a DuckDB file held by another process."""
    text = os.environ.get(DUCKDB_LOCK_TIMEOUT_ENV)
    try:
        return max(0.0, float(text)) if text else DEFAULT_DUCKDB_LOCK_TIMEOUT_SECONDS
    except ValueError:
        raise ValueError(f"{DUCKDB_LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds") from None


def quarantine_limit_percent() -> float:
    """The largest share of a month's GL lines (percent) that may be quarantined before allocation stops."""
    text = os.environ.get(QUARANTINE_LIMIT_ENV)
    try:
        value = float(text) if text else DEFAULT_QUARANTINE_LIMIT_PERCENT
    except ValueError:
        raise ValueError(f"{QUARANTINE_LIMIT_ENV}={text!r} is not a percentage") from None
    if not 0 <= value <= 100:
        raise ValueError(f"{QUARANTINE_LIMIT_ENV}={text!r} must be between 0 and 100")
    return value


def extracts_dir() -> str:
    return os.environ.get(EXTRACTS_DIR_ENV) or default_extracts_dir()


def rules_file() -> str:
    return os.environ.get(RULES_FILE_ENV) or default_rules_file()


CONSOLE_URL_ENV = "ALLOCATION_CONSOLE_URL"


def console_url() -> str | None:
    """Where the finance console runs (e.g. http://finance.example:8040), for links from Dagster."""
    value = os.environ.get(CONSOLE_URL_ENV, "").strip().rstrip("/")
    return value or None


def sources_file() -> str:
    """The sources file, or "" when none is set (every extract is then read from files)."""
    return os.environ.get(SOURCES_FILE_ENV) or ""
