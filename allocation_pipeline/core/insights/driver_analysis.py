"""Driver analysis: which candidate drivers follow a pool's observed consumption, a non-negative
weighted key, its fit across periods, and a recommendation in plain words with the figures behind it.

Everything is measured in shares within a period, the way an allocation uses a driver: a cost
object's share of a driver is its value over the period's total across the cost objects, and its
share of consumption likewise. A single driver's key is its share; a weighted key is the weighted
sum of the drivers' shares (the `weighted_drivers` method), with weights from non-negative least
squares (scipy `nnls`). Fit quality is R^2 against an even split (below 0: worse than splitting
evenly) and the mean absolute error of the shares in percentage points, for the weighted key
measured on periods it was not fitted on (leave one period out). A driver whose removal does not
raise that error adds nothing and gets weight zero. Cost objects whose consumption no mix of
drivers explains (a planted over-consumer, say) are left out of the fit by a robust rule: a least
absolute deviations start (scipy `linprog`), then the median and MAD of each object's residuals,
so they neither skew the key nor hide each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linprog, nnls

from allocation_pipeline.core.insights.confidence import (
    NONE, Confidence, ConfidenceSettings, Panel, assess, permutation_evidence, unit_evidence,
)
from allocation_pipeline.core.money import largest_remainder

# A cost object is left out of the fit when its median relative residual is this many robust
# standard deviations from the others' and at least this far off its key (15%).
OUTLIER_Z = 3.5
OUTLIER_MIN_RESIDUAL = 0.15
# A driver adds nothing when leaving it out raises the out-of-period error by less than 2%.
ADDS_NOTHING_TOLERANCE = 0.02
# A weighted key is recommended over the best single driver only if it cuts the error by 10%.
BLEND_MIN_GAIN = 0.10
# Drivers moving together this closely cannot be told apart well; the rationale says so.
COLLINEAR = 0.9
WEAK_FIT_R2 = 0.5
# A cost object is only left out when it lies on the same side of its held-out prediction in so
# many months that a coin would do so with at most this probability (one-sided sign test).
UNIT_SIGN_P = 0.05

STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient_data"
# The analysis ran, but no driver explains the pool better than chance: nothing is proposed.
STATUS_NO_EVIDENCE = "no_evidence"
NO_DRIVER = "no driver explains this pool"


CONFIDENCE_COLUMNS = [
    "period", "pool_id", "label", "p_value", "permutations", "seed", "oos_r2", "oos_error_points", "null_r2", "units_tested",
    "all_units_r2", "all_units_error_points", "kept_r2", "units_left_out", "proposed", "sentence",
]


@dataclass(frozen=True)
class DriverFit:
    """One candidate driver. Figures are None when there was too little data to compute them.

    `correlation`: Pearson r of its shares with the consumption shares; `r2`: R^2 of its shares
    as the key (against an even split); `error_points`: mean absolute difference between its
    shares and the consumption shares, in percentage points (a single driver has nothing fitted,
    so this is also its out-of-period error); `weight_percent`: its weight in the weighted key
    (0: it adds nothing); `note`: why it got that weight, in words.
    """

    driver: str
    correlation: float | None
    r2: float | None
    error_points: float | None
    weight_percent: int
    note: str


@dataclass(frozen=True)
class Recommendation:
    """The method a rule should use: `driver` with {driver: X} or `weighted_drivers` with {weights: {...}}."""

    method: str
    parameters: Mapping[str, Any]
    label: str
    r2: float
    error_points: float
    reasons: tuple[str, ...]
    confidence: str = ""

    @property
    def confident(self) -> bool:
        """Strong or moderate evidence: only then may it be written into the rules."""
        return self.confidence in ("strong", "moderate")


@dataclass(frozen=True)
class DriverAnalysis:
    """The analysis of one pool. `status` is `ok`, or `insufficient_data` with the reason in
    `notes` and no weights or recommendation. `left_out` maps each cost object left out of the
    fit to its median relative residual (+0.8: it consumed 80% more than its key says)."""

    pool_id: str
    consumption: str
    dimension: str
    status: str
    periods: tuple[str, ...]
    cost_objects: tuple[str, ...]
    drivers: tuple[DriverFit, ...]
    weighted_r2: float | None = None
    weighted_error_points: float | None = None
    recommendation: Recommendation | None = None
    left_out: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    confidence: Confidence | None = None

    def weights(self) -> dict[str, int]:
        """The weighted key in percent, drivers with weight only, largest first."""
        return {d.driver: d.weight_percent for d in sorted(self.drivers, key=lambda d: -d.weight_percent) if d.weight_percent > 0}

    def report(self) -> str:
        """The analysis as text: the figures per driver, the recommendation and its reasons."""
        head = (
            f"Driver analysis of pool {self.pool_id}: consumption {self.consumption} over {len(self.cost_objects)} "
            f"{self.dimension.replace('_', ' ')}(s), {len(self.periods)} period(s)"
            + (f" ({self.periods[0]} to {self.periods[-1]})" if self.periods else "")
        )
        lines = [head]
        if self.status == STATUS_INSUFFICIENT:
            lines += [f"  Too little data: {n}" for n in self.notes]
            lines.append("  No recommendation.")
            return "\n".join(lines)
        width = max(12, *(len(d.driver) for d in self.drivers))
        lines.append(f"  {'driver':<{width}}  {'correlation':>11}  {'R2 as key':>9}  {'error (pts)':>11}  {'weight':>6}")
        for d in self.drivers:
            lines.append(
                f"  {d.driver:<{width}}  {_num(d.correlation):>11}  {_num(d.r2):>9}  {_num(d.error_points):>11}  {d.weight_percent:>5}%  {d.note}"
            )
        lines.append(
            f"  {'weighted key':<{width}}  {'':>11}  {_num(self.weighted_r2):>9}  {_num(self.weighted_error_points):>11}  {'':>6}  "
            "error measured on periods left out of the fit"
        )
        if self.confidence is not None:
            c = self.confidence
            every = f", all units R2 {_num(c.all_units_r2)}" if c.all_units_r2 is not None else ""
            lines.append(
                f"Confidence: {c.label} (p = {c.p_value:.3f} over {c.permutations} shuffles, seed {c.seed}; "
                f"out-of-sample R2 {c.oos_r2:.2f} leaving out one of {c.units} units at a time{every})"
            )
            lines.append(f"  {c.sentence}")
        if self.recommendation is not None:
            lines.append(f"Recommendation: {self.recommendation.method} ({self.recommendation.label}), confidence {self.recommendation.confidence}")
            lines += [f"  - {r}" for r in self.recommendation.reasons]
        elif self.status == STATUS_NO_EVIDENCE:
            lines.append(f"Recommendation: none; {NO_DRIVER}, so nothing is proposed.")
        lines += [f"  Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def confidence_frame(self, period: str) -> pd.DataFrame:
        """One row for the pool's confidence (the warehouse table driver_confidence); empty without a test."""
        c = self.confidence
        if c is None:
            return pd.DataFrame(columns=CONFIDENCE_COLUMNS)
        rec = self.recommendation
        row = {
            "period": period, "pool_id": self.pool_id, "label": c.label, "p_value": c.p_value, "permutations": c.permutations,
            "seed": c.seed, "oos_r2": c.oos_r2, "oos_error_points": c.oos_error_points, "null_r2": c.null_r2, "units_tested": c.units,
            "all_units_r2": c.all_units_r2, "all_units_error_points": c.all_units_error_points, "kept_r2": c.kept_r2,
            "units_left_out": ",".join(self.left_out), "proposed": rec is not None and rec.confident, "sentence": c.sentence,
        }
        return pd.DataFrame([row], columns=CONFIDENCE_COLUMNS)

    def frame(self, period: str) -> pd.DataFrame:
        """One row per candidate driver, with the pool's figures and recommendation repeated (for the warehouse)."""
        rec = self.recommendation
        common = {
            "period": period, "pool_id": self.pool_id, "consumption": self.consumption, "status": self.status,
            "periods_used": len(self.periods), "first_period": self.periods[0] if self.periods else None,
            "last_period": self.periods[-1] if self.periods else None, "cost_objects": len(self.cost_objects),
            "weighted_r2": self.weighted_r2, "weighted_error_points": self.weighted_error_points,
            "recommended_method": rec.method if rec else None,
            "recommended_parameters": json.dumps(dict(rec.parameters), sort_keys=True) if rec else None,
            "recommendation": rec.label if rec else None,
            "rationale": " ".join(rec.reasons) if rec else " ".join(([self.confidence.sentence] if self.confidence else []) + list(self.notes)),
        }
        rows = [
            {**common, "driver": d.driver, "correlation": d.correlation, "r2": d.r2, "error_points": d.error_points,
             "weight_percent": d.weight_percent, "note": d.note}
            for d in self.drivers
        ]
        columns = ["period", "pool_id", "driver", "correlation", "r2", "error_points", "weight_percent", "note", *list(common)[1:]]
        return pd.DataFrame(rows, columns=list(dict.fromkeys(columns)))


