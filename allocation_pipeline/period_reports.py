"""Writing the HTML period reports: one file per entity, `<data dir>/reports/<period>/<entity>.html`.

Used by the `period_report` asset, `allocation report` and `allocation benchmark report`. Each
file is written to a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from allocation_pipeline import settings
from allocation_pipeline.core.report.html import render_report
from allocation_pipeline.core.report.model import summary_figures
from allocation_pipeline.warehouse.lines import LineEngine, ledger_lines
from allocation_pipeline.warehouse.report_store import read_report_data, report_entities

# Moves the reports elsewhere than `<data dir>/reports` (the test suite points it under tmp).
REPORTS_DIR_ENV = "ALLOCATION_REPORTS_DIR"


def reports_dir() -> Path:
    """Where period reports go: `$ALLOCATION_REPORTS_DIR`, else `<data dir>/reports`."""
    return Path(os.environ.get(REPORTS_DIR_ENV) or settings.data_dir() / "reports")


@dataclass(frozen=True)
class ReportFile:
    """One written report: its entity, file, size, timings (reading the warehouse, rendering and
    writing), key figures and the period's runs shown in it."""

    entity: str
    currency: str
    path: Path
    bytes: int
    seconds: float
    read_seconds: float
    figures: dict[str, int] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)


def write_period_reports(
    engine: sa.Engine, period: str, entities: list[str] | None = None, out_dir: Path | None = None, lines: LineEngine | None = None
) -> list[ReportFile]:
    """Write the report of `period` for each entity (all entities in dim_entities by default); GL
    lines are read from `lines` (default: the engine behind the ledger, see `ledger_lines`)."""
    folder = Path(out_dir) if out_dir is not None else reports_dir() / period
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with engine.connect() as conn, ledger_lines(conn, lines) as line_engine:
        known = list(report_entities(conn, period)["entity"])
        wanted = known if entities is None else entities
        unknown = [e for e in wanted if e not in known]
        if unknown:
            raise LookupError(f"unknown entity {', '.join(unknown)} (entities in the warehouse: {', '.join(known) or 'none'})")
        for entity in wanted:
            started = time.perf_counter()
            data = read_report_data(conn, period, entity, lines=line_engine)
            read = time.perf_counter() - started
            html = render_report(data)
            path = folder / f"{entity}.html"
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_text(html, encoding="utf-8")
            temporary.replace(path)
            runs = data.period_runs[["run_id", "rule_id", "status", "total_debit_cents", "journal_entry_id", "reversal_entry_id"]]
            written.append(
                ReportFile(
                    entity=entity, currency=data.currency, path=path.resolve(), bytes=path.stat().st_size,
                    seconds=time.perf_counter() - started, read_seconds=read, figures=summary_figures(data), runs=runs.to_dict("records"),
                )
            )
    return written
