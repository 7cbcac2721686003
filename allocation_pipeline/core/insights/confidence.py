"""Confidence that can fail: out-of-sample evidence across units and a permutation test, so that a
driver key is only called confident when the drivers explain consumption better than chance would.

Why across units: when each unit's consumption and drivers stay steady from month to month, a key
fitted on some months predicts the other months of the same units almost perfectly whatever the
drivers are; holding out months tests nothing. A key must instead predict a unit it was not fitted
on. The statistic is the leave-one-unit-out R^2 (against an even split) of the non-negative least
squares key over every candidate driver: each unit is predicted by the weights fitted on the other
units, every month. It involves no driver selection (the non-negative fit zeroes drivers on its
own), so the permutation test below includes everything the statistic does.

The permutation test shuffles consumption across units within each month (NumPy generator with a
fixed seed, so the same inputs give the same p-value). The same shuffle of units is used in every
month of one permutation: a unit's consumption history moves as a whole, which keeps its
month-to-month persistence; shuffling each month independently would break that persistence and
make chance correlations between persistent drivers and persistent consumption look significant.

Labels (thresholds in `ConfidenceSettings`): strong and moderate are "confident"; weak is a real
but small effect, shown and never written into the rules; none means no driver explains the pool.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
from scipy.optimize import nnls

STRONG, MODERATE, WEAK, NONE = "strong", "moderate", "weak", "none"
LABELS = (NONE, WEAK, MODERATE, STRONG)  # in rising order of confidence
CONFIDENT = (STRONG, MODERATE)


@dataclass(frozen=True)
class ConfidenceSettings:
    """When a key's evidence earns a label; `permutations` and `seed` fix the permutation test.

    strong: p <= strong_p and out-of-sample R^2 >= strong_r2; moderate: p <= moderate_p and
    R^2 >= moderate_r2; weak: p <= weak_p; none otherwise. A confident label also needs the key's
    R^2 over every unit (left-out ones included) of at least `min_all_units_r2`."""

    permutations: int = 499
    seed: int = 20260
    strong_p: float = 0.005
    strong_r2: float = 0.6
    moderate_p: float = 0.01
    moderate_r2: float = 0.3
    weak_p: float = 0.1
    min_all_units_r2: float = 0.3


def label_of(p_value: float, r2: float, settings: ConfidenceSettings) -> str:
    """The label a p-value and an out-of-sample R^2 earn (NaN R^2 counts as none)."""
    r2 = r2 if r2 == r2 else -np.inf
    if p_value <= settings.strong_p and r2 >= settings.strong_r2:
        return STRONG
    if p_value <= settings.moderate_p and r2 >= settings.moderate_r2:
        return MODERATE
    if p_value <= settings.weak_p:
        return WEAK
    return NONE


def lower(label: str, cap: str) -> str:
    """The lower of two labels."""
    return LABELS[min(LABELS.index(label), LABELS.index(cap))]


@dataclass(frozen=True)
class Panel:
    """Consumption and driver shares of the units present in every month: Y (units x months) and
    S (units x months x drivers); shares sum to one over the panel's units in each month."""

    units: tuple[str, ...]
    Y: np.ndarray
    S: np.ndarray

    @classmethod
    def from_rows(cls, S: np.ndarray, y: np.ndarray, pidx: np.ndarray, objects: np.ndarray) -> "Panel":
        """The balanced panel of rows (shares, period index, unit of each row): units missing in
        some month are left out, and the shares are taken again over the units that remain."""
        periods = np.unique(pidx)
        units = sorted(set(objects.tolist()))
        counts = {u: 0 for u in units}
        for o in objects.tolist():
            counts[o] += 1
        units = [u for u in units if counts[u] == len(periods)]
        index = {u: i for i, u in enumerate(units)}
        Y = np.zeros((len(units), len(periods)))
        D = np.zeros((len(units), len(periods), S.shape[1]))
        column = np.searchsorted(periods, pidx)
        for row, o in enumerate(objects.tolist()):
            i = index.get(o)
            if i is not None:
                Y[i, column[row]] = y[row]
                D[i, column[row]] = S[row]
        Y = _shares(Y)
        D = np.stack([_shares(D[:, :, j]) for j in range(D.shape[2])], axis=2) if D.shape[2] else D
        return cls(tuple(units), Y, D)


