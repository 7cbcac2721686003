"""The solver's inputs, checked: every bad row of the costs and the matrix at once, then arrays to solve on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocation_pipeline.core.money import decimal_to_cents, parse_cents
from allocation_pipeline.core.multilevel.records import MultilevelError, Problem, raise_problems

# Percent sums within this of 100 count as 100: decimal percents rarely add up exactly in binary.
PERCENT_TOLERANCE = 1e-9


@dataclass
class Inputs:
    """Costs and matrix as arrays over all cost centers (`names`: costs first, then matrix-only ones)."""

    names: pd.Index
    own_cents: np.ndarray  # int64 per cost center
    src: np.ndarray  # edges that move cost: source != target and share > 0
    tgt: np.ndarray
    share: np.ndarray  # fraction of the source's total
    retention: np.ndarray  # fraction each cost center keeps (1 for those that send nothing)
    matrix_sources: np.ndarray  # bool: appears in the matrix's source column
    warnings: list[str]


def _blank(values: pd.Series | pd.Index) -> np.ndarray:
    """Missing, empty or all-blank values."""
    values = pd.Series(values, copy=False)
    blank = values.isna().to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return blank
    if isinstance(values.dtype, pd.StringDtype):
        empty = values.str.strip() == ""
        return blank | empty.to_numpy(dtype=bool, na_value=False)
    empty = [isinstance(x, str) and not x.strip() for x in values.to_numpy()]
    return blank | np.asarray(empty, dtype=bool)


def _rows(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(p) + 1) for p in positions[:10])
    return shown + (f" and {len(positions) - 10} more" if len(positions) > 10 else "")


def _amount_cents(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cents, invalid mask and missing mask for amounts given as int, float, Decimal or text."""
    n = len(values)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.zeros(n, np.int64), np.ones(n, bool), np.zeros(n, bool)
    if pd.api.types.is_numeric_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        missing = _blank(values)
        cents, invalid = parse_cents(values)
        invalid = invalid.to_numpy(dtype=bool) & ~missing
        return cents.fillna(0).to_numpy(dtype=np.int64), invalid, missing
    # Object values (Decimal, mixed): one at a time, exactly.
    cents = np.zeros(n, np.int64)
    invalid = np.zeros(n, bool)
    missing = _blank(values)
    for i, value in enumerate(values.to_numpy()):
        if missing[i]:
            continue
        try:
            if isinstance(value, (bool, np.bool_)):
                raise ValueError(value)
            cents[i] = decimal_to_cents(value)
        except (ValueError, TypeError, ArithmeticError):
            invalid[i] = True
    return cents, invalid, missing


