"""Multi-level allocation between cost centers that both send and receive cost, solved exactly per strongly connected component."""

from __future__ import annotations

import difflib
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import lapack
from scipy.sparse.csgraph import connected_components

from allocation_pipeline.core.money import decimal_to_cents, largest_remainder, parse_cents

METHODS = ("reciprocal", "step-down", "direct", "iterative")

# Percent sums within this of 100 count as 100: decimal percents rarely add up exactly in binary.
PERCENT_TOLERANCE = 1e-9
# A cycle none of whose members keeps, or sends out of the cycle, more than this share is closed.
CLOSED_LEAK = 1e-12
# Components up to this size are inverted together, in stacks; up to DENSE_COMPONENT one dense LU
# each; bigger ones (rare: a whole graph that is one cycle) with a Krylov method to a relative
# residual of KRYLOV_TOLERANCE, where an LU would fill in.
SMALL_COMPONENT = 32
DENSE_COMPONENT = 4000
KRYLOV_TOLERANCE = 1e-12
# Rows of problems spelled out in an error message; the rest are counted.
MESSAGE_PROBLEMS = 20


# --- errors and records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs.

    `table` is "costs", "matrix", "order" or "method"; `row` is the 1-based position of the
    offending row in that table (for a file read by `multilevel_files`, the data row with the
    header not counted), or None when the problem concerns several rows or the table as a whole.
    """

    table: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = self.table if self.row is None else f"{self.table} row {self.row}"
        return f"{where}: {self.message}"


class MultilevelError(ValueError):
    """Bad inputs or an unsolvable matrix; `problems` lists every problem found, not just the first."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems: tuple[Problem, ...] = tuple(problems)


class ClosedCycleError(MultilevelError):
    """Cost centers that pass all their cost among themselves: it can never reach one that keeps it.

    `cycles` holds the cost centers of each closed cycle.
    """

    def __init__(self, message: str, problems: Sequence[Problem], cycles: Sequence[tuple]):
        super().__init__(message, problems)
        self.cycles: tuple[tuple, ...] = tuple(tuple(c) for c in cycles)


class MultilevelWarning(UserWarning):
    """A result that is computed but deserves a look: ill-conditioned cycle, no convergence, dead source."""


def _raise(problems: list[Problem], headline: str = "invalid multi-level inputs") -> None:
    tables = {"costs": 0, "matrix": 1, "order": 2}
    problems = sorted(problems, key=lambda p: (tables.get(p.table, 3), p.row is None, p.row or 0))
    lines = [str(p) for p in problems[:MESSAGE_PROBLEMS]]
    if len(problems) > MESSAGE_PROBLEMS:
        lines.append(f"... and {len(problems) - MESSAGE_PROBLEMS} more")
    raise MultilevelError(f"{headline}:\n  " + "\n  ".join(lines), problems)


