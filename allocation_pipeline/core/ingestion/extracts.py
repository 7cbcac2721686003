"""Finding and reading extract files (CSV or Parquet) with messages that name the file and the problem."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

SUFFIXES = (".csv", ".parquet")


class ExtractError(Exception):
    """An extract that cannot be used at all: missing, unreadable or with the wrong columns."""

    def __init__(self, location: str, problem: str):
        super().__init__(f"{location}: {problem}")
        self.location = location
        self.problem = problem


@dataclass
class RawExtract:
    """The rows of one extract as read, before any validation.

    `frame` holds the file columns plus `source_file` (path relative to the extracts directory)
    and `row_number` (1-based data row within that file, header not counted). `unreadable` lists
    rows the CSV parser could not split into the header's columns, as quarantine rows; they are
    counted in `rows_in`, so nothing read is lost.
    """

    extract: str
    frame: pd.DataFrame
    files: list[str]
    unreadable: pd.DataFrame = field(default_factory=lambda: _empty_unreadable())

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.unreadable)


def _empty_unreadable() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "extract": pd.Series(dtype=str),
            "source_file": pd.Series(dtype=str),
            "row_number": pd.Series(dtype="int64"),
            "column": pd.Series(dtype=str),
            "value": pd.Series(dtype=str),
            "reason": pd.Series(dtype=str),
        }
    )


def find_extract_files(extracts_dir: Path | str, extract: str, period: str | None = None) -> list[Path]:
    """The files holding `extract`: `<name>.csv`, `<name>.parquet`, or a folder `<name>/` of them.

    In a folder, a file named after a period (`2026-03.csv`) holds that period only, so when
    `period` is given and such files exist, only the matching one is returned.
    """
    root = Path(extracts_dir)
    if not root.is_dir():
        raise ExtractError(str(root), "extracts directory does not exist")
    singles = [root / f"{extract}{suffix}" for suffix in SUFFIXES if (root / f"{extract}{suffix}").is_file()]
    folder = root / extract
    candidates = singles + ([folder] if folder.is_dir() else [])
    if not candidates:
        raise ExtractError(
            str(root / extract), f"extract '{extract}' not found (expected {extract}.csv, {extract}.parquet or a folder {extract}/)"
        )
    if len(candidates) > 1:
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in candidates)
        raise ExtractError(str(root / extract), f"extract '{extract}' is ambiguous: found {names}; keep one")
    if singles:
        return singles
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise ExtractError(f"{folder}/", "folder holds no .csv or .parquet file")
    period_files = [p for p in files if _looks_like_period(p.stem)]
    if period is not None and period_files:
        matching = [p for p in period_files if p.stem == period]
        if not matching:
            found = ", ".join(p.stem for p in period_files[:3]) + (" ..." if len(period_files) > 3 else "")
            raise ExtractError(f"{folder}/", f"no file for period {period} (found periods {found})")
        if len(matching) > 1:
            raise ExtractError(f"{folder}/", f"period {period} is in both {matching[0].name} and {matching[1].name}")
        return matching
    return files


def _file_columns(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if c not in ("source_file", "row_number", "__row_number")]


def _looks_like_period(stem: str) -> bool:
    return len(stem) == 7 and stem[4] == "-" and stem[:4].isdigit() and stem[5:].isdigit()


def read_extract(
    extracts_dir: Path | str,
    extract: str,
    required: list[str],
    optional: list[str] = (),
    period: str | None = None,
) -> RawExtract:
    """Read an extract; fail with ExtractError if a file is unreadable or lacks required columns."""
    root = Path(extracts_dir)
    frames: list[pd.DataFrame] = []
    unreadable: list[pd.DataFrame] = []
    files = find_extract_files(root, extract, period)
    for path in files:
        name = str(path.relative_to(root))
        frame, bad = _read_file(path, name, extract, required)
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ExtractError(
                name, f"missing required column(s) {', '.join(missing)} (found: {', '.join(_file_columns(frame)) or 'none'})"
            )
        for column in optional:
            if column not in frame.columns:
                frame[column] = pd.Series(pd.NA, index=frame.index, dtype="string")
        frame = frame[list(required) + list(optional) + ["source_file", "row_number"]]
        frames.append(frame)
        unreadable.append(bad)
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    bad_rows = pd.concat(unreadable, ignore_index=True) if unreadable else _empty_unreadable()
    return RawExtract(extract=extract, frame=combined, files=[str(p.relative_to(root)) for p in files], unreadable=bad_rows)


def _read_file(path: Path, name: str, extract: str, required: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    if path.suffix == ".parquet":
        try:
            frame = pq.read_table(path).to_pandas()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise ExtractError(name, f"not a readable Parquet file ({exc})") from exc
        bad = _empty_unreadable()
    else:
        frame, bad = _read_csv(path, name, extract)
    frame["source_file"] = name
    frame["row_number"] = frame.pop("__row_number") if "__row_number" in frame else pd.RangeIndex(1, len(frame) + 1)
    return frame, bad


def _read_csv(path: Path, name: str, extract: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    table, bad = _read_csv_arrow(path, name, extract)
    frame = table.to_pandas()
    if "__row_number" in frame:
        frame["__row_number"] = frame["__row_number"].astype("int64")
    return frame, bad


def _read_csv_arrow(path: Path, name: str, extract: str) -> tuple[pa.Table, pd.DataFrame]:
    """Every column as text, plus `__row_number` when some rows could not be split (see below)."""
    try:
        # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column's name.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise ExtractError(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not header or all(not h.strip() for h in header):
        raise ExtractError(name, "empty file: no header row")
    header = [h.strip() for h in header]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ExtractError(name, f"duplicate column name(s) in header: {', '.join(duplicates)}")
    types = {column: pa.string() for column in header}
    invalid: list[tuple[int | None, str, int, int]] = []

    def keep_invalid(row) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=keep_invalid),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    try:
        table = read(use_threads=True)
        if invalid:
            # Line numbers of bad rows are only known when reading on one thread.
            invalid.clear()
            table = read(use_threads=False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ExtractError(name, f"not a parseable CSV file ({exc})") from exc
    if not invalid:
        return table, _empty_unreadable()
    # Data row numbers: the file's line number minus the header line.
    bad_numbers = [number - 1 for number, *_ in invalid]
    total = table.num_rows + len(invalid)
    bad_set = set(bad_numbers)
    numbers = [n for n in range(1, total + 1) if n not in bad_set][: table.num_rows]
    table = table.append_column("__row_number", pa.array(numbers, pa.int64()))
    bad = pd.DataFrame(
        {
            "extract": extract,
            "source_file": name,
            "row_number": pd.Series(bad_numbers, dtype="int64"),
            "column": pd.Series([None] * len(invalid), dtype="string"),
            "value": [text[:200] for _, text, _, _ in invalid],
            "reason": [f"row has {actual} field(s), the header has {expected}" for _, _, expected, actual in invalid],
        }
    )
    return table, bad


# --- extracts read into an engine (Ibis) ------------------------------------------------------------

# The key of a raw row: the file (or other source) it came from and its 1-based data row there.
ROW_KEY_COLUMNS = ("source_file", "row_number")


@dataclass
class RawTable:
    """The rows of one extract as an Ibis table in the engine, before any validation.

    `table` has every extract column as text (NULL where a Parquet value is null; an empty CSV
    field is ''), plus the row key `source_file` (text) and `row_number` (int64, 1-based). Any
    source that can give rows this shape (a file, a SQL query) can be cleaned by
    `core.ingestion.line_cleaning.clean_lines`. `unreadable` as in RawExtract.
    """

    extract: str
    table: object  # ibis.Table
    files: list[str]
    unreadable: pd.DataFrame = field(default_factory=lambda: _empty_unreadable())


def read_extract_table(
    backend,
    extracts_dir: Path | str,
    extract: str,
    required: list[str],
    optional: list[str] = (),
    period: str | None = None,
) -> RawTable:
    """Read an extract's files (CSV or Parquet) into the engine `backend` (an Ibis backend) as one
    raw table; fail with ExtractError if a file is unreadable or lacks required columns.

    DuckDB reads Parquet files itself (with their row numbers); other files, and every file for
    other engines, are read as Arrow record batches and handed to the engine (PostgreSQL: COPY in
    chunks into a temporary table; Spark and others: Ibis's in-memory table upload)."""
    import ibis

    root = Path(extracts_dir)
    files = find_extract_files(root, extract, period)
    columns = list(required) + list(optional)
    parts, unreadable = [], []
    for path in files:
        name = str(path.relative_to(root))
        if path.suffix == ".parquet":
            try:
                found = pq.read_schema(path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise ExtractError(name, f"not a readable Parquet file ({exc})") from exc
            _check_columns(name, list(found.names), required)
            if backend.name == "duckdb":
                parts.append(_duckdb_parquet(backend, path, name, found, columns))
                continue
            arrow = _text_columns(pq.read_table(path), columns)
            bad = _empty_unreadable()
        else:
            table, bad = _read_csv_arrow(path, name, extract)
            _check_columns(name, [c for c in table.column_names if c != "__row_number"], required)
            arrow = _text_columns(table, columns)
            numbers = table["__row_number"] if "__row_number" in table.column_names else pa.array(range(1, table.num_rows + 1), pa.int64())
            arrow = arrow.append_column("source_file", pa.array([name] * table.num_rows, pa.string()))
            arrow = arrow.append_column("row_number", numbers)
            parts.append(upload_raw_rows(backend, arrow))
            unreadable.append(bad)
            continue
        arrow = arrow.append_column("source_file", pa.array([name] * arrow.num_rows, pa.string()))
        arrow = arrow.append_column("row_number", pa.array(range(1, arrow.num_rows + 1), pa.int64()))
        parts.append(upload_raw_rows(backend, arrow))
        unreadable.append(bad)
    table = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    bad_rows = pd.concat(unreadable, ignore_index=True) if unreadable else _empty_unreadable()
    return RawTable(extract=extract, table=table, files=[str(p.relative_to(root)) for p in files], unreadable=bad_rows)


def _check_columns(name: str, found: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        shown = [c for c in found if c not in ("source_file", "row_number", "__row_number")]
        raise ExtractError(name, f"missing required column(s) {', '.join(missing)} (found: {', '.join(shown) or 'none'})")


def _text_columns(table: pa.Table, columns: list[str]) -> pa.Table:
    """The extract's columns as text (absent optional ones as nulls); dates as YYYY-MM-DD."""
    import pyarrow.compute as pc

    arrays = []
    for column in columns:
        if column not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, pa.string()))
            continue
        values = table[column]
        if pa.types.is_timestamp(values.type):
            values = pc.cast(values, pa.date32())
        if pa.types.is_boolean(values.type):
            values = pc.if_else(values, "true", "false")
        arrays.append(pc.cast(values, pa.string()))
    return pa.table(arrays, names=columns)


def _duckdb_parquet(backend, path: Path, name: str, schema: pa.Schema, columns: list[str]):
    """DuckDB scans the file itself (no copy through Python); `file_row_number` is 0-based."""
    import ibis
    import ibis.expr.datatypes as dt

    table = backend.read_parquet(str(path), file_row_number=True)
    selected = {}
    for column in columns:
        if column not in schema.names:
            selected[column] = ibis.null(dt.string)
            continue
        value = table[column]
        if value.type().is_timestamp():
            value = value.cast(dt.date)
        if value.type().is_boolean():
            value = value.ifelse("true", "false")
        selected[column] = value.cast(dt.string)
    selected["source_file"] = ibis.literal(name, dt.string)
    selected["row_number"] = (table["file_row_number"] + 1).cast(dt.int64)
    return table.select(**selected)


def upload_raw_rows(backend, arrow: pa.Table):
    """An Arrow table of raw rows as a table in the engine."""
    import ibis

    if backend.name == "postgres":
        from allocation_pipeline.warehouse.bulk import copy_arrow_to_temp_table

        return copy_arrow_to_temp_table(backend, arrow)
    if backend.name == "pyspark":
        # A temporary view of the session; an unbound memtable would run on Ibis's default backend.
        import uuid

        name = f"raw_{uuid.uuid4().hex[:12]}"
        backend._session.createDataFrame(arrow.to_pandas()).createOrReplaceTempView(name)
        return backend.table(name)
    return ibis.memtable(arrow)
