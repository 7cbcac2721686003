"""Anomaly flags of a period's allocations, each with a severity, the numbers and a sentence.

Kinds (`config.FLAG_KINDS`):

- consumption_gap: a cost object's allocated share far from its share of the pool's observed
  consumption: over-charged (pays more than it consumes) or under-charged (an over-consumer).
- peer_outlier: allocated cost per unit (of consumption where the pool has it, else of the rule's
  driver, else per head) far from the rule's other targets, by median and MAD, so one outlier
  does not hide another.
- period_jump: a target's amount changed by more than the threshold against the previous period.
- fit_drop: the rule's key follows consumption much less well this period than before.
- confidence_drop: the rule's key loses confidence against its own history: this period's label
  (a permutation test of the key against consumption shuffled across its targets, `confidence`)
  is below the median label of the earlier periods, and no longer strong.
- turned_unprofitable: made by `profitability.unprofitable_flags`.

`flags_for_run` and `blocking_flags` are the approval-policy feed: the allocation asset can
compute a run's flags before storing it and hold back its auto-approval when one blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.allocate import RunDraft
from allocation_pipeline.core.insights.changes import driver_table, explain_change, method_label, object_key, rule_drivers
from allocation_pipeline.core.insights.config import InsightsConfig, Thresholds
from allocation_pipeline.core.insights.confidence import LABELS, STRONG, ConfidenceSettings, key_confidence_by_period
from allocation_pipeline.core.insights.key_fit import key_fit_by_period, key_shares_by_period
from allocation_pipeline.core.allocation.methods import AllocationMethod
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import Rule

ALLOCATION_COLUMNS = ["rule_id", "entity", "currency", "cost_object", "amount_cents"]
FLAG_COLUMNS = [
    "period", "kind", "severity", "blocking", "rule_id", "entity", "currency", "cost_object",
    "amount_cents", "value", "threshold", "message",
]
# Earlier periods needed before a drop in fit means anything.
MIN_FIT_HISTORY = 2


@dataclass(frozen=True)
class Flag:
    """One anomaly. `cost_object` None: the rule as a whole. `amount_cents` is the money at stake,
    signed: for consumption_gap and peer_outlier what the object pays beyond its consumption or
    the peers' rate (negative: it pays less), for period_jump the change, for turned_unprofitable
    the margin after allocation; None for fit_drop and confidence_drop. `value` is the measured
    figure (gap in percentage points, robust z, percent change, R^2 drop, margin percent; for
    confidence_drop this month's p-value) and `threshold` the one it was held against (for
    confidence_drop the median p-value of the earlier months). `blocking` is set from the `insights.blocking` configuration."""

    period: str
    kind: str
    severity: str
    rule_id: str
    entity: str
    currency: str
    cost_object: str | None
    amount_cents: int | None
    value: float | None
    threshold: float | None
    message: str
    blocking: bool = False


def severity_of(ratio: float) -> str:
    """How far past its threshold a figure is: twice or more is high, 1.4 times medium, else low."""
    return "high" if ratio >= 2.0 else "medium" if ratio >= 1.4 else "low"


def allocations_from_lines(lines: pd.DataFrame, rules: Mapping[str, Rule] | None = None) -> pd.DataFrame:
    """What each target received per rule (ALLOCATION_COLUMNS), from allocation lines carrying
    rule_id, entity, currency, role, cost_center, product, region, debit_cents and credit_cents.
    The cost object is the combination of the rule's target dimensions (cost center when the rule
    is not known)."""
    rules = rules or {}
    targets = lines[lines["role"] == "target"]
    if targets.empty:
        return pd.DataFrame(columns=ALLOCATION_COLUMNS).astype({"amount_cents": "int64"})
    records = targets.to_dict("records")
    objects = []
    for row in records:
        rule = rules.get(row["rule_id"])
        objects.append(object_key(row, rule.target.dimensions if rule is not None else ("cost_center",)))
    frame = pd.DataFrame(
        {
            "rule_id": targets["rule_id"].astype(str).to_numpy(), "entity": targets["entity"].astype(str).to_numpy(),
            "currency": targets["currency"].astype(str).to_numpy(), "cost_object": objects,
            "amount_cents": targets["debit_cents"].to_numpy(np.int64) - targets["credit_cents"].to_numpy(np.int64),
        }
    )
    return frame.groupby(ALLOCATION_COLUMNS[:4], as_index=False, sort=True)["amount_cents"].sum()


def allocations_from_runs(runs: list[RunDraft], rules: Mapping[str, Rule] | None = None) -> pd.DataFrame:
    """`allocations_from_lines` of computed (not yet stored) runs."""
    if not runs:
        return allocations_from_lines(pd.DataFrame(columns=["rule_id", "entity", "currency", "role", "debit_cents", "credit_cents"]))
    lines = pd.concat([r.lines.assign(rule_id=r.rule_id, entity=r.entity, currency=r.currency) for r in runs], ignore_index=True)
    return allocations_from_lines(lines, rules)


def detect_flags(
    period: str,
    allocations: pd.DataFrame,
    driver_values: pd.DataFrame,
    config: InsightsConfig,
    rules: Mapping[str, Rule] | None = None,
    previous: pd.DataFrame | None = None,
    previous_driver_values: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    methods: Mapping[str, AllocationMethod] | None = None,
) -> list[Flag]:
    """Every flag of `period`'s allocations (ALLOCATION_COLUMNS), in a stable order.

    `driver_values`: the period's; `previous` and `previous_driver_values`: the previous period's
    allocations and driver values (None: no jump flags); `history`: driver values of several
    periods up to this one (None: no fit_drop flags). `rules` by id gives each rule's targets,
    drivers and method; a rule not in it is checked by its cost centers alone."""
    rules = rules or {}
    th = config.thresholds
    in_period = driver_values[driver_values["period"] == period] if "period" in driver_values else driver_values
    flags: list[Flag] = []
    for (rule_id, entity, currency), received in allocations.groupby(["rule_id", "entity", "currency"], sort=True):
        rule = rules.get(rule_id)
        pool = config.pool_for_rule(rule_id)
        dimension = rule.target.dimension if rule is not None else "cost_center"
        amounts = dict(zip(received["cost_object"], received["amount_cents"].astype(int)))
        context = (period, rule_id, entity, currency)
        if pool is not None:
            consumption = driver_table(in_period, dimension, [pool.consumption]).get(pool.consumption, {})
            flags += _consumption_gaps(context, amounts, consumption, pool.consumption, th)
        basis = _peer_basis(rule, pool, in_period, dimension)
        if basis is not None:
            flags += _peer_outliers(context, amounts, driver_table(in_period, dimension, [basis]).get(basis, {}), basis, th)
        if previous is not None:
            before = previous[(previous["rule_id"] == rule_id) & (previous["entity"] == entity)]
            if not before.empty:
                flags += _jumps(context, rule, amounts, dict(zip(before["cost_object"], before["amount_cents"].astype(int))), in_period, previous_driver_values, th)
        if history is not None and pool is not None and rule is not None:
            flags += _fit_drop(context, rule, pool.consumption, history, th, methods)
            flags += _confidence_drop(context, rule, pool.consumption, history, config.confidence, methods)
    return [replace(f, blocking=config.blocks(f.kind, f.severity)) for f in flags]


def flags_for_run(
    run: RunDraft,
    rule: Rule | None,
    driver_values: pd.DataFrame,
    config: InsightsConfig,
    previous: pd.DataFrame | None = None,
    previous_driver_values: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
) -> list[Flag]:
    """The flags of one computed run, before it is stored: the approval policy's feed."""
    rules = {rule.id: rule} if rule is not None else {}
    allocations = allocations_from_runs([run], rules)
    return detect_flags(run.period, allocations, driver_values, config, rules, previous, previous_driver_values, history)


