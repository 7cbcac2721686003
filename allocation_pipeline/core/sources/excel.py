"""Excel sources: a sheet of an .xlsx workbook read as an extract (openpyxl), each row placed by
its worksheet row so every quarantine reason can name the cell, e.g. headcount.xlsx!Sheet1!C7."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.sources.config import ExcelSource, SourcesError


def read_excel_extract(
    source: ExcelSource, root: Path | str, extract: str, required: list[str], optional: list[str] = ()
) -> tuple[RawExtract, dict[str, str]]:
    """The sheet's rows as text columns, `source_file` = `workbook!sheet`, `row_number` = the
    worksheet row; and the column letter of each extract column (for naming cells).

    Blank rows are skipped. A missing workbook or sheet, merged header cells, a duplicate or
    missing header fail with SourcesError naming the workbook, sheet and what is wrong.
    """
    path = Path(root) / source.workbook
    where = f"{extract} (excel {source.workbook})"
    if not path.is_file():
        raise SourcesError(where, "workbook not found")
    try:
        # Not read-only: merged cells are only known to a fully loaded sheet. Formulas give
        # their last computed value, as Excel saved it.
        book = openpyxl.load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourcesError(where, f"not a readable .xlsx workbook ({exc})") from None
    try:
        if source.sheet is None:
            sheet = book.worksheets[0]
        elif source.sheet in book.sheetnames:
            sheet = book[source.sheet]
        else:
            raise SourcesError(where, f"no sheet '{source.sheet}' (sheets: {', '.join(book.sheetnames)})")
        place = f"{source.workbook}!{sheet.title}"
        where = f"{extract} (excel {place})"
        header_row = source.header_row
        merged = [str(r) for r in sheet.merged_cells.ranges if r.min_row <= header_row <= r.max_row]
        if merged:
            raise SourcesError(where, f"merged header cell(s) {', '.join(merged)} in row {header_row}; unmerge them so each column has one header")
        if sheet.max_row < header_row:
            raise SourcesError(where, f"no header in row {header_row}: the sheet ends at row {sheet.max_row}")
        headers = {}
        for cell in sheet[header_row]:
            text = _text(cell.value)
            if text is None:
                continue
            if text in headers:
                raise SourcesError(where, f"header '{text}' appears twice in row {header_row} ({get_column_letter(headers[text])}, {cell.column_letter})")
            headers[text] = cell.column
        mapped = {column: source.columns.get(column, column) for column in list(required) + list(optional)}
        unknown = sorted(set(source.columns) - set(mapped))
        if unknown:
            raise SourcesError(where, f"'columns' maps {', '.join(unknown)}, which {extract} does not have (columns: {', '.join(mapped)})")
        missing = [c + (f" (header '{mapped[c]}')" if mapped[c] != c else "") for c in required if mapped[c] not in headers]
        if missing:
            raise SourcesError(where, f"missing column(s) {', '.join(missing)} in header row {header_row} (found: {', '.join(headers) or 'none'})")
        positions = {column: headers[name] for column, name in mapped.items() if name in headers}
        records, rows = [], []
        for number, values in enumerate(sheet.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1):
            texts = {column: _text(values[index - 1]) if index - 1 < len(values) else None for column, index in positions.items()}
            if all(v is None for v in texts.values()):
                continue
            records.append(texts)
            rows.append(number)
    finally:
        book.close()
    frame = pd.DataFrame.from_records(records, columns=list(positions)) if records else pd.DataFrame({c: [] for c in positions})
    frame = frame.astype("string")
    for column in mapped:
        if column not in frame:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame[list(mapped)]
    if "period" in frame:
        frame["period"] = frame["period"].str.replace(r"^(\d{4}-\d{2})-01$", r"\1", regex=True)
    frame["source_file"] = place
    frame["row_number"] = pd.Series(rows, dtype="int64")
    letters = {column: get_column_letter(index) for column, index in positions.items()}
    return RawExtract(extract=extract, frame=frame, files=[place]), letters


def name_cells(quarantine: pd.DataFrame, place: str, letters: dict[str, str]) -> pd.DataFrame:
    """Quarantine rows of the sheet `place` with the cell in the reason: `... (cell book!Sheet!C7)`;
    a problem of the whole row names the row's span, e.g. `book!Sheet!A7:C7`."""
    if quarantine.empty or not letters:
        return quarantine
    mine = quarantine["source_file"] == place
    if not mine.any():
        return quarantine
    span = sorted(letters.values(), key=lambda letter: (len(letter), letter))
    whole = f"{span[0]}{{row}}:{span[-1]}{{row}}"
    cells = [
        (letters[c] + str(r)) if isinstance(c, str) and c in letters else whole.format(row=r)
        for c, r in zip(quarantine.loc[mine, "column"].astype(object), quarantine.loc[mine, "row_number"])
    ]
    out = quarantine.copy()
    out.loc[mine, "reason"] = [f"{reason} (cell {place}!{cell})" for reason, cell in zip(out.loc[mine, "reason"], cells)]
    return out


def _text(value) -> str | None:
    """A cell as the text a CSV extract would hold: dates ISO, whole numbers without .0, booleans true/false."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


