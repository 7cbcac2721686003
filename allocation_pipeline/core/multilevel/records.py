"""What the multi-level solver reports: the problems of bad inputs, its errors and warning, and its result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

# Rows of problems spelled out in an error message; the rest are counted.
MESSAGE_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs.

    `table` is "costs", "matrix", "order" or "method"; `row` is the 1-based position of the
    offending row in that table (for a file read by `files`, the data row with the
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



def raise_problems(problems: list[Problem], headline: str = "invalid multi-level inputs") -> None:
    tables = {"costs": 0, "matrix": 1, "order": 2}
    problems = sorted(problems, key=lambda p: (tables.get(p.table, 3), p.row is None, p.row or 0))
    lines = [str(p) for p in problems[:MESSAGE_PROBLEMS]]
    if len(problems) > MESSAGE_PROBLEMS:
        lines.append(f"... and {len(problems) - MESSAGE_PROBLEMS} more")
    raise MultilevelError(f"{headline}:\n  " + "\n  ".join(lines), problems)


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
