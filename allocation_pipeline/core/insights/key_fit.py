"""A rule's own key against observed consumption, period by period: the shares its method gives
the cost objects it targets next to their consumption shares, and how well they fit (R^2 against
an even split, mean absolute error in points). The anomaly flags fit_drop and confidence_drop
read it; measured the same way as the driver analysis measures a candidate key."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.methods import AllocationMethod, MethodError, MethodRequest, available_methods, get_method
from allocation_pipeline.core.allocation.rules import Rule
from allocation_pipeline.core.insights.driver_analysis import _even_split, _mae_points, _r2


def key_fit_by_period(
    history: pd.DataFrame, consumption: str, rule: Rule, methods: Mapping[str, AllocationMethod] | None = None
) -> pd.DataFrame:
    """How well a rule's own key follows consumption, period by period: period, objects, r2,
    error_points. The key comes from the rule's method itself (any plugin), over the cost objects
    with consumption that the rule targets (all of them when its targets are selected by `where`)."""
    rows = []
    for period, objects, y, pred in key_shares_by_period(history, consumption, rule, methods):
        pidx = np.zeros(len(objects), dtype=np.int64)
        rows.append({"period": period, "objects": len(objects), "r2": _r2(y, pred, _even_split(pidx)), "error_points": _mae_points(y, pred, pidx)})
    return pd.DataFrame(rows, columns=["period", "objects", "r2", "error_points"])


def key_shares_by_period(
    history: pd.DataFrame, consumption: str, rule: Rule, methods: Mapping[str, AllocationMethod] | None = None
) -> list[tuple[str, tuple[str, ...], np.ndarray, np.ndarray]]:
    """Per period (in order): the cost objects with consumption the rule targets, their consumption
    shares and the shares the rule's own key gives them (periods the key cannot share are skipped)."""
    methods = methods if methods is not None else available_methods()
    dimension = rule.target.dimension
    frame = history[history["dimension"] == dimension]
    out = []
    listed = set(rule.target.members) if rule.target.members is not None else None
    for period, in_period in frame.groupby("period", sort=True):
        used = in_period[in_period["driver"] == consumption]
        used = used[used["value"].notna()]
        if listed is not None:
            used = used[used["cost_object"].isin(listed)]
        objects = tuple(sorted(used["cost_object"]))
        total = float(used["value"].sum())
        if len(objects) < 2 or total <= 0:
            continue
        request = MethodRequest(
            rule_id=rule.id, period=str(period), pool_cents=1_000_000, dimension=dimension, targets=objects,
            drivers=in_period.astype({"driver": object, "cost_object": object}), parameters=rule.parameters,
        )
        try:
            result = get_method(rule.method, methods).weights(request)
        except MethodError:
            continue
        w = result.weights.reindex(list(objects)).fillna(0.0).to_numpy(np.float64)
        if not w.sum() > 0:
            continue
        y = used.set_index("cost_object")["value"].reindex(list(objects)).to_numpy(np.float64) / total
        out.append((str(period), objects, y, w / w.sum()))
    return out
