"""The cycles of a multi-level allocation, factorized once: small ones inverted in stacks, bigger
ones by a dense LU or left to a Krylov solve; each with its condition estimate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg import lapack

from allocation_pipeline.core.multilevel.structure import Structure

# Components up to this size are inverted together, in stacks; up to DENSE_COMPONENT one dense LU
# each; bigger ones (rare: a whole graph that is one cycle) with a Krylov method (see `levels`),
# where an LU would fill in.
SMALL_COMPONENT = 32
DENSE_COMPONENT = 4000


@dataclass
class CycleFactors:
    """The factorized cycles of a `Structure`, in its perm order.

    `inverse` holds the small cycles' inverses as one block-diagonal matrix (identity elsewhere), so
    a whole level is one sparse product; `small_levels` are the levels that hold a small cycle.
    `big_by_level` lists per level the bigger cycles as ("dense", lo, hi, (lu, piv)) or
    ("krylov", lo, hi, block). `cycles` and `cycle_members` are as in `MultilevelResult`.
    """

    inverse: sp.csr_array
    small_levels: set[int]
    big_by_level: dict[int, list[tuple]]
    cycles: pd.DataFrame
    cycle_members: pd.DataFrame


def no_cycles() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Empty `cycles` and `cycle_members` frames, with their columns and dtypes."""
    cycles = pd.DataFrame(
        {
            "component": pd.Series(dtype=np.int64),
            "size": pd.Series(dtype=np.int64),
            "solver": pd.Series(dtype=object),
            "condition": pd.Series(dtype=np.float64),
        }
    )
    members = pd.DataFrame({"component": pd.Series(dtype=np.int64), "cost_center": pd.Series(dtype=object)})
    return cycles, members


def factorize_cycles(structure: Structure, inflow: sp.csr_array) -> CycleFactors:
    """Factorize every cyclic component; `inflow` is `structure.inflow_by_level()`.

    Small cycles (up to SMALL_COMPONENT cost centers) are inverted in stacks, one batched inverse
    per size, which also gives their exact 1-norm condition. Bigger cycles get a dense LU
    (condition from LAPACK's estimator), or a Krylov solve beyond DENSE_COMPONENT.
    """
    records: list[tuple] = []  # (component, solver, condition)
    inverse, small_levels = _stacked_inverses(structure, records)
    big_by_level = _big_factors(structure, inflow, records)
    cycles, members = no_cycles()
    if records:
        comps, solvers, conditions = (list(x) for x in zip(*records))
        cycles, members = _cycle_frames(structure, np.asarray(comps, np.int64), solvers, np.asarray(conditions, np.float64))
    return CycleFactors(inverse, small_levels, big_by_level, cycles, members)


def ill_conditioned(factors: CycleFactors, condition_limit: float) -> list[str]:
    """A warning for each cycle whose condition estimate exceeds `condition_limit` or is unknown."""
    notes = []
    cycles, cycle_members = factors.cycles, factors.cycle_members
    condition = cycles["condition"].to_numpy(dtype=np.float64)
    for rec in cycles[~np.isfinite(condition) | (condition > condition_limit)].itertuples():
        members = cycle_members.loc[cycle_members["component"] == rec.component, "cost_center"].tolist()
        shown = ", ".join(repr(x) for x in members[:8]) + (f" and {len(members) - 8} more" if len(members) > 8 else "")
        estimate = "not estimated" if np.isnan(rec.condition) else f"{rec.condition:.3g}"
        notes.append(
            f"ill-conditioned cycle ({rec.size} cost centers: {shown}): condition estimate {estimate}; "
            "retention around the cycle is near zero, so small changes in percents move totals a lot"
        )
    return notes