def flags_for_rule(flags: list[Flag], rule_id: str) -> list[Flag]:
    """The flags that concern one rule."""
    return [f for f in flags if f.rule_id == rule_id]


def blocking_flags(flags: list[Flag]) -> list[Flag]:
    """The flags configured to block: a run with any of them must not be approved automatically."""
    return [f for f in flags if f.blocking]


def flags_frame(flags: list[Flag]) -> pd.DataFrame:
    """Flags as a frame (FLAG_COLUMNS), e.g. for the warehouse table `anomaly_flags`."""
    frame = pd.DataFrame([f.__dict__ for f in flags], columns=FLAG_COLUMNS)
    return frame.astype({"amount_cents": "Int64", "value": "float64", "threshold": "float64", "blocking": bool})


# --- the checks ---------------------------------------------------------------------------------


def _consumption_gaps(context, amounts: dict[str, int], consumption: dict[str, float], metric: str, th: Thresholds) -> list[Flag]:
    period, rule_id, entity, currency = context
    pool = sum(amounts.values())
    total = sum(consumption.get(o, 0.0) for o in amounts)
    if pool <= 0 or total <= 0:
        return []
    flags = []
    for cost_object, amount in sorted(amounts.items()):
        used = consumption.get(cost_object)
        if used is None:
            continue
        allocated_share, consumed_share = amount / pool, used / total
        gap = allocated_share - consumed_share
        relative = abs(gap) / consumed_share if consumed_share > 0 else float("inf")
        if abs(gap) * 100 < th.share_gap_points or relative * 100 < th.share_gap_percent:
            continue
        # Severity by the relative gap: a small unit charged half its consumption matters as much as a large one.
        ratio = relative * 100 / th.share_gap_percent if th.share_gap_percent > 0 else abs(gap) * 100 / max(th.share_gap_points, 1e-9)
        stake = round(gap * pool)
        if gap > 0:
            verdict = f"over-charged by {format_money(stake)} {currency} (it pays for more than it consumes)"
        else:
            verdict = f"under-charged by {format_money(-stake)} {currency} (it consumes more than it pays for)"
        flags.append(
            Flag(
                period, "consumption_gap", severity_of(ratio), rule_id, entity, currency, cost_object,
                stake, round(gap * 100, 4), th.share_gap_points,
                f"{cost_object} consumed {consumed_share:.1%} of {metric} ({used:,.2f}) but is charged {allocated_share:.1%} "
                f"({format_money(amount)} of {format_money(pool)} {currency}) by rule {rule_id}: {verdict}.",
            )
        )
    return flags