def _shares(X: np.ndarray) -> np.ndarray:
    totals = X.sum(axis=0, keepdims=True)
    return np.divide(X, totals, out=np.full_like(X, 1.0 / max(len(X), 1)), where=totals > 0)


def loo_unit_predictions(S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Each unit's consumption shares (units x months) as predicted by the non-negative key fitted
    on the other units, for one or several consumption matrices: Y of shape (units, months) or
    (draws, units, months); the result has Y's shape."""
    single = Y.ndim == 2
    Ys = Y[None] if single else Y
    units, _, k = S.shape
    G_unit = np.einsum("utk,utl->ukl", S, S)
    G_all = G_unit.sum(axis=0)
    b_unit = np.einsum("utk,dut->duk", S, Ys)
    b_all = b_unit.sum(axis=1)
    out = np.empty_like(Ys)
    ridge = 1e-12 * max(float(np.trace(G_all)), 1e-300)
    for u in range(units):
        G = G_all - G_unit[u] + ridge * np.eye(k)
        try:
            L = np.linalg.cholesky(G)
        except np.linalg.LinAlgError:
            L = np.linalg.cholesky(G + 1e-9 * np.trace(G) * np.eye(k))
        # nnls on (L^T, L^-1 b) minimises w'Gw - 2w'b, the least squares of the other units.
        C = np.linalg.solve(L, (b_all - b_unit[:, u]).T).T
        A = L.T
        W = np.zeros((len(Ys), k))
        for d in range(len(Ys)):
            w, _ = nnls(A, C[d])
            total = w.sum()
            W[d] = w / total if total > 0 else 1.0 / k
        out[:, u] = np.einsum("tk,dk->dt", S[u], W)
    return out[0] if single else out


def r2_against_even(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """R^2 of predictions P against an even split of each month, over the last two axes."""
    even = 1.0 / Y.shape[-2]
    total = ((Y - even) ** 2).sum(axis=(-2, -1))
    return 1.0 - ((Y - P) ** 2).sum(axis=(-2, -1)) / np.where(total > 0, total, np.nan)


@dataclass(frozen=True)
class Evidence:
    """The permutation test of the leave-one-unit-out key. `oos_r2`: its R^2 on the data;
    `null_r2`: the median under the shuffles; `p_value`: (1 + shuffles at least as good) /
    (1 + shuffles); `predictions`: each unit's held-out prediction (units x months)."""

    units: tuple[str, ...]
    months: int
    oos_r2: float
    oos_error_points: float
    null_r2: float
    p_value: float
    permutations: int
    seed: int
    predictions: np.ndarray


def permutation_evidence(panel: Panel, settings: ConfidenceSettings) -> Evidence:
    """Leave-one-unit-out R^2 of the data and of `settings.permutations` shuffles of the units."""
    units, months = panel.Y.shape
    rng = np.random.default_rng(settings.seed)
    order = np.argsort(rng.random((settings.permutations, units)), axis=1)
    shuffled = panel.Y[order]  # (draws, units, months): whole unit histories moved together
    draws = np.concatenate([panel.Y[None], shuffled], axis=0)
    predictions = loo_unit_predictions(panel.S, draws)
    r2 = r2_against_even(draws, predictions)
    observed = float(r2[0])
    null = r2[1:]
    beaten = int(np.sum(null >= observed - 1e-12)) if observed == observed else len(null)
    p_value = (1 + beaten) / (1 + len(null))
    error = float(np.mean(np.abs(panel.Y - predictions[0])) * 100)
    return Evidence(
        panel.units, months, observed, error, float(np.nanmedian(null)) if len(null) else float("nan"), p_value,
        len(null), settings.seed, predictions[0],
    )


def unit_evidence(panel: Panel, evidence: Evidence, unit: str) -> tuple[int, int, float]:
    """A unit's own evidence for being left out: in how many months its consumption lies on the
    same side of its held-out prediction as in its median month, out of how many, and the
    one-sided sign-test p-value of that count."""
    from scipy.stats import binomtest

    if unit not in panel.units:
        return 0, 0, 1.0
    i = panel.units.index(unit)
    residual = panel.Y[i] - evidence.predictions[i]
    sign = np.sign(np.median(residual))
    if sign == 0:
        return 0, len(residual), 1.0
    same = int(np.sum(np.sign(residual) == sign))
    return same, len(residual), float(binomtest(same, len(residual), 0.5, alternative="greater").pvalue)


def key_confidence_by_period(shares: list[tuple[str, np.ndarray, np.ndarray]], settings: ConfidenceSettings) -> list[dict]:
    """A fixed key's confidence per month, from (period, consumption shares, key shares) of the
    same units. In each month the consumption is shuffled across the units; the p-value says how
    often a shuffle follows the key at least as well (R^2 against an even split) as the month did."""
    rng = np.random.default_rng(settings.seed)
    rows = []
    for period, y, k in shares:
        even = 1.0 / len(y)
        total = float(((y - even) ** 2).sum())
        if len(y) < 3 or total <= 0:
            continue
        order = np.argsort(rng.random((settings.permutations, len(y))), axis=1)
        draws = np.concatenate([y[None], y[order]], axis=0)
        r2 = 1.0 - ((draws - k) ** 2).sum(axis=1) / total
        p = (1 + int(np.sum(r2[1:] >= r2[0] - 1e-12))) / (1 + settings.permutations)
        rows.append({"period": period, "units": int(len(y)), "r2": float(r2[0]), "p_value": p, "label": label_of(p, float(r2[0]), settings)})
    return rows


@dataclass(frozen=True)
class Confidence:
    """How far a pool's recommendation can be trusted, with the numbers behind the label.

    `p_value`: share of shuffles (consumption moved across units) whose held-out key does at least
    as well, `oos_r2` / `oos_error_points`: leave-one-unit-out R^2 and mean absolute error in points
    of share, `null_r2`: the shuffles' median R^2, `all_units_r2` / `all_units_error_points`: the
    recommended key over every unit, left-out ones included (None: no key), `kept_r2`: over the
    units kept in the fit, `units`: units in the test (present in every month)."""

    label: str
    p_value: float
    permutations: int
    seed: int
    oos_r2: float
    oos_error_points: float
    null_r2: float
    units: int
    all_units_r2: float | None
    all_units_error_points: float | None
    kept_r2: float | None
    sentence: str

    @property
    def confident(self) -> bool:
        return self.label in CONFIDENT


def assess(
    evidence: Evidence, settings: ConfidenceSettings, all_units_r2: float | None, all_units_error: float | None, kept_r2: float | None
) -> Confidence:
    """The label of the evidence: confident only with the key's fit over every unit good enough too."""
    label = label_of(evidence.p_value, evidence.oos_r2, settings)
    if label in CONFIDENT and (all_units_r2 is None or not all_units_r2 >= settings.min_all_units_r2):
        label = WEAK
    sentence = describe(label, evidence, all_units_r2)
    return Confidence(
        label, evidence.p_value, evidence.permutations, evidence.seed, evidence.oos_r2, evidence.oos_error_points, evidence.null_r2,
        len(evidence.units), all_units_r2, all_units_error, kept_r2, sentence,
    )


def describe(label: str, evidence: Evidence, all_units_r2: float | None) -> str:
    """One plain sentence for a label and the numbers behind it."""
    chance = (
        f"{evidence.p_value:.1%} of {evidence.permutations} shuffles of consumption across the {len(evidence.units)} units "
        f"do as well (p = {evidence.p_value:.3f})"
    )
    held_out = f"a key fitted on the other units explains {max(evidence.oos_r2, 0):.0%} of a held-out unit's consumption (R2 {evidence.oos_r2:.2f})"
    every = f"; over every unit, excluded ones included, the key's R2 is {all_units_r2:.2f}" if all_units_r2 is not None else ""
    if label == NONE:
        return f"No driver explains this pool: {held_out}, and {chance}, so nothing is proposed."
    if label == WEAK:
        return f"Weak evidence: {held_out}, and {chance}{every}; not a basis for changing a rule."
    return f"{label.capitalize()} evidence: {held_out}, and only {chance}{every}."