def analyse_drivers(
    history: pd.DataFrame,
    consumption: str,
    candidates: list[str] | tuple[str, ...],
    *,
    pool_id: str = "",
    dimension: str = "cost_center",
    targets: list[str] | tuple[str, ...] | None = None,
    min_periods: int = 3,
    min_objects: int | None = None,
    settings: ConfidenceSettings | None = None,
) -> DriverAnalysis:
    """Analyse `candidates` against the `consumption` metric in `history` (driver values of
    several periods: period, driver, dimension, cost_object, value), over `targets` (default:
    every cost object with consumption). Needs `min_periods` periods with consumption and
    `min_objects` cost objects (default: one more than the candidates, at least 4).

    The confidence comes from every cost object (`confidence` module); cost objects are left out
    of the fit only when the drivers beat chance (p within the moderate level) and each has its own (a sign test of its
    held-out residuals), and leaving them out never raises the label. Without evidence the
    status is `no_evidence`: the figures are reported, weights and recommendation are not."""
    settings = settings or ConfidenceSettings()
    candidates = list(dict.fromkeys(candidates))
    min_objects = min_objects or max(4, len(candidates) + 1)
    data = _Data.build(history, consumption, candidates, dimension, targets)
    notes = list(data.notes)
    shortfalls = []
    if len(data.periods) < min_periods:
        have = ", ".join(data.periods) if data.periods else "none"
        shortfalls.append(
            f"{len(data.periods)} period(s) with {consumption} ({have}); the analysis needs at least {min_periods} "
            "so that every period can be checked against a key fitted on the others"
        )
    if len(data.objects) < min_objects:
        shortfalls.append(
            f"{len(data.objects)} cost object(s) with {consumption}; {len(data.drivers) or len(candidates)} candidate driver(s) "
            f"need at least {min_objects} to be told apart"
        )
    if not data.drivers:
        shortfalls.append("no candidate driver has values for these cost objects")
    if shortfalls:
        fits = tuple(DriverFit(d, None, None, None, 0, "not analysed: too little data") for d in candidates)
        return DriverAnalysis(pool_id, consumption, dimension, STATUS_INSUFFICIENT, data.periods, data.objects, fits, notes=tuple(shortfalls + notes))

    panel = Panel.from_rows(data.S, data.y, data.pidx, data.object_of_row)
    if len(panel.units) < 3:
        notes.append(
            f"only {len(panel.units)} cost object(s) have {consumption} in every period; the confidence test needs at least 3"
        )
        fits = tuple(DriverFit(d, None, None, None, 0, "not analysed: too little data") for d in candidates)
        return DriverAnalysis(pool_id, consumption, dimension, STATUS_INSUFFICIENT, data.periods, data.objects, fits, notes=tuple(notes))
    evidence = permutation_evidence(panel, settings)
    left_out: dict[str, float] = {}
    if evidence.p_value <= settings.moderate_p:
        for unit, residual in _robust_exclusions(data, min_objects).items():
            same, months, p = unit_evidence(panel, evidence, unit)
            if p <= UNIT_SIGN_P:
                left_out[unit] = residual
            else:
                notes.append(
                    f"{unit} looks far off the key ({residual:+.0%} in the median period) but lies on that side of its held-out "
                    f"prediction in only {same} of {months} periods (sign test p = {p:.2f}); kept in the fit"
                )
    keep = ~np.isin(data.object_of_row, list(left_out))
    S, y, pidx = data.S[keep], data.y[keep], data.pidx[keep]
    base = _even_split(pidx)
    singles = {
        d: (_correlation(S[:, j], y), _r2(y, S[:, j], base), _mae_points(y, S[:, j], pidx))
        for j, d in enumerate(data.drivers)
    }

    # Start from the non-negative fit over every driver; then drop, one at a time, the driver whose
    # absence costs least out of period, while it costs less than the tolerance.
    full = _fit(S, y)
    active = [j for j in range(len(data.drivers)) if full is not None and full[j] > 0]
    why_zero: dict[int, str] = {j: "adds nothing: the best non-negative fit gives it no weight" for j in range(len(data.drivers)) if j not in active}
    error = _cv_points(S, y, pidx, active)
    while len(active) > 1:
        trials = {j: _cv_points(S, y, pidx, [k for k in active if k != j]) for j in active}
        j = min(trials, key=lambda k: (trials[k], k))
        if trials[j] > error * (1 + ADDS_NOTHING_TOLERANCE):
            break
        why_zero[j] = f"adds nothing: without it the out-of-period error goes from {error:.2f} to {trials[j]:.2f} points"
        active.remove(j)
        error = trials[j]
    weights = np.zeros(len(data.drivers))
    if active:
        fitted = _fit(S[:, active], y)
        weights[active] = fitted if fitted is not None else 1.0 / len(active)
    percents = largest_remainder(100, weights) if weights.sum() > 0 else np.zeros(len(data.drivers), dtype=np.int64)
    for j in active:
        if percents[j] == 0:
            why_zero[j] = "adds nothing: its fitted weight rounds to 0%"
    corr = np.corrcoef(S.T) if S.shape[1] > 1 else np.ones((1, 1))
    in_key = [j for j in range(len(data.drivers)) if percents[j] > 0]
    fits = []
    for j, d in enumerate(data.drivers):
        r, r2, mae = singles[d]
        if percents[j] > 0:
            note = f"weight {percents[j]}% in the key"
        else:
            note = why_zero.get(j, "adds nothing")
            partner = max(in_key, key=lambda k: abs(corr[j, k]), default=None)
            if partner is not None and np.isfinite(corr[j, partner]) and abs(corr[j, partner]) >= COLLINEAR:
                note += f" (it moves with {data.drivers[partner]}, correlation {corr[j, partner]:.2f})"
        fits.append(DriverFit(d, r, r2, mae, int(percents[j]), note))
    for d in candidates:
        if d not in data.drivers:
            fits.append(DriverFit(d, None, None, None, 0, "not analysed: no usable values"))
    key_pred = S @ (percents / 100.0)
    weighted_r2 = _r2(y, key_pred, base)
    weighted_error = _cv_points(S, y, pidx, in_key)
    recommendation = _recommend(data, fits, percents, weighted_r2, weighted_error, left_out)
    # The recommended key over every cost object, the ones left out included.
    rec_weights = np.array([_key_weight(recommendation, d) for d in data.drivers])
    all_pred = data.S @ rec_weights
    all_r2 = _r2(data.y, all_pred, _even_split(data.pidx))
    all_error = _mae_points(data.y, all_pred, data.pidx)
    confidence = assess(evidence, settings, all_r2, all_error, _r2(y, S @ rec_weights, base))
    if confidence.label == NONE:
        fits = [
            DriverFit(f.driver, f.correlation, f.r2, f.error_points, 0, "no key: " + NO_DRIVER if f.error_points is not None else f.note)
            for f in fits
        ]
        return DriverAnalysis(
            pool_id, consumption, dimension, STATUS_NO_EVIDENCE, data.periods, data.objects, tuple(fits),
            weighted_r2, weighted_error, None, {}, tuple(notes), confidence,
        )
    reasons = (*recommendation.reasons, confidence.sentence)
    recommendation = Recommendation(
        recommendation.method, recommendation.parameters, recommendation.label, recommendation.r2, recommendation.error_points,
        reasons, confidence.label,
    )
    return DriverAnalysis(
        pool_id, consumption, dimension, STATUS_OK, data.periods, data.objects, tuple(fits),
        weighted_r2, weighted_error, recommendation, left_out, tuple(notes), confidence,
    )


