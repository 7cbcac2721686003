"""Cost-center-of-origin attribution from the same solve: one extra right-hand side per origin,
then each cost center's final split by where its cost started, in whole cents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocation_pipeline.core.multilevel.rounding import split_cents_rows
from allocation_pipeline.core.multilevel.structure import Structure


def right_hand_sides(structure: Structure, own_cents: np.ndarray) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """The senders' right-hand sides with origins: column 0 own costs (totals, currency units),
    column 1 + j origin j's own cost alone, in cents, so column j of the solution is where origin
    j's cost sits. Returns them, the scale of each column to currency units, and the origins
    (local positions of the senders with own cost)."""
    p = structure.p
    own_senders = own_cents[structure.senders] / 100.0
    origins = np.flatnonzero(own_cents[structure.senders] != 0)
    m = origins.size
    rhs = sp.csr_array(
        (
            np.r_[own_senders, own_cents[structure.senders[origins]].astype(np.float64)],
            (np.r_[np.arange(p), origins], np.r_[np.zeros(p, np.int64), 1 + np.arange(m)]),
        ),
        shape=(p, 1 + m),
    )
    scale = np.r_[1.0, np.full(m, 0.01)]
    return rhs, scale, origins


def origin_parts(structure: Structure, retention: np.ndarray, spread: sp.csr_array, origins: np.ndarray, own_cents: np.ndarray) -> sp.csr_array:
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
    keepers = np.flatnonzero((structure.local < 0) & (own_cents != 0))
    own = sp.csr_array((own_cents[keepers].astype(np.float64), (keepers, keepers)), shape=(n, n))
    parts = sp.csr_array(parts + own)
    parts.eliminate_zeros()
    parts.sort_indices()
    return parts


def by_origin(names: pd.Index, parts: sp.csr_array, final_cents: np.ndarray) -> pd.DataFrame:
    """cost_center, origin, amount, amount_cents: each final in whole cents by origin, nonzero rows only."""
    n = len(names)
    indptr, indices = parts.indptr, parts.indices
    cents = split_cents_rows(indptr, final_cents, parts.data)
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
