"""The graph of a multi-level allocation: the sending cost centers, their strongly connected
components in topological order, and the closed cycles that can never release their cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from allocation_pipeline.core.multilevel.records import MESSAGE_PROBLEMS, ClosedCycleError, Problem

# A cycle none of whose members keeps, or sends out of the cycle, more than this share is closed.
CLOSED_LEAK = 1e-12


def component_levels(ncomp: int, cu: np.ndarray, cv: np.ndarray) -> np.ndarray:
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


class Structure:
    """The sending cost centers (those with a share > 0 to another) and their components.

    Cost centers that send nothing are leaves: their totals follow from the senders' in one product,
    so the component solve runs on the senders only. Positions are "local" (index into `senders`)
    or "perm" (components sorted by level, so each component and each level is a contiguous range).
    """

    def __init__(self, names: pd.Index, src: np.ndarray, tgt: np.ndarray, share: np.ndarray):
        self.names = names
        self.n = len(names)
        self._senders_and_leaves(src, tgt, share)
        self._components()

    def _senders_and_leaves(self, src: np.ndarray, tgt: np.ndarray, share: np.ndarray) -> None:
        """Local positions of the senders, the edges among them, and the inflow of the leaves."""
        n = self.n
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

    def _components(self) -> None:
        """Strong components, their levels in the condensation DAG, and the "perm" order by level."""
        p = self.p
        u, v, w = self.edges
        ncomp, lab = (
            connected_components(self.inflow_local, directed=True, connection="strong") if p else (0, np.zeros(0, int))
        )
        lab = lab.astype(np.int64)
        self.ncomp, self.lab = ncomp, lab
        self.sizes = np.bincount(lab, minlength=ncomp)
        cross = lab[u] != lab[v]
        self.comp_level = component_levels(ncomp, lab[u][cross], lab[v][cross])
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


    def inflow(self) -> sp.csr_array:
        """S^T among the senders in local order: row = receiving sender, column = sending sender."""
        return self.inflow_local

    def inflow_by_level(self) -> sp.csr_array:
        """S^T among the senders in perm order (row = receiving sender): each level and each cycle a contiguous range."""
        u, v, w = self.edges
        inflow = sp.csr_array((w, (self.pos[v], self.pos[u])), shape=(self.p, self.p))
        inflow.sort_indices()
        return inflow