def _peer_basis(rule: Rule | None, pool, driver_values: pd.DataFrame, dimension: str) -> str | None:
    """The unit cost is compared per: consumption, else the rule's single driver, else head."""
    if pool is not None:
        return pool.consumption
    drivers = rule_drivers(rule)
    if len(drivers) == 1:
        return next(iter(drivers))
    if dimension == "cost_center" and ((driver_values["driver"] == "headcount") & (driver_values["dimension"] == dimension)).any():
        return "headcount"
    return None


def _peer_outliers(context, amounts: dict[str, int], units: dict[str, float], basis: str, th: Thresholds) -> list[Flag]:
    period, rule_id, entity, currency = context
    objects = sorted(o for o in amounts if units.get(o, 0) > 0)
    if len(objects) < th.min_peers:
        return []
    rates = np.array([amounts[o] / 100 / units[o] for o in objects])
    median = float(np.median(rates))
    scale = 1.4826 * float(np.median(np.abs(rates - median)))
    if scale == 0:
        # More than half the peers pay exactly the median rate: fall back to the mean deviation.
        scale = 1.2533 * float(np.mean(np.abs(rates - median)))
    if scale == 0 or median <= 0:
        return []
    flags = []
    for cost_object, rate in zip(objects, rates.tolist()):
        z = (rate - median) / scale
        if abs(z) < th.peer_z or abs(rate / median - 1) * 100 < th.peer_gap_percent:
            continue
        stake = round((rate - median) * units[cost_object] * 100)
        more = "more" if stake > 0 else "less"
        flags.append(
            Flag(
                period, "peer_outlier", severity_of(abs(z) / th.peer_z), rule_id, entity, currency, cost_object, stake, round(z, 4), th.peer_z,
                f"{cost_object} pays {rate:,.4f} {currency} per unit of {basis} under rule {rule_id}, against a median of {median:,.4f} "
                f"among {len(objects)} targets (robust z {z:+.1f}): {format_money(abs(stake))} {currency} {more} than at the median rate.",
            )
        )
    return flags


def _jumps(context, rule: Rule | None, amounts: dict[str, int], before: dict[str, int], driver_values, previous_driver_values, th: Thresholds) -> list[Flag]:
    period, rule_id, entity, currency = context
    pool, previous_pool = sum(amounts.values()), sum(before.values())
    weights = rule_drivers(rule)
    dimension = rule.target.dimension if rule is not None else "cost_center"
    values = driver_table(driver_values, dimension, list(weights)) if weights else {}
    previous_values = driver_table(previous_driver_values, dimension, list(weights)) if weights and previous_driver_values is not None else {}
    targets = sorted(set(amounts) | set(before))
    flags = []
    for cost_object in targets:
        now, then = amounts.get(cost_object, 0), before.get(cost_object, 0)
        delta = now - then
        if abs(delta) < th.jump_min_cents:
            continue
        percent = delta / abs(then) * 100 if then else float("inf")
        if abs(percent) < th.jump_percent:
            continue
        change = explain_change(cost_object, now, then, pool, previous_pool, weights, values, previous_values, targets)
        size = f"{percent:+.1f}%" if then else "new"
        ratio = abs(percent) / th.jump_percent if then else 3.0
        flags.append(
            Flag(
                period, "period_jump", severity_of(ratio), rule_id, entity, currency, cost_object, delta,
                round(percent, 4) if then else None, th.jump_percent,
                f"{cost_object} receives {format_money(now)} {currency} under rule {rule_id}, {format_money(abs(delta))} "
                f"{'more' if delta > 0 else 'less'} than the previous period's {format_money(then)} ({size}), {change.because(pool, previous_pool)}.",
            )
        )
    return flags


