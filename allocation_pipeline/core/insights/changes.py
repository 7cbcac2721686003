"""What an allocation rests on, and why a cost object's amount changed between two periods.

Shared by the anomaly flags (a jump names its cause) and the narratives. A target's amount is
pool x share, so a change splits exactly into a pool effect (the old share of the pool's change)
and a share effect (the new pool times the change in share); the share effect is traced to the
rule's drivers by how much each driver's share of the object moved, times the driver's weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import DIMENSION_SEPARATOR, Rule


def rule_drivers(rule: Rule | None) -> dict[str, float]:
    """The drivers a rule's key rests on, with their weight (fractions summing to 1); empty for
    keys without drivers (fixed percentages, even split) or rules not known."""
    if rule is None:
        return {}
    parameters = rule.parameters or {}
    if rule.method == "driver" and isinstance(parameters.get("driver"), str):
        return {parameters["driver"]: 1.0}
    if rule.method == "weighted_drivers" and isinstance(parameters.get("weights"), dict):
        weights = {str(d): float(Decimal(str(p))) for d, p in parameters["weights"].items()}
        total = sum(weights.values())
        return {d: w / total for d, w in weights.items() if w > 0} if total > 0 else {}
    if rule.method == "activity_based" and isinstance(parameters.get("activities"), dict):
        weights: dict[str, float] = {}
        for spec in parameters["activities"].values():
            if isinstance(spec, dict) and isinstance(spec.get("driver"), str):
                weights[spec["driver"]] = weights.get(spec["driver"], 0.0) + float(Decimal(str(spec.get("effort", 0))))
        total = sum(weights.values())
        return {d: w / total for d, w in weights.items() if w > 0} if total > 0 else {}
    return {}


def method_label(rule: Rule | None, method: str | None = None, driver_label: str | None = None) -> str:
    """The method in words: 'driver floor_area', 'weighted drivers (cloud_spend 50% + ...)', ..."""
    name = rule.method if rule is not None else (method or "unknown method")
    parameters = rule.parameters if rule is not None else {}
    if name == "driver" and rule is not None:
        return f"driver {parameters.get('driver')}"
    if name == "weighted_drivers" and rule is not None:
        weights = parameters.get("weights") or {}
        return "weighted drivers (" + " + ".join(f"{d} {Decimal(str(p)).normalize():f}%" for d, p in weights.items()) + ")"
    if name == "activity_based" and rule is not None:
        activities = parameters.get("activities") or {}
        return "activity-based costing (" + ", ".join(f"{a} by {s.get('driver')}" for a, s in activities.items() if isinstance(s, dict)) + ")"
    label = name.replace("_", " ")
    if rule is None and driver_label:
        label += f" ({driver_label})"
    return label


def driver_table(driver_values: pd.DataFrame, dimension: str, drivers: list[str] | tuple[str, ...]) -> dict[str, dict[str, float]]:
    """{driver: {cost_object: value}} of one period's driver values, for the given dimension.

    For several target dimensions (`product*region`) the values are looked up as the engine
    does: by the combination's own key."""
    frame = driver_values[(driver_values["dimension"] == dimension) & driver_values["driver"].isin(list(drivers))]
    return {str(d): dict(zip(g["cost_object"].astype(str), g["value"].astype(float))) for d, g in frame.groupby("driver")}