def prepare(costs: pd.Series | Mapping, matrix: pd.DataFrame) -> Inputs:
    """Check costs and matrix (raising `MultilevelError` with every problem) and turn them into `Inputs`."""
    problems: list[Problem] = []
    if isinstance(costs, pd.DataFrame) or not isinstance(costs, (pd.Series, Mapping)):
        raise MultilevelError("costs must be a Series (or mapping) of amounts indexed by cost center")
    costs = pd.Series(costs) if not isinstance(costs, pd.Series) else costs
    if not isinstance(matrix, pd.DataFrame):
        raise MultilevelError("matrix must be a DataFrame with columns source, target, percent")
    missing_columns = [c for c in ("source", "target", "percent") if c not in matrix.columns]
    if missing_columns:
        raise_problems(
            [Problem("matrix", None, f"missing column(s) {', '.join(missing_columns)}; need source, target, percent")]
        )

    # Costs: unique, non-empty names; amounts exact to the cent.
    cost_names = pd.Index(costs.index)
    blank_name = _blank(cost_names)
    for pos in np.flatnonzero(blank_name):
        problems.append(Problem("costs", int(pos) + 1, "cost center is empty"))
    dup = cost_names.duplicated(keep=False) & ~blank_name
    if dup.any():
        for name, positions in pd.Series(np.flatnonzero(dup)).groupby(cost_names[dup], sort=False):
            rows = positions.to_numpy()
            problems.append(Problem("costs", int(rows[1]) + 1, f"cost center {name!r} appears more than once (rows {_rows(rows)})"))
    own_cents, invalid, missing = _amount_cents(costs)
    for pos in np.flatnonzero(missing & ~blank_name):
        problems.append(Problem("costs", int(pos) + 1, f"amount for {cost_names[pos]!r} is missing"))
    for pos in np.flatnonzero(invalid):
        problems.append(
            Problem(
                "costs",
                int(pos) + 1,
                f"amount {costs.iloc[pos]!r} for {cost_names[pos]!r} is not an amount with at most two decimal places",
            )
        )

    # Matrix: names present, percent a non-negative number, one row per pair, at most 100 per source.
    source = matrix["source"].reset_index(drop=True)
    target = matrix["target"].reset_index(drop=True)
    raw_percent = matrix["percent"].reset_index(drop=True)
    # One factorize over all names: costs first, so names keep the costs' order, then first appearance.
    # Blank names are checked once per distinct name, not once per row.
    every = pd.concat([pd.Series(cost_names, copy=False), source, target], ignore_index=True)
    codes, uniques = pd.factorize(every)
    names = pd.Index(uniques, name="cost_center")
    blank_code = np.r_[_blank(pd.Series(uniques, copy=False)), True]  # code -1 (missing) is blank too
    k, m = len(cost_names), len(source)
    src, tgt = codes[k : k + m].astype(np.int64), codes[k + m :].astype(np.int64)
    bad_source, bad_target = blank_code[src], blank_code[tgt]
    for pos in np.flatnonzero(bad_source):
        problems.append(Problem("matrix", int(pos) + 1, "source is empty"))
    for pos in np.flatnonzero(bad_target):
        problems.append(Problem("matrix", int(pos) + 1, "target is empty"))
    if pd.api.types.is_bool_dtype(raw_percent.dtype):
        percent = np.full(len(raw_percent), np.nan)
    else:
        percent = pd.to_numeric(raw_percent, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    blank_percent = _blank(raw_percent)
    bad_percent = ~np.isfinite(percent)
    for pos in np.flatnonzero(bad_percent):
        what = "percent is empty" if blank_percent[pos] else f"percent {raw_percent.iloc[pos]!r} is not a number"
        problems.append(Problem("matrix", int(pos) + 1, what))
    negative = np.isfinite(percent) & (percent < 0)
    for pos in np.flatnonzero(negative):
        problems.append(Problem("matrix", int(pos) + 1, f"percent {raw_percent.iloc[pos]!r} is negative"))
    usable = ~(bad_source | bad_target | bad_percent | negative)

    valid = usable

    pair = src * len(names) + tgt
    dup_pair = np.zeros(len(pair), bool)
    sorted_pairs = np.sort(pair[valid])
    if (sorted_pairs[1:] == sorted_pairs[:-1]).any():  # rare: only then find and name them
        dup_pair[valid] = pd.Series(pair[valid]).duplicated(keep=False).to_numpy()
    if dup_pair.any():
        positions = np.flatnonzero(dup_pair)
        for _, group in pd.Series(positions).groupby(pair[positions], sort=False):
            rows = group.to_numpy()
            problems.append(
                Problem(
                    "matrix",
                    int(rows[1]) + 1,
                    f"source {source.iloc[rows[0]]!r}, target {target.iloc[rows[0]]!r} appears more than once (rows {_rows(rows)})",
                )
            )
    n = len(names)
    sums = np.bincount(src[valid], weights=percent[valid], minlength=n)
    for i in np.flatnonzero(sums > 100 + PERCENT_TOLERANCE):
        rows = np.flatnonzero(valid & (src == i))
        problems.append(
            Problem("matrix", None, f"source {names[i]!r}: percents sum to {sums[i]:.10g}, more than 100 (rows {_rows(rows)})")
        )
    if problems:
        raise_problems(problems)

    own = np.zeros(n, np.int64)
    own[: len(cost_names)] = own_cents
    moving = valid & (src != tgt) & (percent > 0)
    src_m, tgt_m, share = src[moving], tgt[moving], percent[moving] / 100.0
    out = np.bincount(src_m, weights=share, minlength=n)
    over = out > 1.0
    if over.any():  # within the tolerance: scale so nothing is created from rounding noise
        share = share / np.where(over, out, 1.0)[src_m]
        out = np.minimum(out, 1.0)
    retention = 1.0 - out
    matrix_sources = np.zeros(n, bool)
    matrix_sources[src[valid]] = True

    notes = []
    receives = np.zeros(n, bool)
    receives[tgt_m] = True
    dead = np.flatnonzero((out > 0) & (own == 0) & ~receives)
    if dead.size:
        listed = ", ".join(repr(names[i]) for i in dead[:10]) + (f" and {dead.size - 10} more" if dead.size > 10 else "")
        notes.append(f"source(s) {listed} have no own cost and receive nothing: their matrix rows move nothing (check the names)")
    return Inputs(names, own, src_m.astype(np.int64), tgt_m.astype(np.int64), share, retention, matrix_sources, notes)