def _fit_drop(context, rule: Rule, consumption: str, history: pd.DataFrame, th: Thresholds, methods) -> list[Flag]:
    period, rule_id, entity, currency = context
    fits = key_fit_by_period(history[history["period"] <= period], consumption, rule, methods)
    current = fits[fits["period"] == period]
    earlier = fits[fits["period"] < period]
    if current.empty or len(earlier) < MIN_FIT_HISTORY:
        return []
    now = float(current["r2"].iloc[0])
    before = float(earlier["r2"].median())
    drop = before - now
    if not drop >= th.fit_drop or th.fit_drop <= 0:
        return []
    span = f"{earlier['period'].iloc[0]} to {earlier['period'].iloc[-1]}"
    return [
        Flag(
            period, "fit_drop", severity_of(drop / th.fit_drop), rule_id, entity, currency, None, None, round(drop, 4), th.fit_drop,
            f"The key of rule {rule_id} ({method_label(rule)}) follows {consumption} less well in {period}: R2 {now:.2f} against a median "
            f"of {before:.2f} over {span} (a drop of {drop:.2f}); check which driver changed before relying on it.",
        )
    ]


def _confidence_drop(context, rule: Rule, consumption: str, history: pd.DataFrame, settings: ConfidenceSettings, methods) -> list[Flag]:
    period, rule_id, entity, currency = context
    shares = key_shares_by_period(history[history["period"] <= period], consumption, rule, methods)
    rows = key_confidence_by_period([(p, y, k) for p, _, y, k in shares], settings)
    current = [r for r in rows if r["period"] == period]
    earlier = [r for r in rows if r["period"] < period]
    if not current or len(earlier) < MIN_FIT_HISTORY:
        return []
    now = current[0]
    ranks = sorted(LABELS.index(r["label"]) for r in earlier)
    usual = ranks[(len(ranks) - 1) // 2]  # the lower median: a drop must be below most earlier periods
    levels = usual - LABELS.index(now["label"])
    if levels <= 0 or now["label"] == STRONG:
        return []
    before_p = float(np.median([r["p_value"] for r in earlier]))
    span = f"{earlier[0]['period']} to {earlier[-1]['period']}"
    return [
        Flag(
            period, "confidence_drop", ("low", "medium", "high")[min(levels, 3) - 1], rule_id, entity, currency, None, None,
            round(now["p_value"], 6), round(before_p, 6),
            f"The key of rule {rule_id} ({method_label(rule)}) has lost confidence in {period}: {now['label']} (p = {now['p_value']:.3f}, "
            f"R2 {now['r2']:.2f} over {now['units']} targets, {settings.permutations} shuffles of {consumption} across them) against "
            f"{LABELS[usual]} in most of {span} (median p = {before_p:.3f}); check whether its drivers still measure what the pool consumes.",
        )
    ]


def flags_from_frame(frame: pd.DataFrame) -> list[Flag]:
    """Flags back from a frame with FLAG_COLUMNS (as read from the warehouse)."""
    flags = []
    for row in frame.to_dict("records"):
        def clean(value):
            return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value

        flags.append(
            Flag(
                period=str(row["period"]), kind=str(row["kind"]), severity=str(row["severity"]), rule_id=str(row["rule_id"] or ""),
                entity=str(row["entity"]), currency=str(row["currency"]), cost_object=clean(row["cost_object"]),
                amount_cents=None if clean(row["amount_cents"]) is None else int(row["amount_cents"]),
                value=None if clean(row["value"]) is None else float(row["value"]),
                threshold=None if clean(row["threshold"]) is None else float(row["threshold"]),
                message=str(row["message"]), blocking=bool(row["blocking"]),
            )
        )
    return flags
