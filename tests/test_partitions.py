"""The fiscal-month partitions' first month: $ALLOCATION_FIRST_PERIOD, else the earliest month of the
extracts (fiscal_periods, month-named gl_lines files), else 2024-01; and the one module-level
definition computed from the settings at import (checked in a fresh interpreter, since the test
session fixes the variable). Does not run any asset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from allocation_pipeline.defs.partitions import DEFAULT_FIRST_PERIOD, FIRST_PERIOD_ENV, first_fiscal_month
from allocation_pipeline.settings import PROJECT_ROOT


def test_the_variable_wins(tmp_path):
    (tmp_path / "gl_lines").mkdir()
    (tmp_path / "gl_lines" / "2026-03.csv").write_text("entity\n")
    assert first_fiscal_month(tmp_path, "2025-07") == "2025-07"


def test_the_earliest_month_of_the_extracts(tmp_path):
    (tmp_path / "gl_lines").mkdir()
    for name in ("2026-03.csv", "2026-04.parquet", "notes.txt"):
        (tmp_path / "gl_lines" / name).write_text("x\n")
    assert first_fiscal_month(tmp_path) == "2026-03"
    # An Excel CSV with a byte-order mark still names its periods.
    (tmp_path / "fiscal_periods.csv").write_text("\ufeffentity,period,start_date,end_date,status\nEE,2025-11,2025-11-01,2025-11-30,closed\nEE,bad,,,open\n", encoding="utf-8")
    assert first_fiscal_month(tmp_path) == "2025-11"


def test_without_extracts_the_default(tmp_path):
    assert first_fiscal_month(tmp_path / "missing") == DEFAULT_FIRST_PERIOD
    (tmp_path / "fiscal_periods.csv").write_text("not,a,fiscal,periods,file\n")
    assert first_fiscal_month(tmp_path) == DEFAULT_FIRST_PERIOD


def test_a_malformed_variable_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\$ALLOCATION_FIRST_PERIOD='2025-13' is not a fiscal month YYYY-MM"):
        first_fiscal_month(tmp_path, "2025-13")


def test_the_module_level_partitions_start_at_the_extracts_first_month(sample_company_template: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCATION_")}
    env.update(ALLOCATION_DATA_DIR=str(sample_company_template), PYTHONPATH=str(PROJECT_ROOT))
    code = "from allocation_pipeline.defs.partitions import fiscal_month_partitions as p; print(p.start.strftime('%Y-%m'), p.get_partition_keys()[0])"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["2026-08", "2026-08-01"]  # the sample company's three months end 2026-10
    env[FIRST_PERIOD_ENV] = "2026-09"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert shown.stdout.split() == ["2026-09", "2026-09-01"], shown.stderr