def _key_weight(recommendation: Recommendation, driver: str) -> float:
    """A driver's weight (0 to 1) in a recommended key."""
    if recommendation.method == "driver":
        return 1.0 if recommendation.parameters.get("driver") == driver else 0.0
    return float(recommendation.parameters.get("weights", {}).get(driver, 0)) / 100.0


# --- data ---------------------------------------------------------------------------------------


@dataclass
class _Data:
    """Shares per (period, cost object) row: S (rows x drivers), y (consumption), pidx (period index)."""

    periods: tuple[str, ...]
    objects: tuple[str, ...]
    drivers: list[str]
    S: np.ndarray
    y: np.ndarray
    pidx: np.ndarray
    object_of_row: np.ndarray
    notes: list[str]

    @classmethod
    def build(cls, history: pd.DataFrame, consumption: str, candidates: list[str], dimension: str, targets) -> "_Data":
        notes: list[str] = []
        frame = history[(history["dimension"] == dimension) & history["driver"].isin([*candidates, consumption])]
        if targets is not None:
            frame = frame[frame["cost_object"].isin(list(targets))]
        frame = frame.astype({"period": str, "driver": str, "cost_object": str})
        table = frame.pivot_table(index=["period", "cost_object"], columns="driver", values="value", aggfunc="sum", sort=True)
        if consumption not in table.columns:
            notes.append(f"no values of the consumption metric {consumption} for {dimension.replace('_', ' ')}s")
            return cls((), (), [], np.zeros((0, 0)), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, object), notes)
        table = table[table[consumption].notna()]
        totals = table.groupby(level="period")[consumption].transform("sum")
        empty = sorted(set(table.index.get_level_values("period")[totals <= 0]))
        if empty:
            notes.append(f"{consumption} totals zero in {', '.join(empty)}; left out")
            table = table[totals > 0]
        drivers = []
        for d in candidates:
            if d not in table.columns or table[d].isna().all():
                notes.append(f"{d} has no values for the cost objects with {consumption}; left out")
                continue
            missing = int(table[d].isna().sum())
            if missing:
                notes.append(f"{d} is missing for {missing} cost object-period(s), counted as 0 as the weighted_drivers method does")
            per_period = table[d].fillna(0.0).groupby(level="period").sum()
            if (per_period <= 0).any():
                zero = ", ".join(per_period.index[per_period <= 0])
                notes.append(f"{d} totals zero in {zero}, so it cannot share a pool there; left out")
                continue
            drivers.append(d)
        table = table.fillna(0.0)
        period_of_row = table.index.get_level_values("period").to_numpy(dtype=object)
        periods = tuple(sorted(set(period_of_row)))
        by_period = table.groupby(level="period")
        S = (table[drivers] / by_period[drivers].transform("sum")).to_numpy(np.float64) if drivers else np.zeros((len(table), 0))
        y = (table[consumption] / by_period[consumption].transform("sum")).to_numpy(np.float64)
        pidx = np.searchsorted(np.array(periods, dtype=object), period_of_row) if len(table) else np.zeros(0, np.int64)
        object_of_row = table.index.get_level_values("cost_object").to_numpy(dtype=object)
        return cls(periods, tuple(sorted(set(object_of_row))), drivers, S, y, np.asarray(pidx, np.int64), object_of_row, notes)