# --- the result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultilevelResult:
    """What a multi-level solve produced. Every Series is indexed by cost center (named `cost_center`),
    in input order: the cost centers of `costs`, then those only in the matrix, by first appearance.

    Exact money (what gets posted) is in the `*_cents` fields, int64 cents:
    - `own_cents`: own cost before allocation.
    - `final_cents`: cost each center ends with; sums exactly to `own_cents.sum()`. Each final is
      within one cent of the exact solution (largest-remainder rounding of the whole vector).
    - `by_origin["amount_cents"]`: per cost center, its final split by the cost center where each
      part started; the parts of one cost center sum exactly to its `final_cents`.
    The float fields `own`, `final`, `by_origin["amount"]` are the same cents divided by 100 (currency
    units, for people and plots). `total` and `received` are floats rounded to cents: they are
    intermediate quantities and are not adjusted to sum to anything.

    Numerical honesty: `residual` is the largest absolute residual of `total = own + S^T total`
    (currency units) on the solved matrix, `relative_residual` that over the largest total.
    `cycles` lists each cyclic component with its size, solver and condition estimate (1-norm; for
    Krylov-solved giants an upper bound, or NaN), `cycle_members` their cost centers;
    `warnings` holds every warning raised during the solve (also emitted as `MultilevelWarning`).
    """

    method: str
    own_cents: pd.Series
    final_cents: pd.Series
    total: pd.Series
    """Own cost plus everything received, under the method (floats rounded to cents)."""
    retention: pd.Series
    """Share of its total each cost center keeps under the method (1 for those that send nothing)."""
    by_origin: pd.DataFrame | None
    """cost_center, origin, amount, amount_cents; nonzero rows only; None when not traced."""
    residual: float
    relative_residual: float
    cycles: pd.DataFrame
    """One row per cycle (cyclic component): component, size, solver ("stacked", "dense", "krylov"), condition."""
    cycle_members: pd.DataFrame
    """component, cost_center: the members of each cycle in `cycles`."""
    warnings: tuple[str, ...]
    order: tuple | None = None
    """Step-down only: the order in which sources closed."""
    iterations: pd.DataFrame | None = None
    """Iterative only: iteration, cost_center, received (in that pass), cumulative; nonzero rows only."""
    iteration_count: int | None = None
    """Iterative only: passes run."""
    converged: bool | None = None
    """Iterative only: whether the last pass moved no more than the tolerance."""
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds per phase: validate, structure (components, factorizations), solve, round, origins."""

    @property
    def own(self) -> pd.Series:
        """Own cost in currency units (exact cents / 100)."""
        return (self.own_cents / 100).rename("own")

    @property
    def final(self) -> pd.Series:
        """Final cost in currency units (exact cents / 100)."""
        return (self.final_cents / 100).rename("final")

    @property
    def received(self) -> pd.Series:
        """Cost received from other cost centers: total - own, rounded to cents."""
        return (self.total - self.own).round(2).rename("received")

    @property
    def condition(self) -> float | None:
        """Largest condition estimate over the cyclic components; None when there is no cycle."""
        return float(self.cycles["condition"].max()) if len(self.cycles) else None

    def to_frame(self) -> pd.DataFrame:
        """One row per cost center: cost_center, own, received, total, final (currency units)."""
        frame = pd.DataFrame(
            {"own": self.own, "received": self.received, "total": self.total, "final": self.final}
        )
        return frame.rename_axis("cost_center").reset_index()


# --- inputs -----------------------------------------------------------------------------------------


@dataclass
class _Inputs:
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


def _prepare(costs: pd.Series | Mapping, matrix: pd.DataFrame) -> _Inputs:
    problems: list[Problem] = []
    if isinstance(costs, pd.DataFrame) or not isinstance(costs, (pd.Series, Mapping)):
        raise MultilevelError("costs must be a Series (or mapping) of amounts indexed by cost center")
    costs = pd.Series(costs) if not isinstance(costs, pd.Series) else costs
    if not isinstance(matrix, pd.DataFrame):
        raise MultilevelError("matrix must be a DataFrame with columns source, target, percent")
    missing_columns = [c for c in ("source", "target", "percent") if c not in matrix.columns]
    if missing_columns:
        _raise(
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
        _raise(problems)

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
    return _Inputs(names, own, src_m.astype(np.int64), tgt_m.astype(np.int64), share, retention, matrix_sources, notes)


# --- structure: components in topological order ------------------------------------------------------


def _component_levels(ncomp: int, cu: np.ndarray, cv: np.ndarray) -> np.ndarray:
    """Longest-path level of each component in the condensation DAG (Kahn's algorithm, one numpy pass per level)."""
    level = np.zeros(ncomp, np.int64)
    if cu.size == 0:
        return level
    order = np.argsort(cu, kind="stable")
    successors = cv[order]
    ptr = np.zeros(ncomp + 1, np.int64)
    np.cumsum(np.bincount(cu, minlength=ncomp), out=ptr[1:])
    indegree = np.bincount(cv, minlength=ncomp)
    frontier = np.flatnonzero(indegree == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        starts = ptr[frontier]
        counts = ptr[frontier + 1] - starts
        total = int(counts.sum())
        if not total:
            break
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
        reached = successors[offsets]
        np.subtract.at(indegree, reached, 1)
        frontier = np.unique(reached[indegree[reached] == 0])
        depth += 1
    return level


class _Structure:
    """The sending cost centers (those with a share > 0 to another), their components and solve plan.

    Cost centers that send nothing are leaves: their totals follow from the senders' in one product,
    so the component solve runs on the senders only. Positions are "local" (index into `senders`)
    or "perm" (components sorted by level, so each component and each level is a contiguous range).
    """

    def __init__(self, names: pd.Index, src: np.ndarray, tgt: np.ndarray, share: np.ndarray):
        self.names = names
        n = len(names)
        self.n = n
        sending = np.zeros(n, bool)
        sending[src] = True
        self.senders = np.flatnonzero(sending)
        p = self.p = len(self.senders)
        local = np.full(n, -1, np.int64)
        local[self.senders] = np.arange(p)
        self.local = local
        ls, lt = local[src], local[tgt]
        inner = lt >= 0
        u, v, w = ls[inner], lt[inner], share[inner]
        self.edges = (u, v, w)
        # Leaves' inflow: (global target, local source) so totals of leaves = own + leaf_in @ x.
        self.leaf_in = sp.csr_array((share[~inner], (tgt[~inner], ls[~inner])), shape=(n, p))

        # Inflow in local order (row = receiver): the passes' matrix; strong components do not
        # care about edge direction, so it serves the decomposition too.
        self.inflow_local = sp.csr_array((w, (v, u)), shape=(p, p))
        ncomp, lab = (
            connected_components(self.inflow_local, directed=True, connection="strong") if p else (0, np.zeros(0, int))
        )
        lab = lab.astype(np.int64)
        self.ncomp, self.lab = ncomp, lab
        self.sizes = np.bincount(lab, minlength=ncomp)
        cross = lab[u] != lab[v]
        self.comp_level = _component_levels(ncomp, lab[u][cross], lab[v][cross])
        inside = ~cross
        self.internal = np.bincount(u[inside], weights=w[inside], minlength=p)  # share kept inside own component

        node_level = self.comp_level[lab]
        self.perm = np.argsort(node_level * max(ncomp, 1) + lab, kind="stable")
        pos = np.empty(p, np.int64)
        pos[self.perm] = np.arange(p)
        self.pos = pos
        sorted_level = node_level[self.perm]
        self.level_ptr = np.searchsorted(sorted_level, np.arange(int(sorted_level.max()) + 2 if p else 1))
        sorted_lab = lab[self.perm]
        boundary = np.flatnonzero(np.r_[True, sorted_lab[1:] != sorted_lab[:-1]]) if p else np.zeros(0, np.int64)
        self.comp_start = np.zeros(ncomp, np.int64)
        self.comp_start[sorted_lab[boundary]] = boundary
        self._plan = None
        self.cycles = pd.DataFrame(
            {
                "component": pd.Series(dtype=np.int64),
                "size": pd.Series(dtype=np.int64),
                "solver": pd.Series(dtype=object),
                "condition": pd.Series(dtype=np.float64),
            }
        )
        self.cycle_members = pd.DataFrame({"component": pd.Series(dtype=np.int64), "cost_center": pd.Series(dtype=object)})

    # Closed cycles --------------------------------------------------------------------------------

    def closed_cycles(self) -> list[np.ndarray]:
        """Global indices of the members of each cyclic component that keeps and releases nothing."""
        leak = 1.0 - self.internal  # retention plus shares to leaves and to other components
        most = np.zeros(self.ncomp)
        np.maximum.at(most, self.lab, leak)
        closed = np.flatnonzero((self.sizes > 1) & (most <= CLOSED_LEAK))
        return [self.senders[self.lab == c] for c in closed]

    def raise_if_closed(self) -> None:
        cycles = self.closed_cycles()
        if not cycles:
            return
        problems, members = [], []
        for idx in cycles:
            names = tuple(self.names[idx])
            members.append(names)
            shown = ", ".join(repr(x) for x in names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
            problems.append(
                Problem(
                    "matrix",
                    None,
                    f"closed cycle: {shown} pass all of their cost among themselves and none keeps any, "
                    "so it never reaches a cost center that keeps it (give one of them a retention or a target outside the cycle)",
                )
            )
        lines = [str(p) for p in problems[:MESSAGE_PROBLEMS]]
        raise ClosedCycleError("nothing posted:\n  " + "\n  ".join(lines), problems, members)

    # Solve plan -----------------------------------------------------------------------------------

    def plan(self, condition_limit: float) -> list[str]:
        """Factorize the cyclic components and lay out the solve steps; returns ill-conditioning warnings.

        Small cycles (up to SMALL_COMPONENT cost centers) are inverted in stacks, one batched inverse
        per size, which also gives their exact 1-norm condition; their inverses form one
        block-diagonal matrix `inverse` (identity elsewhere), so a whole level is one sparse product.
        Bigger cycles get a dense LU (condition from LAPACK's estimator), or a Krylov solve beyond
        DENSE_COMPONENT where an LU would fill in.
        """
        notes: list[str] = []
        records: list[tuple] = []
        p = self.p
        cyclic = np.flatnonzero(self.sizes > 1)
        u, v, w = self.edges
        # Inflow in perm order (row = receiving sender): each level and each cycle a contiguous range.
        self.sin = sp.csr_array((w, (self.pos[v], self.pos[u])), shape=(p, p))
        self.sin.sort_indices()
        lab = self.lab
        inside = lab[u] == lab[v]
        big_by_level: dict[int, list] = {}
        small_levels: set[int] = set()

        rows, cols, vals = [], [], []
        plain = np.ones(p, bool)
        small = cyclic[self.sizes[cyclic] <= SMALL_COMPONENT]
        for size in np.unique(self.sizes[small]):
            comps = small[self.sizes[small] == size]
            slot = np.full(self.ncomp, -1, np.int64)
            slot[comps] = np.arange(comps.size)
            stack = np.zeros((comps.size, size, size))
            stack[:, np.arange(size), np.arange(size)] = 1.0
            sel = inside & (slot[lab[u]] >= 0)
            cu = lab[u[sel]]
            start = self.comp_start[cu]
            np.add.at(stack, (slot[cu], self.pos[v[sel]] - start, self.pos[u[sel]] - start), -w[sel])
            inverse = np.linalg.inv(stack)
            condition = np.abs(stack).sum(axis=1).max(axis=1) * np.abs(inverse).sum(axis=1).max(axis=1)
            starts = self.comp_start[comps]
            offsets = np.arange(size)
            rows.append(np.broadcast_to(starts[:, None, None] + offsets[None, :, None], inverse.shape).ravel())
            cols.append(np.broadcast_to(starts[:, None, None] + offsets[None, None, :], inverse.shape).ravel())
            vals.append(inverse.ravel())
            plain[(starts[:, None] + offsets).ravel()] = False
            small_levels.update(self.comp_level[comps].tolist())
            records.extend(zip(comps.tolist(), ["stacked"] * comps.size, condition.tolist()))
        diagonal = np.flatnonzero(plain)
        rows.append(diagonal)
        cols.append(diagonal)
        vals.append(np.ones(diagonal.size))
        self.inverse = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(p, p))

        for c in cyclic[self.sizes[cyclic] > SMALL_COMPONENT]:
            lo, hi = int(self.comp_start[c]), int(self.comp_start[c] + self.sizes[c])
            block = sp.csr_array(sp.eye_array(hi - lo, format="csr") - self.sin[lo:hi, lo:hi])
            anorm = float(abs(block).sum(axis=0).max())
            if hi - lo <= DENSE_COMPONENT:
                lu, piv = scipy.linalg.lu_factor(block.toarray(), check_finite=False)
                rcond, _ = lapack.dgecon(lu, anorm, norm="1")
                cond = float(1.0 / rcond) if rcond > 0 else float("inf")
                big_by_level.setdefault(int(self.comp_level[c]), []).append(("dense", lo, hi, (lu, piv)))
                records.append((int(c), "dense", cond))
            else:
                # No LU on a big cycle (fill-in). Condition: 1/min(leak) bounds ||A^-1||_1 when every
                # member leaks; otherwise not estimated (convergence and the residual are reported).
                leak = 1.0 - self.internal[self.perm[lo:hi]]
                cond = anorm / float(leak.min()) if leak.min() > 0 else float("nan")
                big_by_level.setdefault(int(self.comp_level[c]), []).append(("krylov", lo, hi, block))
                records.append((int(c), "krylov", cond))

        if records:
            comps, solvers, conditions = (list(x) for x in zip(*records))
            self._cycles_frame(np.asarray(comps, np.int64), solvers, np.asarray(conditions, np.float64))
        condition = self.cycles["condition"].to_numpy(dtype=np.float64)
        for rec in self.cycles[~np.isfinite(condition) | (condition > condition_limit)].itertuples():
            members = self.cycle_members.loc[self.cycle_members["component"] == rec.component, "cost_center"].tolist()
            shown = ", ".join(repr(x) for x in members[:8]) + (f" and {len(members) - 8} more" if len(members) > 8 else "")
            estimate = "not estimated" if np.isnan(rec.condition) else f"{rec.condition:.3g}"
            notes.append(
                f"ill-conditioned cycle ({rec.size} cost centers: {shown}): condition estimate {estimate}; "
                "retention around the cycle is near zero, so small changes in percents move totals a lot"
            )

        # Steps in level order; runs of acyclic levels become one triangular solve (dense right-hand sides).
        self._big = big_by_level
        self._small_levels = small_levels
        self._level_steps = None
        steps: list[tuple] = []
        nlevels = len(self.level_ptr) - 1
        start_level = 0
        for level in sorted(small_levels | set(big_by_level)) + [nlevels]:
            if level > start_level:
                lo, hi = int(self.level_ptr[start_level]), int(self.level_ptr[level])
                if hi > lo:
                    block_rows = self.sin[lo:hi]
                    strict = (-block_rows[:, lo:hi]).tocsr()
                    steps.append(("dag", lo, hi, block_rows[:, :lo].tocsr(), strict if strict.nnz else None))
            if level < nlevels:
                # Whole rows (all columns): the solve keeps not-yet-solved rows at zero, which
                # spares slicing columns level by level.
                lo, hi = int(self.level_ptr[level]), int(self.level_ptr[level + 1])
                inverse = _row_block(self.inverse, lo, hi, lo, hi - lo) if level in small_levels else None
                steps.append(("cyclic", lo, hi, _row_block(self.sin, lo, hi), inverse, big_by_level.get(level, [])))
            start_level = level + 1
        self._plan = steps
        return notes

    def _level_step(self, level: int) -> tuple:
        lo, hi = int(self.level_ptr[level]), int(self.level_ptr[level + 1])
        before = self.sin[lo:hi, :lo].tocsr()
        inverse = _row_block(self.inverse, lo, hi, lo, hi - lo) if level in self._small_levels else None
        return lo, hi, before, inverse, self._big.get(level, [])

    def _cycles_frame(self, comps: np.ndarray, solvers: list[str], conditions: np.ndarray) -> None:
        order = np.argsort(comps, kind="stable")
        comps, conditions = comps[order], conditions[order]
        sizes = self.sizes[comps]
        self.cycles = pd.DataFrame(
            {"component": comps, "size": sizes, "solver": [solvers[i] for i in order], "condition": conditions}
        )
        starts = self.comp_start[comps]
        positions = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        self.cycle_members = pd.DataFrame(
            {"component": np.repeat(comps, sizes), "cost_center": self.names.take(self.senders[self.perm[positions]])}
        )

    def solve(self, rhs: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Solve (I - S^T) x = rhs on the senders for a few dense right-hand sides (local order, (p, k))."""
        notes: list[str] = []
        b = rhs[self.perm]
        x = np.zeros_like(b)
        for step in self._plan:
            kind, lo, hi, before = step[:4]
            if kind == "dag":
                local = b[lo:hi] + before @ x[:lo] if before.nnz else b[lo:hi].copy()
                strict = step[4]
                x[lo:hi] = local if strict is None else spla.spsolve_triangular(strict, local, lower=True, unit_diagonal=True)
                continue
            local = b[lo:hi] + before @ x  # rows from lo on are still zero: no inflow from inside the level
            _, _, _, _, inverse, big = step
            if inverse is not None:
                local = inverse @ local
            for solver in big:
                a, z = solver[1] - lo, solver[2] - lo
                local[a:z] = self._solve_big(solver, local[a:z], notes)
            x[lo:hi] = local
        return x[self.pos], notes

    def solve_sparse(self, rhs: sp.csr_array) -> tuple[sp.csr_array, list[str]]:
        """The same solve for many sparse right-hand sides (one per origin), level by level, staying sparse.

        The solution's columns are as sparse as "which cost centers does this origin's cost reach",
        so nothing cost-center x cost-center dense is built. One sparse product per level.
        """
        notes: list[str] = []
        if self._level_steps is None:
            self._level_steps = [self._level_step(level) for level in range(len(self.level_ptr) - 1)]
        k = rhs.shape[1]
        b = sp.csr_array(rhs)[self.perm]
        done = _RowBuffer(self.p, k)
        for lo, hi, before, inverse, big in self._level_steps:
            local = b[lo:hi]
            if before.nnz:
                local = local + before @ done.first(lo)
            if inverse is not None:
                local = inverse @ local
            for solver in big:
                local = self._solve_big_sparse(solver, local, solver[1] - lo, solver[2] - lo, notes)
            done.append(lo, sp.csr_array(local))
        return done.first(self.p)[self.pos], notes

    def _solve_big(self, solver: tuple, local: np.ndarray, notes: list[str]) -> np.ndarray:
        kind, lo, hi, payload = solver
        if kind == "dense":
            return scipy.linalg.lu_solve(payload, local, check_finite=False)
        out = np.zeros_like(local)
        for col in range(local.shape[1]):
            column = local[:, col]
            if not column.any():
                continue
            scale = float(np.abs(column).max())
            out[:, col] = _krylov(payload, column / scale, hi - lo, notes) * scale
        return out

    def _solve_big_sparse(self, solver: tuple, local: sp.csr_array, a: int, z: int, notes: list[str]) -> sp.csr_array:
        local = sp.csr_array(local)
        part = local[a:z]
        used = np.unique(part.indices)
        if not used.size:
            return local
        solved = self._solve_big(solver, part[:, used].toarray(), notes)
        r, c = np.nonzero(solved)
        middle = sp.csr_array((solved[r, c], (r, used[c])), shape=part.shape)
        return sp.csr_array(sp.vstack([local[:a], middle, local[z:]], format="csr"))

    def inflow(self) -> sp.csr_array:
        """S^T among the senders in local order: row = receiving sender, column = sending sender."""
        return self.inflow_local


def _row_block(matrix: sp.csr_array, lo: int, hi: int, shift: int = 0, cols: int | None = None) -> sp.csr_array:
    """Rows lo..hi of a CSR matrix, columns shifted left by `shift`, without scanning other rows."""
    a, b = matrix.indptr[lo], matrix.indptr[hi]
    return sp.csr_array(
        (matrix.data[a:b], matrix.indices[a:b] - shift, matrix.indptr[lo : hi + 1] - a),
        shape=(hi - lo, matrix.shape[1] if cols is None else cols),
    )


def _krylov(matrix: sp.csr_array, b: np.ndarray, size: int, notes: list[str]) -> np.ndarray:
    """Solve a big cycle iteratively: BiCGSTAB (cheap per step), GMRES if that stalls; checked by residual."""
    x, info = spla.bicgstab(matrix, b, rtol=KRYLOV_TOLERANCE, atol=0.0, maxiter=10 * size)
    if info != 0 or np.abs(matrix @ x - b).max() > 100 * KRYLOV_TOLERANCE:
        x, info = spla.gmres(matrix, b, rtol=KRYLOV_TOLERANCE, atol=0.0, restart=60, maxiter=50)
        if info != 0:
            notes.append(f"the iterative solve of a cycle of {size} cost centers did not fully converge (see residual)")
    return x


class _RowBuffer:
    """CSR rows appended in order; `first(n)` views the rows done so far as a matrix without copying."""

    def __init__(self, rows: int, cols: int):
        self.cols = cols
        self.indptr = np.zeros(rows + 1, np.int64)
        self.indices = np.empty(1024, np.int64)
        self.data = np.empty(1024)
        self.nnz = 0

    def append(self, lo: int, block: sp.csr_array) -> None:
        block.sum_duplicates()
        end = self.nnz + block.nnz
        if end > self.data.size:
            grow = max(end, 2 * self.data.size)
            self.indices = np.resize(self.indices, grow)
            self.data = np.resize(self.data, grow)
        self.indices[self.nnz : end] = block.indices
        self.data[self.nnz : end] = block.data
        self.indptr[lo + 1 : lo + 1 + block.shape[0]] = self.nnz + block.indptr[1:]
        self.nnz = end

    def first(self, n: int) -> sp.csr_array:
        end = int(self.indptr[n])
        return sp.csr_array((self.data[:end], self.indices[:end], self.indptr[: n + 1]), shape=(n, self.cols))


# --- methods: effective matrices ----------------------------------------------------------------------


def _renormalize(inp: _Inputs, keep: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop the edges not in `keep` and scale each source's remaining shares and retention back to 100%."""
    n = len(inp.names)
    kept = inp.retention + np.bincount(inp.src[keep], weights=inp.share[keep], minlength=n)
    sending = np.zeros(n, bool)
    sending[inp.src] = True
    stuck = np.flatnonzero(sending & (kept <= CLOSED_LEAK))
    if stuck.size:
        problems = []
        for i in stuck:
            dropped = inp.tgt[(inp.src == i) & ~keep]
            shown = ", ".join(repr(inp.names[j]) for j in dropped[:8])
            why = (
                f"sends only to other sources ({shown}) and keeps nothing"
                if method == "direct"
                else f"sends only to sources closed before it ({shown}) and keeps nothing; close it earlier"
            )
            problems.append(Problem("matrix", None, f"{method}: {inp.names[i]!r} {why}, so its cost has nowhere to go"))
        _raise(problems, f"{method} cannot place every cost")
    src, tgt = inp.src[keep], inp.tgt[keep]
    scale = np.where(kept > 0, kept, 1.0)
    return src, tgt, inp.share[keep] / scale[src], inp.retention / scale


def _default_order(inp: _Inputs, base: _Structure) -> list[int]:
    """Upstream components first; inside a cycle, the textbook rule (largest share to the cycle's other sources first)."""
    frame = pd.DataFrame(
        {
            "index": base.senders,
            "level": base.comp_level[base.lab],
            "component": base.lab,
            "to_sources": -base.internal,
            "own": -inp.own_cents[base.senders],
            "name": [str(x) for x in inp.names[base.senders]],
        }
    )
    return frame.sort_values(["level", "component", "to_sources", "own", "name"], kind="stable")["index"].tolist()


def _closing_order(inp: _Inputs, base: _Structure, order: Sequence | None) -> list[int]:
    default = _default_order(inp, base)
    if order is None:
        return default
    if isinstance(order, str):
        order = [x for x in order.split(",") if x.strip()]
    problems = []
    listed: list[int] = []
    seen = set()
    for pos, name in enumerate(order):
        i = inp.names.get_indexer([name])[0]
        if i < 0:
            close = difflib.get_close_matches(str(name), [str(n) for n in inp.names], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem("order", pos + 1, f"{name!r} is not a cost center of the costs or the matrix{hint}"))
        elif not inp.matrix_sources[i]:
            problems.append(Problem("order", pos + 1, f"{name!r} is not a source in the matrix"))
        elif i in seen:
            problems.append(Problem("order", pos + 1, f"{name!r} is listed more than once"))
        else:
            seen.add(i)
            listed.append(i)
    if problems:
        _raise(problems, "bad step-down order")
    sending = set(base.senders.tolist())
    return [i for i in listed if i in sending] + [i for i in default if i not in seen]


# --- rounding ------------------------------------------------------------------------------------------


def _split_cents(total_cents: int, amounts: np.ndarray) -> np.ndarray:
    """Whole cents summing exactly to `total_cents`, in proportion to `amounts` (cents, any sign).

    Delegates to `largest_remainder`; mixed signs are split into the positive and the negative
    parts, each rounded on its own. Amounts are first rounded to 1e-6 cent so that methods whose
    floats differ only by noise give the same cents.
    """
    a = np.round(np.asarray(amounts, dtype=np.float64), 6)
    out = np.zeros(a.size, np.int64)
    total = int(total_cents)
    pos, neg = a > 0, a < 0
    if not neg.any():
        if pos.any():
            out[pos] = largest_remainder(total, a[pos])
        elif total:
            out[:] = largest_remainder(total, np.ones(a.size))
        return out
    if not pos.any():
        out[neg] = largest_remainder(total, -a[neg])
        return out
    positive = int(round(float(a[pos].sum())))
    out[pos] = largest_remainder(positive, a[pos])
    out[neg] = largest_remainder(total - positive, -a[neg])
    return out


def _largest_remainder_groups(starts: np.ndarray, totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`largest_remainder` applied to many groups at once (group g = weights[starts[g]:starts[g+1]]).

    The same rule, vectorised because by-origin rounding has one group per cost center (tens of
    thousands): floor of each quota, the leftover cents to the largest remainders, ties by position,
    sign of the total kept. A group the float shortcut cannot settle goes through `largest_remainder`.
    """
    n = weights.size
    if not n:
        return np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    weight_sum = np.add.reduceat(weights, starts)
    magnitude = np.abs(totals).astype(np.float64)
    quotas = np.repeat(magnitude, sizes) * (weights / np.repeat(weight_sum, sizes))
    floors = np.floor(quotas)
    left = magnitude - np.add.reduceat(floors, starts)
    # Largest remainder first inside each group, ties by position: one stable sort on group - remainder
    # (remainders closer than ~1e-11 count as ties, far below the float noise of the quotas themselves).
    # Sorted by group first, position k of `order` still belongs to group k's group.
    group = np.repeat(np.arange(starts.size, dtype=np.float64), sizes)
    order = np.argsort(group - (quotas - floors), kind="stable")
    rank = np.arange(n) - np.repeat(starts, sizes)
    floors[order[rank < np.repeat(left, sizes)]] += 1
    result = floors.astype(np.int64)
    result *= np.repeat(np.where(totals < 0, -1, 1), sizes)
    ends = np.r_[starts[1:], n]
    for g in np.flatnonzero((left < 0) | (left > sizes) | ~(weight_sum > 0)):
        result[starts[g] : ends[g]] = largest_remainder(int(totals[g]), weights[starts[g] : ends[g]])
    return result


def _split_cents_rows(indptr: np.ndarray, totals: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """`_split_cents` for every row of a CSR layout at once: row i's amounts get cents summing to totals[i]."""
    rows = indptr.size - 1
    a = np.round(np.asarray(amounts, dtype=np.float64), 6)
    totals = np.asarray(totals, dtype=np.int64)
    row = np.repeat(np.arange(rows), np.diff(indptr))
    pos, neg = a > 0, a < 0
    has_pos = np.bincount(row[pos], minlength=rows) > 0
    out = np.zeros(a.size, np.int64)
    if not neg.any():
        members = np.flatnonzero(pos)
        key = row[members]
        group_total = None
        has_neg = np.zeros(rows, bool)
    else:
        has_neg = np.bincount(row[neg], minlength=rows) > 0
        positive_sum = np.bincount(row[pos], weights=a[pos], minlength=rows)
        pos_total = np.where(has_pos & has_neg, np.round(positive_sum).astype(np.int64), np.where(has_neg, 0, totals))
        neg_total = totals - pos_total
        members = np.flatnonzero(pos | neg)
        key = row[members] * 2 + neg[members]
        members = members[np.argsort(key, kind="stable")]
        key = row[members] * 2 + neg[members]
    if members.size:
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        first = key[starts]
        if neg.any():
            group_total = np.where(first % 2 == 1, neg_total[first // 2], pos_total[first // 2])
        else:
            group_total = totals[first]
        out[members] = _largest_remainder_groups(starts, group_total, np.abs(a[members]))
    # Rows whose amounts all round to zero but whose total does not (float noise only).
    for i in np.flatnonzero(~has_pos & ~has_neg & (totals != 0) & (np.diff(indptr) > 0)):
        out[indptr[i] : indptr[i + 1]] = _split_cents(int(totals[i]), amounts[indptr[i] : indptr[i + 1]])
    return out


# --- iterative passes ----------------------------------------------------------------------------------


def _column(matrix, j: int) -> np.ndarray:
    return matrix[:, [j]].toarray().ravel() if sp.issparse(matrix) else matrix[:, j]


def _largest_moved(matrix, scale: np.ndarray) -> float:
    if sp.issparse(matrix):
        matrix = sp.csr_array(matrix)
        return float((np.abs(matrix.data) * scale[matrix.indices]).max(initial=0.0))
    return float((np.abs(matrix) * scale).max(initial=0.0))


def _passes(base: _Structure, rhs, scale: np.ndarray, max_iterations: int, tolerance: float, keep: bool):
    """The seed's passes: pass 1 sends every source's own cost, pass n re-sends what pass n-1 delivered.

    `rhs` is dense or sparse (origin tracing); the convergence test scales column j by scale[j]
    to currency units. Returns totals, passes run, converged, and the trace of column 0.
    """
    inflow = base.inflow()
    sent = rhs.copy()
    total = rhs.copy()
    trace: list[tuple[int, np.ndarray, np.ndarray]] = []
    count, converged = 0, False
    while count < max_iterations:
        if _largest_moved(sent, scale) == 0.0:
            converged = True
            break
        delivered = inflow @ sent
        count += 1
        if keep:
            received = base.leaf_in @ _column(sent, 0)
            received[base.senders] = _column(delivered, 0)
            nz = np.flatnonzero(received)
            trace.append((count, nz, received[nz]))
        total = total + delivered
        sent = delivered
        if _largest_moved(sent, scale) <= tolerance:
            converged = True
            break
    return total, count, converged, trace


# --- solve -----------------------------------------------------------------------------------------------


def solve(
    costs: pd.Series | Mapping,
    matrix: pd.DataFrame,
    method: str = "reciprocal",
    order: Sequence | str | None = None,
    *,
    trace_origin: bool = True,
    max_iterations: int = 10_000,
    tolerance: float = 1e-9,
    trace_iterations: bool = True,
    condition_limit: float = 1e6,
) -> MultilevelResult:
    """Allocate cost between cost centers that both send and receive it.

    `costs`: own cost per cost center (Series or mapping indexed by cost center), in currency units
    as int, float, Decimal or text with at most two decimal places. `matrix`: rows `source`,
    `target`, `percent` = percent of the source's total (own plus everything it receives) sent to
    the target. A row with source = target is explicit retention; whatever a source does not send
    (100 minus its percents to others) it keeps. A cost center in the matrix but not in `costs` has
    own cost 0 (normal: a clearing center, or a final cost object with no cost of its own). A cost
    center in `costs` but not in the matrix keeps its cost.

    Methods:
    - "reciprocal" (default): total = own + S^T total, final = total x retention, solved per strongly
      connected component in topological order (no iteration on a DAG; one linear solve per cycle).
    - "step-down": sources close one at a time; a closed source receives nothing more and its
      shares are renormalized over the targets still open plus its retention. `order` (list or
      comma-separated string of sources) closes those first, in that order; sources it omits
      follow in the default order: upstream components first (so an acyclic matrix gives the
      reciprocal result); inside a cycle the source giving the largest share of its total to the
      cycle's other sources first, then larger own cost, then name.
    - "direct": transfers between sources are ignored; each source's shares are renormalized over
      its non-source targets plus its retention.
    - "iterative": the seed's passes (pass 1 sends own costs, pass n re-sends what pass n-1
      delivered), stopped when no source receives more than `tolerance` (currency units) in a pass,
      i.e. when what is left to re-send is negligible, or after `max_iterations` passes (then a
      warning; cents are still conserved). With `trace_iterations` the result carries the
      per-pass trace. On an acyclic matrix the passes end exactly, after its depth, and give the
      reciprocal result to the cent.

    `trace_origin` adds `by_origin`: each cost center's final split by where the cost started, from
    the same solve (extra right-hand sides, one per source with own cost). Without it the solve
    is totals only (faster on big inputs; `by_origin` is None).

    `condition_limit`: a cycle whose condition estimate exceeds it is warned about (the result
    is still returned; its residual tells how well the system was solved).

    Raises `MultilevelError` (every bad row at once) for bad inputs, `ClosedCycleError` when cost
    centers pass all their cost among themselves. Nothing is partially returned.
    """
    if method not in METHODS:
        raise MultilevelError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}", [Problem("method", None, f"unknown method {method!r}")])
    if order is not None and method != "step-down":
        raise MultilevelError("an order applies only to the step-down method", [Problem("order", None, "only for step-down")])
    clock = [time.perf_counter()]
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    inp = _prepare(costs, matrix)
    lap("validate")
    notes = list(inp.warnings)
    n = len(inp.names)
    base = _Structure(inp.names, inp.src, inp.tgt, inp.share)
    base.raise_if_closed()

    closing = None
    if method in ("reciprocal", "iterative"):
        structure, retention = base, inp.retention
    else:
        if method == "direct":
            sending = np.zeros(n, bool)
            sending[inp.src] = True
            keep = ~sending[inp.tgt]
        else:
            closing = _closing_order(inp, base, order)
            rank = np.full(n, -1, np.int64)
            rank[closing] = np.arange(len(closing))
            keep = (rank[inp.tgt] < 0) | (rank[inp.tgt] > rank[inp.src])
        src, tgt, share, retention = _renormalize(inp, keep, method)
        structure = _Structure(inp.names, src, tgt, share)

    own = inp.own_cents / 100.0
    p = structure.p
    own_senders = own[structure.senders]
    iterations_frame, count, converged, solve_notes, parts = None, None, None, [], None
    if method != "iterative":
        notes.extend(structure.plan(condition_limit))
    lap("structure")
    if trace_origin:
        # Column 0: own costs (totals). Column 1 + j: origin j's own cost alone, in cents, so column
        # j of the solution is where origin j's cost sits: the same solve, more right-hand sides.
        origins = np.flatnonzero(inp.own_cents[structure.senders] != 0)
        m = origins.size
        rhs = sp.csr_array(
            (
                np.r_[own_senders, inp.own_cents[structure.senders[origins]].astype(np.float64)],
                (np.r_[np.arange(p), origins], np.r_[np.zeros(p, np.int64), 1 + np.arange(m)]),
            ),
            shape=(p, 1 + m),
        )
        scale = np.r_[1.0, np.full(m, 0.01)]
    else:
        rhs = own_senders[:, None].copy()
        scale = np.ones(1)
    if method == "iterative":
        x, count, converged, trace = _passes(structure, rhs, scale, max_iterations, tolerance, trace_iterations)
        if trace_iterations:
            iterations_frame = _trace_frame(trace, inp.names)
    elif trace_origin:
        x, solve_notes = structure.solve_sparse(rhs)
    else:
        x, solve_notes = structure.solve(rhs)
    notes.extend(dict.fromkeys(solve_notes))
    totals_local = _column(x, 0)
    lap("solve")
    if trace_origin:
        parts = _origin_parts(structure, retention, sp.csr_array(x)[:, 1:], structure.senders[origins], inp)
        lap("origins")

    if method == "iterative" and not converged:
        notes.append(f"iterative passes stopped after {count} without converging (tolerance {tolerance:g})")

    total = own.copy()
    if p:
        total[structure.senders] = totals_local
        total += structure.leaf_in @ totals_local
    final = retention * total
    final_cents = _split_cents(int(inp.own_cents.sum()), final * 100.0)

    # Residual of the system actually solved, on every cost center.
    if p:
        recomputed = own + structure.leaf_in @ total[structure.senders]
        recomputed[structure.senders] += structure.inflow() @ total[structure.senders]
        residual = float(np.abs(recomputed - total).max())
    else:
        residual = 0.0
    biggest = float(np.abs(total).max(initial=0.0))
    relative = residual / biggest if biggest > 0 else 0.0

    lap("round")
    by_origin = _by_origin(inp.names, parts, final_cents) if trace_origin else None
    lap("origins")

    for note in notes:
        warnings.warn(note, MultilevelWarning, stacklevel=2)

    index = inp.names
    cycles = structure.cycles.reset_index(drop=True)
    return MultilevelResult(
        method=method,
        own_cents=pd.Series(inp.own_cents, index=index, name="own_cents"),
        final_cents=pd.Series(final_cents, index=index, name="final_cents"),
        total=pd.Series(np.round(total, 2), index=index, name="total"),
        retention=pd.Series(retention, index=index, name="retention"),
        by_origin=by_origin,
        residual=residual,
        relative_residual=relative,
        cycles=cycles,
        cycle_members=structure.cycle_members.reset_index(drop=True),
        warnings=tuple(notes),
        order=tuple(inp.names[closing]) if closing is not None else None,
        iterations=iterations_frame,
        iteration_count=count,
        converged=converged,
        timings=timings,
    )


def _trace_frame(trace, names: pd.Index) -> pd.DataFrame:
    """iteration, cost_center, received (in that pass), cumulative (received up to and including it)."""
    if not trace:
        return pd.DataFrame(
            {
                "iteration": pd.Series(dtype=np.int64),
                "cost_center": pd.Series(dtype=object),
                "received": pd.Series(dtype=float),
                "cumulative": pd.Series(dtype=float),
            }
        )
    iteration = np.concatenate([np.full(idx.size, it, np.int64) for it, idx, _ in trace])
    idx = np.concatenate([idx for _, idx, _ in trace])
    received = np.concatenate([amounts for _, _, amounts in trace])
    cumulative = pd.Series(received).groupby(idx).cumsum().to_numpy()
    return pd.DataFrame({"iteration": iteration, "cost_center": names.take(idx), "received": received, "cumulative": cumulative})


def _origin_parts(structure: _Structure, retention: np.ndarray, spread: sp.csr_array, origins: np.ndarray, inp: _Inputs) -> sp.csr_array:
    """Cost center x origin matrix (cents, float) of where each origin's own cost ends as final cost.

    `spread[:, j]` is the senders' totals coming from origin j (cents). Senders keep their retention
    share of it; cost centers that send nothing keep all they receive, one sparse product away;
    and they keep all of their own cost. Nothing dense of size cost centers x origins is built.
    """
    n, p = structure.n, structure.p
    senders = structure.senders
    at_senders = sp.diags_array(retention[senders]) @ spread
    place = sp.csr_array((np.ones(p), (senders, np.arange(p))), shape=(n, p))
    by_column = sp.csr_array(structure.leaf_in @ spread + place @ at_senders)
    by_column.sum_duplicates()
    # Origins are in increasing cost-center order, so mapping columns keeps each row sorted.
    parts = sp.csr_array((by_column.data, origins[by_column.indices], by_column.indptr), shape=(n, n))
    keepers = np.flatnonzero((structure.local < 0) & (inp.own_cents != 0))
    own = sp.csr_array((inp.own_cents[keepers].astype(np.float64), (keepers, keepers)), shape=(n, n))
    parts = sp.csr_array(parts + own)
    parts.eliminate_zeros()
    parts.sort_indices()
    return parts


def _by_origin(names: pd.Index, parts: sp.csr_array, final_cents: np.ndarray) -> pd.DataFrame:
    n = len(names)
    indptr, indices = parts.indptr, parts.indices
    cents = _split_cents_rows(indptr, final_cents, parts.data)
    holder = np.repeat(np.arange(n), np.diff(indptr))
    nonzero = cents != 0
    holder, origin, cents = holder[nonzero], indices[nonzero], cents[nonzero]
    settled = np.bincount(holder, weights=cents, minlength=n)
    if not np.array_equal(settled.astype(np.int64), final_cents) and np.abs(settled - final_cents).max() > 0.5:
        raise AssertionError("origin parts do not add up to the finals")  # a bug, not an input problem
    return pd.DataFrame(
        {
            "cost_center": names.take(holder),
            "origin": names.take(origin),
            "amount": cents / 100.0,
            "amount_cents": cents,
        }
    )