def _stacked_inverses(s: Structure, records: list[tuple]) -> tuple[sp.csr_array, set[int]]:
    """The small cycles' inverses, one batched inverse per size, as one block-diagonal matrix."""
    p = s.p
    cyclic = np.flatnonzero(s.sizes > 1)
    u, v, w = s.edges
    lab = s.lab
    inside = lab[u] == lab[v]
    small_levels: set[int] = set()
    rows, cols, vals = [], [], []
    plain = np.ones(p, bool)
    small = cyclic[s.sizes[cyclic] <= SMALL_COMPONENT]
    for size in np.unique(s.sizes[small]):
        comps = small[s.sizes[small] == size]
        slot = np.full(s.ncomp, -1, np.int64)
        slot[comps] = np.arange(comps.size)
        stack = np.zeros((comps.size, size, size))
        stack[:, np.arange(size), np.arange(size)] = 1.0
        sel = inside & (slot[lab[u]] >= 0)
        cu = lab[u[sel]]
        start = s.comp_start[cu]
        np.add.at(stack, (slot[cu], s.pos[v[sel]] - start, s.pos[u[sel]] - start), -w[sel])
        inverse = np.linalg.inv(stack)
        condition = np.abs(stack).sum(axis=1).max(axis=1) * np.abs(inverse).sum(axis=1).max(axis=1)
        starts = s.comp_start[comps]
        offsets = np.arange(size)
        rows.append(np.broadcast_to(starts[:, None, None] + offsets[None, :, None], inverse.shape).ravel())
        cols.append(np.broadcast_to(starts[:, None, None] + offsets[None, None, :], inverse.shape).ravel())
        vals.append(inverse.ravel())
        plain[(starts[:, None] + offsets).ravel()] = False
        small_levels.update(s.comp_level[comps].tolist())
        records.extend(zip(comps.tolist(), ["stacked"] * comps.size, condition.tolist()))
    diagonal = np.flatnonzero(plain)
    rows.append(diagonal)
    cols.append(diagonal)
    vals.append(np.ones(diagonal.size))
    inverse = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(p, p))
    return inverse, small_levels


def _big_factors(s: Structure, inflow: sp.csr_array, records: list[tuple]) -> dict[int, list[tuple]]:
    """Per level, the cycles bigger than SMALL_COMPONENT: a dense LU each, or their block for a Krylov solve."""
    big_by_level: dict[int, list[tuple]] = {}
    cyclic = np.flatnonzero(s.sizes > 1)
    for c in cyclic[s.sizes[cyclic] > SMALL_COMPONENT]:
        lo, hi = int(s.comp_start[c]), int(s.comp_start[c] + s.sizes[c])
        block = sp.csr_array(sp.eye_array(hi - lo, format="csr") - inflow[lo:hi, lo:hi])
        anorm = float(abs(block).sum(axis=0).max())
        if hi - lo <= DENSE_COMPONENT:
            lu, piv = scipy.linalg.lu_factor(block.toarray(), check_finite=False)
            rcond, _ = lapack.dgecon(lu, anorm, norm="1")
            cond = float(1.0 / rcond) if rcond > 0 else float("inf")
            big_by_level.setdefault(int(s.comp_level[c]), []).append(("dense", lo, hi, (lu, piv)))
            records.append((int(c), "dense", cond))
        else:
            # No LU on a big cycle (fill-in). Condition: 1/min(leak) bounds ||A^-1||_1 when every
            # member leaks; otherwise not estimated (convergence and the residual are reported).
            leak = 1.0 - s.internal[s.perm[lo:hi]]
            cond = anorm / float(leak.min()) if leak.min() > 0 else float("nan")
            big_by_level.setdefault(int(s.comp_level[c]), []).append(("krylov", lo, hi, block))
            records.append((int(c), "krylov", cond))
    return big_by_level


def _cycle_frames(s: Structure, comps: np.ndarray, solvers: list[str], conditions: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`cycles` (one row per cycle, by component) and `cycle_members` (its cost centers, in perm order)."""
    order = np.argsort(comps, kind="stable")
    comps, conditions = comps[order], conditions[order]
    sizes = s.sizes[comps]
    cycles = pd.DataFrame({"component": comps, "size": sizes, "solver": [solvers[i] for i in order], "condition": conditions})
    starts = s.comp_start[comps]
    positions = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    members = pd.DataFrame({"component": np.repeat(comps, sizes), "cost_center": s.names.take(s.senders[s.perm[positions]])})
    return cycles, members
