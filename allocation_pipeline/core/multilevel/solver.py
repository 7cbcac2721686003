"""Multi-level allocation between cost centers that both send and receive cost, solved exactly per
strongly connected component: `solve` and the methods it offers.

The parts: `inputs` checks costs and matrix; `structure` finds the components and closed cycles;
`factorize` and `levels` solve level by level; `methods` changes the matrix for step-down and
direct and runs the iterative passes; `origins` traces each cost to where it started;
`rounding` gives whole cents; `records` holds the errors and the result.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocation_pipeline.core.multilevel.factorize import no_cycles
from allocation_pipeline.core.multilevel.inputs import prepare
from allocation_pipeline.core.multilevel.levels import LevelSolver, column
from allocation_pipeline.core.multilevel.methods import effective_structure, passes, trace_frame
from allocation_pipeline.core.multilevel.origins import by_origin, origin_parts, right_hand_sides
from allocation_pipeline.core.multilevel.records import MultilevelError, MultilevelResult, MultilevelWarning, Problem
from allocation_pipeline.core.multilevel.rounding import split_cents
from allocation_pipeline.core.multilevel.structure import Structure

METHODS = ("reciprocal", "step-down", "direct", "iterative")


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

    inp = prepare(costs, matrix)
    lap("validate")
    notes = list(inp.warnings)
    base = Structure(inp.names, inp.src, inp.tgt, inp.share)
    base.raise_if_closed()
    structure, retention, closing = effective_structure(inp, base, method, order)

    own = inp.own_cents / 100.0
    p = structure.p
    iterations_frame, count, converged, solve_notes, parts = None, None, None, [], None
    if method != "iterative":
        levels = LevelSolver(structure, condition_limit)
        notes.extend(levels.notes)
        cycles, cycle_members = levels.factors.cycles, levels.factors.cycle_members
    else:
        cycles, cycle_members = no_cycles()
    lap("structure")
    if trace_origin:
        rhs, scale, origins = right_hand_sides(structure, inp.own_cents)
    else:
        rhs = own[structure.senders][:, None].copy()
        scale = np.ones(1)
    if method == "iterative":
        x, count, converged, trace = passes(structure, rhs, scale, max_iterations, tolerance, trace_iterations)
        if trace_iterations:
            iterations_frame = trace_frame(trace, inp.names)
    elif trace_origin:
        x, solve_notes = levels.solve_sparse(rhs)
    else:
        x, solve_notes = levels.solve(rhs)
    notes.extend(dict.fromkeys(solve_notes))
    totals_local = column(x, 0)
    lap("solve")
    if trace_origin:
        parts = origin_parts(structure, retention, sp.csr_array(x)[:, 1:], structure.senders[origins], inp.own_cents)
        lap("origins")

    if method == "iterative" and not converged:
        notes.append(f"iterative passes stopped after {count} without converging (tolerance {tolerance:g})")

    total = own.copy()
    if p:
        total[structure.senders] = totals_local
        total += structure.leaf_in @ totals_local
    final = retention * total
    final_cents = split_cents(int(inp.own_cents.sum()), final * 100.0)
    residual, relative = _residuals(structure, own, total)
    lap("round")
    origins_frame = by_origin(inp.names, parts, final_cents) if trace_origin else None
    lap("origins")

    for note in notes:
        warnings.warn(note, MultilevelWarning, stacklevel=2)

    index = inp.names
    return MultilevelResult(
        method=method,
        own_cents=pd.Series(inp.own_cents, index=index, name="own_cents"),
        final_cents=pd.Series(final_cents, index=index, name="final_cents"),
        total=pd.Series(np.round(total, 2), index=index, name="total"),
        retention=pd.Series(retention, index=index, name="retention"),
        by_origin=origins_frame,
        residual=residual,
        relative_residual=relative,
        cycles=cycles.reset_index(drop=True),
        cycle_members=cycle_members.reset_index(drop=True),
        warnings=tuple(notes),
        order=tuple(inp.names[closing]) if closing is not None else None,
        iterations=iterations_frame,
        iteration_count=count,
        converged=converged,
        timings=timings,
    )


def _residuals(structure: Structure, own: np.ndarray, total: np.ndarray) -> tuple[float, float]:
    """Largest absolute residual of the system actually solved, on every cost center, and that over the largest total."""
    if structure.p:
        recomputed = own + structure.leaf_in @ total[structure.senders]
        recomputed[structure.senders] += structure.inflow() @ total[structure.senders]
        residual = float(np.abs(recomputed - total).max())
    else:
        residual = 0.0
    biggest = float(np.abs(total).max(initial=0.0))
    return residual, residual / biggest if biggest > 0 else 0.0