# --- statistics ---------------------------------------------------------------------------------


def _fit(S: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Non-negative least squares weights, normalised to sum to one (None: all zero)."""
    if S.shape[1] == 0:
        return None
    w, _ = nnls(S, y)
    return w / w.sum() if w.sum() > 0 else None


def _fit_lad(S: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Non-negative weights minimising the sum of absolute relative errors (a linear programme),
    normalised to sum to one (None: no solution or all zero)."""
    n, k = S.shape
    if k == 0 or n == 0:
        return None
    relative = 1.0 / np.maximum(y, 0.1 * np.median(y[y > 0]) if (y > 0).any() else 1.0)
    cost = np.concatenate([np.zeros(k), relative, relative])
    equality = np.hstack([S, np.eye(n), -np.eye(n)])
    result = linprog(cost, A_eq=equality, b_eq=y, bounds=[(0, None)] * (k + 2 * n), method="highs")
    if not result.success:
        return _fit(S, y)
    w = result.x[:k]
    return w / w.sum() if w.sum() > 0 else None


def _cv_points(S: np.ndarray, y: np.ndarray, pidx: np.ndarray, columns: list[int]) -> float:
    """Leave-one-period-out mean absolute error of the shares, in percentage points."""
    if not columns:
        return float("inf")
    errors = []
    for p in np.unique(pidx):
        train, test = pidx != p, pidx == p
        w = _fit(S[train][:, columns], y[train])
        if w is None:
            return float("inf")
        errors.append(np.mean(np.abs(y[test] - S[test][:, columns] @ w)))
    return float(np.mean(errors) * 100)


def _mae_points(y: np.ndarray, pred: np.ndarray, pidx: np.ndarray) -> float:
    """Mean absolute error per period, averaged over periods, in percentage points."""
    return float(np.mean([np.mean(np.abs(y[pidx == p] - pred[pidx == p])) for p in np.unique(pidx)]) * 100)


def _even_split(pidx: np.ndarray) -> np.ndarray:
    counts = np.bincount(pidx)
    return 1.0 / counts[pidx]


def _r2(y: np.ndarray, pred: np.ndarray, base: np.ndarray) -> float:
    total = float(np.sum((y - base) ** 2))
    if total <= 0:
        return float("nan")
    return 1.0 - float(np.sum((y - pred) ** 2)) / total


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    if np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _robust_exclusions(data: _Data, min_objects: int) -> dict[str, float]:
    """Cost objects whose consumption no mix of the drivers explains: refit without them until
    the set is stable. Decided on each object's median relative residual, with the median and
    MAD across objects, so one far-off object does not hide another."""
    left_out: dict[str, float] = {}
    objects = np.array(data.objects, dtype=object)
    for step in range(10):
        keep = ~np.isin(data.object_of_row, list(left_out))
        # Start from least relative absolute deviations, which far-off objects barely pull; then
        # refit by least squares on the objects kept.
        w = _fit_lad(data.S, data.y) if step == 0 else _fit(data.S[keep], data.y[keep])
        if w is None:
            return {}
        pred = data.S @ w
        relative = np.divide(data.y - pred, pred, out=np.zeros_like(pred), where=pred > 0)
        medians = np.array([np.median(relative[data.object_of_row == o]) for o in objects])
        center = np.median(medians)
        scale = 1.4826 * np.median(np.abs(medians - center))
        far = np.abs(medians - center) >= OUTLIER_MIN_RESIDUAL
        if scale > 0:
            far &= np.abs(medians - center) > OUTLIER_Z * scale
        order = np.argsort(-np.abs(medians - center), kind="stable")
        allowed = max(0, len(objects) - min_objects)
        chosen = [i for i in order if far[i]][:allowed]
        found = {str(objects[i]): float(medians[i]) for i in chosen}
        if set(found) == set(left_out):
            return dict(sorted(found.items()))
        left_out = found
    return dict(sorted(left_out.items()))


# --- the recommendation -------------------------------------------------------------------------


def _recommend(
    data: _Data, fits: list[DriverFit], percents: np.ndarray, weighted_r2: float, weighted_error: float, left_out: Mapping[str, float]
) -> Recommendation:
    analysed = [f for f in fits if f.error_points is not None]
    best = min(analysed, key=lambda f: (f.error_points, f.driver))
    by_correlation = max(analysed, key=lambda f: (f.correlation if f.correlation is not None else -2, f.driver))
    keyed = sorted(((d, int(p)) for d, p in zip(data.drivers, percents) if p > 0), key=lambda x: (-x[1], x[0]))
    label = " + ".join(f"{d} {p}%" for d, p in keyed)
    objects = f"{len(data.objects) - len(left_out)} cost object(s)"
    reasons = [
        f"Measured over {len(data.periods)} periods ({data.periods[0]} to {data.periods[-1]}) and {objects}: each driver's "
        "share of a period's total against the share of consumption."
    ]
    reasons.append(
        f"Of the single drivers, {by_correlation.driver} moves most closely with consumption (correlation {_num(by_correlation.correlation)}); "
        f"{best.driver} is the best key on its own, off by {best.error_points:.2f} points of share per cost object on average "
        f"(R2 {best.r2:.2f}{'; below 0 means worse than an even split' if best.r2 < 0 else ''})."
    )
    gain = 1 - weighted_error / best.error_points if best.error_points > 0 else 0.0
    blend = len(keyed) >= 2 and gain >= BLEND_MIN_GAIN
    if blend:
        method, parameters = "weighted_drivers", {"weights": dict(keyed)}
        reasons.append(
            f"A weighted key of {label} explains {max(weighted_r2, 0):.0%} of the variation in consumption shares (R2 {weighted_r2:.2f}) "
            f"and is off by {weighted_error:.2f} points on average in periods it was not fitted on (each of the "
            f"{len(data.periods)} periods held out in turn), against {best.error_points:.2f} for {best.driver} alone: {gain:.0%} less error."
        )
        r2, error = weighted_r2, weighted_error
    else:
        method, parameters = "driver", {"driver": best.driver}
        if len(keyed) >= 2:
            reasons.append(
                f"A weighted key ({label}) would be off by {weighted_error:.2f} points out of period, only {gain:.0%} better than "
                f"{best.driver} alone, less than the {BLEND_MIN_GAIN:.0%} a blend must gain; one driver is simpler to defend."
            )
        else:
            reasons.append(f"No other driver lowers the error once {best.driver} is in the key.")
        label = best.driver
        r2, error = best.r2, best.error_points
    for f in fits:
        if f.weight_percent == 0 and f.error_points is not None and not (not blend and f.driver == best.driver):
            reasons.append(f"{f.driver} {f.note}.")
    if left_out:
        over = {o: r for o, r in left_out.items() if r > 0}
        under = {o: r for o, r in left_out.items() if r < 0}
        if over:
            reasons.append(
                f"{_join(list(over))} consume{'s' if len(over) == 1 else ''} far more than any mix of these drivers explains "
                f"({', '.join(f'{r:+.0%}' for r in over.values())} in the median period); left out of the fit, worth a review as over-consumers."
            )
        if under:
            reasons.append(
                f"{_join(list(under))} consume{'s' if len(under) == 1 else ''} far less than the drivers say "
                f"({', '.join(f'{r:+.0%}' for r in under.values())} in the median period); left out of the fit, worth a review as under-consumers."
            )
    if r2 < WEAK_FIT_R2:
        reasons.append(
            f"Even the recommended key explains little (R2 {r2:.2f}): consumption depends on something these drivers do not measure; "
            "look for another driver before relying on it."
        )
    return Recommendation(method, parameters, label, r2, error, tuple(reasons))


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _num(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.2f}"