@dataclass(frozen=True)
class Change:
    """A cost object's amount in two periods, split into the pool's effect and its share's effect,
    with the driver that moved its share most (None when the key has no drivers)."""

    cost_object: str
    amount_cents: int
    previous_cents: int
    pool_effect_cents: int
    share_effect_cents: int
    driver: str | None
    driver_value: float | None
    driver_previous: float | None
    driver_total_change: float | None  # relative change of the driver's total over the targets

    @property
    def delta_cents(self) -> int:
        return self.amount_cents - self.previous_cents

    def because(self, pool_cents: int, previous_pool_cents: int) -> str:
        """Why, in a clause: 'because its cloud_spend rose from 80,000 to 104,000 (+30.0%) ...'."""
        pool_change = _relative(pool_cents, previous_pool_cents)
        pool_words = "the pool was steady" if abs(pool_change) < 0.005 else f"the pool {'grew' if pool_change > 0 else 'shrank'} {abs(pool_change):.1%}"
        if self.previous_cents == 0:
            return "it received nothing in the previous period" + (f" and now has {self.driver} {_quantity(self.driver_value)}" if self.driver else "")
        if self.amount_cents == 0:
            return "it receives nothing now" + (f" (its {self.driver} is {_quantity(self.driver_value)})" if self.driver else "")
        if abs(self.share_effect_cents) <= abs(self.pool_effect_cents) or self.driver is None:
            if abs(self.share_effect_cents) <= abs(self.pool_effect_cents):
                return f"mostly because {pool_words} (from {format_money(previous_pool_cents)} to {format_money(pool_cents)})"
            return f"because its share of the pool moved while {pool_words}"
        own = _relative(self.driver_value or 0.0, self.driver_previous or 0.0)
        direction = "rose" if (self.driver_value or 0) > (self.driver_previous or 0) else "fell"
        total = self.driver_total_change or 0.0
        return (
            f"mostly because its {self.driver} {direction} from {_quantity(self.driver_previous)} to {_quantity(self.driver_value)} "
            f"({own:+.1%}) while the total {self.driver} moved {total:+.1%}, and {pool_words}"
        )


def explain_change(
    cost_object: str,
    amount_cents: int,
    previous_cents: int,
    pool_cents: int,
    previous_pool_cents: int,
    weights: Mapping[str, float],
    values: Mapping[str, Mapping[str, float]],
    previous_values: Mapping[str, Mapping[str, float]],
    targets: list[str] | tuple[str, ...],
) -> Change:
    """Split one cost object's change and find the driver whose share of it moved the amount most.

    `values` / `previous_values`: {driver: {cost_object: value}} of the two periods; `targets`:
    the rule's cost objects in either period (driver shares are over them)."""
    previous_share = previous_cents / previous_pool_cents if previous_pool_cents else 0.0
    pool_effect = round(previous_share * (pool_cents - previous_pool_cents))
    share_effect = (amount_cents - previous_cents) - pool_effect
    best: tuple[float, str, float, float, float] | None = None
    for driver, weight in weights.items():
        now, before = values.get(driver, {}), previous_values.get(driver, {})
        total_now = sum(now.get(t, 0.0) for t in targets)
        total_before = sum(before.get(t, 0.0) for t in targets)
        if total_now <= 0 or total_before <= 0:
            continue
        moved = weight * (now.get(cost_object, 0.0) / total_now - before.get(cost_object, 0.0) / total_before) * pool_cents
        if best is None or abs(moved) > abs(best[0]):
            best = (moved, driver, now.get(cost_object, 0.0), before.get(cost_object, 0.0), _relative(total_now, total_before))
    if best is None:
        return Change(cost_object, amount_cents, previous_cents, pool_effect, share_effect, None, None, None, None)
    _, driver, value, previous_value, total_change = best
    return Change(cost_object, amount_cents, previous_cents, pool_effect, share_effect, driver, value, previous_value, total_change)


def object_key(row: Mapping, dimensions: tuple[str, ...]) -> str:
    """A line's cost object for a rule's target dimensions: 'US-BU1', or 'P-CORE*NA-EAST'."""
    return DIMENSION_SEPARATOR.join(str(row.get(d) or "") for d in dimensions)


def _relative(now: float, before: float) -> float:
    if before == 0:
        return 0.0 if now == 0 else float("inf")
    return (now - before) / abs(before)


def _quantity(value: float | None) -> str:
    """A driver quantity without trailing zeros: 117, 119.9, 1,536.6."""
    if value is None or value != value:
        return "none"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
