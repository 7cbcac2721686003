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
