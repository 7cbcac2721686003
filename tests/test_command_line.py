"""End-to-end tests of the real commands, run as subprocesses: `allocation generate`, `allocation run`
and `dagster asset materialize -f definitions.py`.

Every command gets DAGSTER_HOME and ALLOCATION_DATA_DIR (or an explicit warehouse URL) under
tmp_path, never the project's data directory, and inherits no other ALLOCATION_* variable. Covers
exit statuses, what the output names, and that the posted journal entries in the DuckDB warehouse
balance. Does not cover PostgreSQL, `dagster dev` (test_dagster_dev.py), the allocation arithmetic
or `allocation run`'s refusals and failures (test_run_command.py, in process).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from allocation_pipeline.settings import PROJECT_ROOT
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD

BIN = Path(sys.executable).parent
COMMAND_TIMEOUT_SECONDS = 180


def _env(tmp_path: Path, **allocation_vars: str) -> dict[str, str]:
    """The current environment minus ALLOCATION_*, plus a fresh DAGSTER_HOME and the given variables."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCATION_")}
    env["DAGSTER_HOME"] = str(home)
    env.update(allocation_vars)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS)


def _show(result: subprocess.CompletedProcess) -> str:
    """Both streams of a finished command, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"


def _read_only(url: str) -> sa.Engine:
    return sa.create_engine(url, connect_args={"read_only": True})


def test_generate_then_run_posts_the_period(tmp_path: Path):
    data_dir = tmp_path / "data"
    generate = _run(
        [str(BIN / "allocation"), "generate", "--out", str(data_dir), "--periods", "3", "--closed-periods", "1", "--gl-lines-per-period", "2000"],
        _env(tmp_path),
    )
    assert generate.returncode == 0, _show(generate)
    assert (data_dir / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv").is_file(), _show(generate)
    assert (data_dir / "rules.yaml").is_file(), _show(generate)

    run_env = _env(tmp_path, ALLOCATION_DATA_DIR=str(data_dir))
    (tmp_path / "dagster_home" / "dagster.yaml").unlink()  # `allocation run` must write its own
    run = _run([str(BIN / "allocation"), "run", "--period", SAMPLE_PERIOD], run_env)

    assert run.returncode == 0, _show(run)
    warehouse = data_dir / "warehouse.duckdb"
    assert warehouse.is_file(), _show(run)
    assert "EE-CAL000001" in run.stdout, _show(run)
    assert re.search(r"^Warehouse:\s+duckdb:///" + re.escape(str(warehouse)) + "$", run.stdout, re.MULTILINE), _show(run)
    assert str(tmp_path / "dagster_home") in run.stdout, _show(run)
    assert "did not finish cleanly" not in run.stdout, _show(run)
    assert re.search(r"^Period reports:\s+\S+/2026-10/EE\.html$", run.stdout, re.MULTILINE), _show(run)
    # Dagster's own log stays at warnings unless --verbose; a new instance sends no telemetry.
    assert " - DEBUG - " not in run.stdout + run.stderr
    assert "enabled: false" in (tmp_path / "dagster_home" / "dagster.yaml").read_text()


def test_dagster_asset_materialize_posts_balanced_entries(sample_company: Path, duckdb_url: str, tmp_path: Path):
    # The warehouse comes from ALLOCATION_WAREHOUSE_URL, so the resource's dg.EnvVar path is the one used.
    env = _env(tmp_path, ALLOCATION_DATA_DIR=str(sample_company), ALLOCATION_WAREHOUSE_URL=duckdb_url)
    # No executor config: with a DuckDB warehouse the code location runs a month in one process.
    result = _run(
        [str(BIN / "dagster"), "asset", "materialize", "-f", "definitions.py", "--select", "*", "--partition", SAMPLE_PARTITION],
        env,
    )

    assert result.returncode == 0, _show(result)
    assert not (sample_company / "warehouse.duckdb").exists(), "the URL variable must win over the data directory"
    engine = _read_only(duckdb_url)
    try:
        with engine.connect() as conn:
            entries = conn.execute(
                sa.text(
                    "SELECT e.entry_id, e.total_debit, e.total_credit, SUM(l.debit) AS debit, SUM(l.credit) AS credit, COUNT(l.line_no) AS lines "
                    "FROM journal_entries AS e LEFT JOIN journal_lines AS l ON l.entry_id = e.entry_id "
                    "WHERE e.period = :period GROUP BY e.entry_id, e.total_debit, e.total_credit ORDER BY e.entry_id"
                ),
                {"period": SAMPLE_PERIOD},
            ).all()
    finally:
        engine.dispose()
    assert entries, f"no journal entries for {SAMPLE_PERIOD}\n{_show(result)}"
    unbalanced = [e for e in entries if not (e.debit == e.credit == e.total_debit == e.total_credit and e.lines >= 2)]
    assert unbalanced == []
