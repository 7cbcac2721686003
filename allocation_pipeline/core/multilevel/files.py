"""Multi-level allocation files: read costs and matrix CSVs, solve, write results; errors name file, row and problem."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from allocation_pipeline.core.money import cents_to_text
from allocation_pipeline.core.multilevel.records import MultilevelError, MultilevelResult, Problem
from allocation_pipeline.core.multilevel.solver import solve

COSTS_COLUMNS = ("cost_center", "amount")
MATRIX_COLUMNS = ("source", "target", "percent")
ROW_NOTE = "row numbers count data rows from 1; the header is not counted"


class MultilevelFileError(MultilevelError):
    """A file that cannot be read or holds bad rows; the message names the file, the row and the problem."""


def _read(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise MultilevelFileError(f"{path}: no such file", [Problem(str(path), None, "no such file")])
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        message = f"the file is empty; expected a header {','.join(columns)}"
        raise MultilevelFileError(f"{path}: {message}", [Problem(str(path), None, message)]) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise MultilevelFileError(f"{path}: {message}", [Problem(str(path), None, message)]) from None
    except (pd.errors.ParserError, csv.Error) as exc:
        message = f"not a readable CSV file: {str(exc).strip()}"
        raise MultilevelFileError(f"{path}: {message}", [Problem(str(path), None, message)]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        message = (
            f"the header has no column {', '.join(missing)} (expected {','.join(columns)}; "
            f"found {','.join(frame.columns) or 'nothing'})"
        )
        raise MultilevelFileError(f"{path}: {message}", [Problem(str(path), None, message)])
    frame = frame[list(columns)]
    for column in columns:
        frame[column] = frame[column].str.strip()
    return frame.reset_index(drop=True)


def read_costs(path: str | Path) -> pd.Series:
    """COSTS.csv (cost_center,amount) as amounts (text, checked by `solve`) indexed by cost center."""
    frame = _read(path, COSTS_COLUMNS)
    return pd.Series(frame["amount"].to_numpy(), index=pd.Index(frame["cost_center"], name="cost_center"), name="amount")


def read_matrix(path: str | Path) -> pd.DataFrame:
    """MATRIX.csv (source,target,percent) as text columns, checked by `solve`."""
    return _read(path, MATRIX_COLUMNS)


def _locate(problem: Problem, files: Mapping[str, str]) -> str:
    where = files.get(problem.table, "--" + problem.table if problem.table in ("order", "method") else problem.table)
    if problem.row is None:
        return f"{where}: {problem.message}"
    label = "item" if problem.table == "order" else "row"
    return f"{where}: {label} {problem.row}: {problem.message}"


def solve_files(
    costs_path: str | Path,
    matrix_path: str | Path,
    method: str = "reciprocal",
    order: Sequence[str] | None = None,
    *,
    trace_origin: bool = True,
    **options,
) -> MultilevelResult:
    """Read both files and solve; any problem becomes one `MultilevelFileError` naming file, row and problem."""
    costs = read_costs(costs_path)
    matrix = read_matrix(matrix_path)
    try:
        return solve(costs, matrix, method, order, trace_origin=trace_origin, **options)
    except MultilevelError as exc:
        files = {"costs": str(costs_path), "matrix": str(matrix_path)}
        if not exc.problems:
            raise MultilevelFileError(str(exc)) from None
        lines = [_locate(p, files) for p in exc.problems[:20]]
        if len(exc.problems) > 20:
            lines.append(f"... and {len(exc.problems) - 20} more")
        if any(p.row is not None and p.table in files for p in exc.problems):
            lines.append(f"({ROW_NOTE})")
        error = MultilevelFileError("\n  ".join(lines), exc.problems)
        raise error from None


def result_frame(result: MultilevelResult) -> pd.DataFrame:
    """RESULT.csv content: cost_center, own, received, total, final as exact two-place text.

    own and final are the exact cents; total is rounded to the cent and received = total - own.
    """
    own = result.own_cents.to_numpy(dtype=np.int64)
    total = np.round(result.total.to_numpy(dtype=np.float64) * 100).astype(np.int64)
    index = result.own_cents.index
    as_text = lambda cents: cents_to_text(pd.Series(cents, index=index)).to_numpy()  # noqa: E731
    return pd.DataFrame(
        {
            "cost_center": index.to_numpy(),
            "own": as_text(own),
            "received": as_text(total - own),
            "total": as_text(total),
            "final": as_text(result.final_cents.to_numpy(dtype=np.int64)),
        }
    )


def origin_frame(result: MultilevelResult) -> pd.DataFrame:
    """ORIGIN.csv content: cost_center, origin, amount (exact cents as text), nonzero rows only."""
    if result.by_origin is None:
        raise ValueError("this result was solved without origin tracing")
    frame = result.by_origin
    return pd.DataFrame(
        {
            "cost_center": frame["cost_center"].to_numpy(),
            "origin": frame["origin"].to_numpy(),
            "amount": cents_to_text(frame["amount_cents"]).to_numpy(),
        }
    )


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame as CSV; an unwritable path is a `MultilevelFileError` naming it."""
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        message = f"cannot write: {exc.strerror or exc}"
        raise MultilevelFileError(f"{path}: {message}", [Problem(str(path), None, message)]) from None
