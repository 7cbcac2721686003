"""The methods besides reciprocal: step-down and direct solve a changed matrix (shares renormalized
once transfers are dropped), iterative runs the seed's passes and keeps their trace."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocation_pipeline.config.problems import did_you_mean
from allocation_pipeline.core.multilevel.inputs import Inputs
from allocation_pipeline.core.multilevel.levels import column
from allocation_pipeline.core.multilevel.records import Problem, raise_problems
from allocation_pipeline.core.multilevel.structure import CLOSED_LEAK, Structure


def effective_structure(inp: Inputs, base: Structure, method: str, order: Sequence | None) -> tuple[Structure, np.ndarray, list[int] | None]:
    """The structure and retention `method` solves on, and step-down's closing order (else None).

    Reciprocal and iterative solve the matrix as given. Direct drops the transfers between sources;
    step-down drops those to sources closed before the sender. Both renormalize what is left.
    """
    if method in ("reciprocal", "iterative"):
        return base, inp.retention, None
    n = len(inp.names)
    closing = None
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
    return Structure(inp.names, src, tgt, share), retention, closing


def _renormalize(inp: Inputs, keep: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        raise_problems(problems, f"{method} cannot place every cost")
    src, tgt = inp.src[keep], inp.tgt[keep]
    scale = np.where(kept > 0, kept, 1.0)
    return src, tgt, inp.share[keep] / scale[src], inp.retention / scale


def _default_order(inp: Inputs, base: Structure) -> list[int]:
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


def _closing_order(inp: Inputs, base: Structure, order: Sequence | None) -> list[int]:
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
            hint = did_you_mean(name, inp.names, quoted=False)
            problems.append(Problem("order", pos + 1, f"{name!r} is not a cost center of the costs or the matrix{hint}"))
        elif not inp.matrix_sources[i]:
            problems.append(Problem("order", pos + 1, f"{name!r} is not a source in the matrix"))
        elif i in seen:
            problems.append(Problem("order", pos + 1, f"{name!r} is listed more than once"))
        else:
            seen.add(i)
            listed.append(i)
    if problems:
        raise_problems(problems, "bad step-down order")
    sending = set(base.senders.tolist())
    return [i for i in listed if i in sending] + [i for i in default if i not in seen]


# --- iterative passes ----------------------------------------------------------------------------------


def _largest_moved(matrix, scale: np.ndarray) -> float:
    if sp.issparse(matrix):
        matrix = sp.csr_array(matrix)
        return float((np.abs(matrix.data) * scale[matrix.indices]).max(initial=0.0))
    return float((np.abs(matrix) * scale).max(initial=0.0))


def passes(base: Structure, rhs, scale: np.ndarray, max_iterations: int, tolerance: float, keep: bool):
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
            received = base.leaf_in @ column(sent, 0)
            received[base.senders] = column(delivered, 0)
            nz = np.flatnonzero(received)
            trace.append((count, nz, received[nz]))
        total = total + delivered
        sent = delivered
        if _largest_moved(sent, scale) <= tolerance:
            converged = True
            break
    return total, count, converged, trace


def trace_frame(trace, names: pd.Index) -> pd.DataFrame:
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
