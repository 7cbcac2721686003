"""The one partition definition: fiscal months from the first fiscal month (a partition exists once its month has ended)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import dagster as dg
import pandas as pd

from allocation_pipeline import settings

# Sets the first fiscal month (YYYY-MM) of the partitions; without it the extracts decide.
FIRST_PERIOD_ENV = "ALLOCATION_FIRST_PERIOD"
# When neither the variable nor the extracts name a month.
DEFAULT_FIRST_PERIOD = "2024-01"
PERIOD_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def first_fiscal_month(extracts_dir: str | Path, configured: str | None = None) -> str:
    """The first fiscal month of the partitions: `configured` ($ALLOCATION_FIRST_PERIOD) when given,
    else the earliest month of the extracts (the `fiscal_periods` extract's periods and the
    month-named files of `gl_lines/`), else 2024-01. A malformed `configured` value is an error."""
    if configured:
        if not PERIOD_RE.fullmatch(configured):
            raise ValueError(f"${FIRST_PERIOD_ENV}={configured!r} is not a fiscal month YYYY-MM")
        return configured
    months = _extract_months(Path(extracts_dir))
    return min(months) if months else DEFAULT_FIRST_PERIOD


def _extract_months(extracts_dir: Path) -> set[str]:
    """Months named by the small extracts only: partitions are computed at import, so no GL file is read."""
    months = {p.stem for p in (extracts_dir / "gl_lines").glob("*.*") if PERIOD_RE.fullmatch(p.stem)}
    folder = extracts_dir / "fiscal_periods"
    files = [extracts_dir / "fiscal_periods.csv", extracts_dir / "fiscal_periods.parquet"]
    if folder.is_dir():
        files += sorted(folder.glob("*.csv")) + sorted(folder.glob("*.parquet"))
    for file in files:
        if not file.is_file():
            continue
        try:
            if file.suffix == ".csv":
                periods = pd.read_csv(file, usecols=["period"], dtype=str, encoding="utf-8-sig")["period"]
            else:
                periods = pd.read_parquet(file, columns=["period"])["period"].astype(str)
        except (OSError, ValueError, KeyError):
            continue  # an unusable extract fails its own asset with a clear message; not our concern here
        months |= {p for p in periods.dropna().str.strip() if PERIOD_RE.fullmatch(p)}
    return months


FIRST_FISCAL_MONTH = first_fiscal_month(settings.extracts_dir(), os.environ.get(FIRST_PERIOD_ENV))

fiscal_month_partitions = dg.MonthlyPartitionsDefinition(start_date=f"{FIRST_FISCAL_MONTH}-01")


def period_of(partition_key: str) -> str:
    """The fiscal period (YYYY-MM) of a monthly partition key (YYYY-MM-DD)."""
    return partition_key[:7]


def partition_key_of(period: str) -> str:
    """The monthly partition key of a fiscal period: 2026-10 -> 2026-10-01."""
    return f"{period}-01"
