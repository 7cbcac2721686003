"""Solving (I - S^T) x = b on the senders level by level in topological order, with the cycles
factorized: a few dense right-hand sides (totals) or many sparse ones (one per origin)."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from allocation_pipeline.core.multilevel.factorize import factorize_cycles, ill_conditioned
from allocation_pipeline.core.multilevel.structure import Structure

# Cycles too big for an LU are solved to this relative residual.
KRYLOV_TOLERANCE = 1e-12


class LevelSolver:
    """The solve plan of a `Structure`: its cycles factorized (`factors`), its levels laid out as steps.

    For dense right-hand sides, runs of acyclic levels become one triangular solve and each level
    with cycles one product with the stacked inverses plus the bigger cycles' solves. Sparse
    right-hand sides go one sparse product per level. `notes` holds the ill-conditioning warnings.
    """

    def __init__(self, structure: Structure, condition_limit: float):
        self.structure = structure
        self.inflow = structure.inflow_by_level()
        self.factors = factorize_cycles(structure, self.inflow)
        self.notes = ill_conditioned(self.factors, condition_limit)
        self._steps = self._dense_steps()
        self._level_steps: list[tuple] | None = None

    def _dense_steps(self) -> list[tuple]:
        """Steps in level order; runs of acyclic levels become one triangular solve (dense right-hand sides)."""
        level_ptr, inflow = self.structure.level_ptr, self.inflow
        small_levels, big_by_level = self.factors.small_levels, self.factors.big_by_level
        steps: list[tuple] = []
        nlevels = len(level_ptr) - 1
        start_level = 0
        for level in sorted(small_levels | set(big_by_level)) + [nlevels]:
            if level > start_level:
                lo, hi = int(level_ptr[start_level]), int(level_ptr[level])
                if hi > lo:
                    block_rows = inflow[lo:hi]
                    strict = (-block_rows[:, lo:hi]).tocsr()
                    steps.append(("dag", lo, hi, block_rows[:, :lo].tocsr(), strict if strict.nnz else None))
            if level < nlevels:
                # Whole rows (all columns): the solve keeps not-yet-solved rows at zero, which
                # spares slicing columns level by level.
                lo, hi = int(level_ptr[level]), int(level_ptr[level + 1])
                inverse = _row_block(self.factors.inverse, lo, hi, lo, hi - lo) if level in small_levels else None
                steps.append(("cyclic", lo, hi, _row_block(inflow, lo, hi), inverse, big_by_level.get(level, [])))
            start_level = level + 1
        return steps

    def _level_step(self, level: int) -> tuple:
        level_ptr = self.structure.level_ptr
        lo, hi = int(level_ptr[level]), int(level_ptr[level + 1])
        before = self.inflow[lo:hi, :lo].tocsr()
        inverse = _row_block(self.factors.inverse, lo, hi, lo, hi - lo) if level in self.factors.small_levels else None
        return lo, hi, before, inverse, self.factors.big_by_level.get(level, [])

    def solve(self, rhs: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Solve (I - S^T) x = rhs on the senders for a few dense right-hand sides (local order, (p, k))."""
        notes: list[str] = []
        b = rhs[self.structure.perm]
        x = np.zeros_like(b)
        for step in self._steps:
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
                local[a:z] = _solve_big(solver, local[a:z], notes)
            x[lo:hi] = local
        return x[self.structure.pos], notes

    def solve_sparse(self, rhs: sp.csr_array) -> tuple[sp.csr_array, list[str]]:
        """The same solve for many sparse right-hand sides (one per origin), level by level, staying sparse.

        The solution's columns are as sparse as "which cost centers does this origin's cost reach",
        so nothing cost-center x cost-center dense is built. One sparse product per level.
        """
        notes: list[str] = []
        if self._level_steps is None:
            self._level_steps = [self._level_step(level) for level in range(len(self.structure.level_ptr) - 1)]
        k = rhs.shape[1]
        b = sp.csr_array(rhs)[self.structure.perm]
        done = _RowBuffer(self.structure.p, k)
        for lo, hi, before, inverse, big in self._level_steps:
            local = b[lo:hi]
            if before.nnz:
                local = local + before @ done.first(lo)
            if inverse is not None:
                local = inverse @ local
            for solver in big:
                local = _solve_big_sparse(solver, local, solver[1] - lo, solver[2] - lo, notes)
            done.append(lo, sp.csr_array(local))
        return done.first(self.structure.p)[self.structure.pos], notes


def column(matrix, j: int) -> np.ndarray:
    """Column j of a dense or sparse solution, as a dense vector."""
    return matrix[:, [j]].toarray().ravel() if sp.issparse(matrix) else matrix[:, j]


def _solve_big(solver: tuple, local: np.ndarray, notes: list[str]) -> np.ndarray:
    kind, lo, hi, payload = solver
    if kind == "dense":
        return scipy.linalg.lu_solve(payload, local, check_finite=False)
    out = np.zeros_like(local)
    for col in range(local.shape[1]):
        values = local[:, col]
        if not values.any():
            continue
        scale = float(np.abs(values).max())
        out[:, col] = _krylov(payload, values / scale, hi - lo, notes) * scale
    return out


def _solve_big_sparse(solver: tuple, local: sp.csr_array, a: int, z: int, notes: list[str]) -> sp.csr_array:
    local = sp.csr_array(local)
    part = local[a:z]
    used = np.unique(part.indices)
    if not used.size:
        return local
    solved = _solve_big(solver, part[:, used].toarray(), notes)
    r, c = np.nonzero(solved)
    middle = sp.csr_array((solved[r, c], (r, used[c])), shape=part.shape)
    return sp.csr_array(sp.vstack([local[:a], middle, local[z:]], format="csr"))


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
