"""A fiscal month's allocation in an Excel workbook: runs, their lines and the cost per cost object
after allocation, read from the ledger with the period report's own statements (sql/select_report_*)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from openpyxl.utils import get_column_letter

from allocation_pipeline import settings
from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import describe, sql_text
from allocation_pipeline.warehouse.report_store import report_entities

# Sheet name -> the statement giving its rows for one entity (the period report's, so the two agree).
SHEETS = {"Runs": "select_report_runs", "Lines": "select_report_run_lines", "Cost objects": "select_report_cost_objects"}
MONEY_FORMAT = "#,##0.00"


@dataclass(frozen=True)
class ExportedWorkbook:
    path: Path
    rows: dict[str, int]


def default_export_path(period: str) -> Path:
    return settings.data_dir() / "exports" / f"allocation-{period}.xlsx"


def read_period_tables(conn: sa.Connection, period: str) -> dict[str, pd.DataFrame]:
    """Each sheet's rows for every entity; money columns (`*_cents`) as exact decimal amounts."""
    entities = report_entities(conn, period)
    tables: dict[str, list[pd.DataFrame]] = {sheet: [] for sheet in SHEETS}
    for entity in entities["entity"]:
        # first_period = period: the month's runs and runs posted into it, not the report's history.
        params = {"entity": entity, "period": period, "first_period": period}
        for sheet, statement in SHEETS.items():
            frame = read_frame(conn, sql_text(statement), params)
            if sheet != "Runs":
                frame.insert(0, "entity", entity)
            tables[sheet].append(frame)
    return {sheet: _amounts(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame() for sheet, frames in tables.items()}


def write_period_workbook(engine: sa.Engine, period: str, path: Path) -> ExportedWorkbook:
    """Write the workbook; LookupError when the ledger holds no run for the period."""
    with engine.connect() as conn:
        tables = read_period_tables(conn, period)
    if tables["Runs"].empty:
        raise LookupError(f"no allocation runs for {period} in {describe(str(engine.url))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, frame in tables.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
            _format(writer.sheets[sheet], frame)
    return ExportedWorkbook(path=path.resolve(), rows={sheet: len(frame) for sheet, frame in tables.items()})


def _amounts(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in [c for c in out.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [None if pd.isna(v) else Decimal(int(v)).scaleb(-2) for v in out.pop(column)]
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]) and getattr(out[column].dt, "tz", None) is not None:
            out[column] = out[column].dt.tz_localize(None)  # Excel has no time zones
    return out


def _format(sheet, frame: pd.DataFrame) -> None:
    """Header frozen, filter on, money as 1,234.56, columns wide enough to read."""
    sheet.freeze_panes = "A2"
    if len(frame.columns):
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
    for index, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(index)
        values = frame[column]
        if len(values) and all(isinstance(v, Decimal) or v is None for v in values):
            for cell in sheet[letter][1:]:
                cell.number_format = MONEY_FORMAT
        width = max([len(str(column))] + [len(str(v)) for v in values.head(200)])
        sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
