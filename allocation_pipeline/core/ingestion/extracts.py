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
    try:
        with path.open(newline="", encoding="utf-8") as handle:
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
    frame = table.to_pandas()
    if not invalid:
        return frame, _empty_unreadable()
    # Data row numbers: the file's line number minus the header line.
    bad_numbers = [number - 1 for number, *_ in invalid]
    total = len(frame) + len(invalid)
    bad_set = set(bad_numbers)
    frame["__row_number"] = [n for n in range(1, total + 1) if n not in bad_set][: len(frame)]
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
    return frame, bad
