"""The allocation engine: select each rule's pool from GL balances, ask its method for weights,
and turn them into balanced source and target lines in exact cents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from allocation_pipeline.core.methods import AllocationMethod, MethodError, MethodRequest, available_methods, get_method
from allocation_pipeline.core.money import format_money, largest_remainder
from allocation_pipeline.core.rules import Rule, SourceFilter, TargetSpec

BALANCE_KEYS = ["entity", "account", "cost_center", "product", "region", "currency"]
LINE_COLUMNS = [
    "line_no", "role", "account", "cost_center", "product", "region", "debit_cents", "credit_cents",
    "driver", "driver_value", "share", "explanation",
]


class AllocationError(ValueError):
    """A rule that cannot be allocated in a period; the message names the rule and period."""


@dataclass(frozen=True)
class RunDraft:
    """A computed allocation run, not yet stored. Lines use LINE_COLUMNS; amounts in cents."""

    rule_id: str
    entity: str
    period: str
    run_type: str
    method: str
    currency: str
    pool_cents: int
    lines: pd.DataFrame
    notes: tuple[str, ...] = ()
    source_document: str | None = None

    @property
    def total_debit_cents(self) -> int:
        return int(self.lines["debit_cents"].sum())

    @property
    def total_credit_cents(self) -> int:
        return int(self.lines["credit_cents"].sum())

    @property
    def fingerprint(self) -> str:
        """A hash of what the run would post, to tell an unchanged recomputation from a changed one."""
        cols = ["role", "account", "cost_center", "product", "region", "debit_cents", "credit_cents"]
        canonical = self.lines[cols].astype("string").fillna("").sort_values(cols).to_csv(index=False)
        return hashlib.sha256(f"{self.rule_id}|{self.entity}|{self.period}|{self.currency}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class AllocationOutcome:
    runs: list[RunDraft]
    notes: list[str] = field(default_factory=list)


def gl_balances(gl_lines: pd.DataFrame) -> pd.DataFrame:
    """Net balance (debit - credit, cents) per entity, account, cost center, product, region, currency."""
    frame = gl_lines[BALANCE_KEYS].copy()
    frame["balance_cents"] = gl_lines["debit_cents"].to_numpy(np.int64) - gl_lines["credit_cents"].to_numpy(np.int64)
    for key in BALANCE_KEYS:
        frame[key] = frame[key].astype("string").fillna("")
    grouped = frame.groupby(BALANCE_KEYS, sort=True, observed=True)["balance_cents"].sum().reset_index()
    return grouped[grouped["balance_cents"] != 0].reset_index(drop=True)


def allocate_period(
    period: str,
    rules: list[Rule],
    balances: pd.DataFrame,
    driver_values: pd.DataFrame,
    cost_centers: pd.DataFrame,
    entities: pd.DataFrame,
    methods: Mapping[str, AllocationMethod] | None = None,
) -> AllocationOutcome:
    """Allocate every rule in order. A later rule sees what earlier rules allocated in its pool.

    Rules that cannot be allocated raise one AllocationError listing every failing rule; an empty
    pool is not an error: no run, and a note says so.
    """
    methods = methods if methods is not None else available_methods()
    currencies = dict(zip(entities["entity"], entities["currency"]))
    runs: list[RunDraft] = []
    notes: list[str] = []
    errors: list[str] = []
    allocated: list[pd.DataFrame] = []
    for rule in rules:
        try:
            pool = _select_pool(balances, allocated, rule.source, rule.entity)
            if pool.empty or int(pool["balance_cents"].sum()) == 0:
                notes.append(f"rule {rule.id}: pool is empty in {period}; no run")
                continue
            currency = currencies.get(rule.entity)
            if currency is None:
                raise AllocationError(f"entity {rule.entity} is not in the entities extract")
            foreign = sorted(set(pool["currency"]) - {currency})
            if foreign:
                raise AllocationError(f"pool holds {', '.join(foreign)} amounts but entity {rule.entity} books in {currency}")
            run = _allocate_rule(period, rule, pool, currency, driver_values, cost_centers, methods)
        except (AllocationError, MethodError) as exc:
            errors.append(f"rule {rule.id} ({rule.entity}, {period}): {exc}")
            continue
        runs.append(run)
        allocated.append(_as_balances(run))
    if errors:
        raise AllocationError("; ".join(errors))
    return AllocationOutcome(runs=runs, notes=notes)


def _select_pool(balances: pd.DataFrame, allocated: list[pd.DataFrame], source: SourceFilter, entity: str) -> pd.DataFrame:
    frames = [balances] + allocated
    selected = []
    for frame in frames:
        mask = (frame["entity"] == entity).to_numpy()
        accounts = pd.to_numeric(frame["account"], errors="coerce").to_numpy()
        in_range = np.zeros(len(frame), dtype=bool)
        for account_range in source.accounts:
            in_range |= (accounts >= int(account_range.low)) & (accounts <= int(account_range.high))
        mask = mask & in_range
        if source.cost_centers is not None:
            mask = mask & frame["cost_center"].isin(source.cost_centers).to_numpy()
        for dimension, members in source.dimensions.items():
            mask = mask & frame[dimension].isin(members).to_numpy()
        if mask.any():
            selected.append(frame[mask])
    if not selected:
        return balances.iloc[0:0]
    pool = pd.concat(selected, ignore_index=True)
    return pool.groupby(BALANCE_KEYS, sort=True)["balance_cents"].sum().reset_index().query("balance_cents != 0")


def resolve_targets(target: TargetSpec, cost_centers: pd.DataFrame, entity: str) -> tuple[str, ...]:
    """The rule's target members: listed ones, or active cost centers matching `where`."""
    if target.members is not None:
        return tuple(target.members)
    if target.dimension != "cost_center":
        raise AllocationError(f"target.where selects cost centers only; list the {target.dimension} members")
    selected = cost_centers[cost_centers["active"].astype(bool)]
    conditions = {"entity": entity, **dict(target.where)}
    for attribute, value in conditions.items():
        if attribute not in selected.columns:
            raise AllocationError(f"target.where: cost centers have no attribute '{attribute}'")
        selected = selected[selected[attribute].astype("string") == value]
    if selected.empty:
        raise AllocationError(f"target.where {conditions} selects no active cost center")
    return tuple(sorted(selected["cost_center"].astype(str)))


def _allocate_rule(
    period: str,
    rule: Rule,
    pool: pd.DataFrame,
    currency: str,
    driver_values: pd.DataFrame,
    cost_centers: pd.DataFrame,
    methods: Mapping[str, AllocationMethod],
) -> RunDraft:
    method = get_method(rule.method, methods)
    targets = resolve_targets(rule.target, cost_centers, rule.entity)
    pool_cents = int(pool["balance_cents"].sum())
    drivers = driver_values[(driver_values["period"] == period) & (driver_values["dimension"] == rule.target.dimension)]
    result = method.weights(
        MethodRequest(
            rule_id=rule.id, period=period, pool_cents=pool_cents, dimension=rule.target.dimension,
            targets=targets, drivers=drivers, parameters=rule.parameters,
        )
    )
    weights = result.weights.reindex(list(targets)).astype("float64")
    if weights.isna().any() or (weights < 0).any() or not np.isfinite(weights).all():
        raise AllocationError(f"method {rule.method} returned missing or negative weights")
    if weights.sum() <= 0:
        raise AllocationError(f"method {rule.method} gave every target a zero weight")
    amounts = largest_remainder(pool_cents, weights.to_numpy())
    shares = weights / weights.sum()

    source_lines = _source_lines(rule, pool)
    target_cost_center = rule.target.cost_center or (source_lines["cost_center"].iloc[0] if source_lines["cost_center"].nunique() == 1 else None)
    rows = []
    notes = list(result.notes)
    for target, amount, share in zip(targets, amounts, shares):
        if amount == 0:
            if share == 0 and not any(target in n for n in notes):
                notes.append(f"{target} has a zero weight and receives nothing")
            continue
        cost_center = target if rule.target.dimension == "cost_center" else target_cost_center
        if cost_center is None:
            raise AllocationError("target.cost_center is needed to book a non-cost-center target from several source cost centers")
        driver_value = None if result.driver_values is None else float(result.driver_values.get(target, np.nan))
        rows.append(
            {
                "role": "target",
                "account": rule.debit_account,
                "cost_center": cost_center,
                "product": target if rule.target.dimension == "product" else None,
                "region": target if rule.target.dimension == "region" else None,
                "debit_cents": int(amount) if amount > 0 else 0,
                "credit_cents": -int(amount) if amount < 0 else 0,
                "driver": result.driver,
                "driver_value": driver_value,
                "share": float(share),
                "explanation": _explain(rule, share, pool_cents, result.driver, driver_value),
            }
        )
    lines = pd.concat([source_lines, pd.DataFrame(rows)], ignore_index=True)
    lines["line_no"] = np.arange(1, len(lines) + 1)
    lines = lines[LINE_COLUMNS].astype({"debit_cents": "int64", "credit_cents": "int64", "line_no": "int64"})
    return RunDraft(
        rule_id=rule.id, entity=rule.entity, period=period, run_type=rule.type, method=rule.method,
        currency=currency, pool_cents=pool_cents, lines=lines, notes=tuple(notes),
    )


def _source_lines(rule: Rule, pool: pd.DataFrame) -> pd.DataFrame:
    """Credits removing the pool from where it sits (debits for a negative balance)."""
    if rule.credit_account is not None:
        grouped = pool.groupby("cost_center", sort=True)["balance_cents"].sum().reset_index()
        grouped["account"] = rule.credit_account
        grouped["product"] = None
        grouped["region"] = None
    else:
        grouped = pool.groupby(["account", "cost_center", "product", "region"], sort=True)["balance_cents"].sum().reset_index()
        for dimension in ("product", "region"):
            grouped[dimension] = grouped[dimension].replace("", None)
    grouped = grouped[grouped["balance_cents"] != 0]
    balance = grouped["balance_cents"].to_numpy(np.int64)
    return pd.DataFrame(
        {
            "role": "source",
            "account": grouped["account"].to_numpy(),
            "cost_center": grouped["cost_center"].to_numpy(),
            "product": grouped["product"].to_numpy(),
            "region": grouped["region"].to_numpy(),
            "debit_cents": np.where(balance < 0, -balance, 0),
            "credit_cents": np.where(balance > 0, balance, 0),
            "driver": None,
            "driver_value": np.nan,
            "share": np.nan,
            "explanation": f"pool of rule {rule.id} removed from its source",
        }
    )


def _explain(rule: Rule, share: float, pool_cents: int, driver: str | None, driver_value: float | None) -> str:
    basis = f"{driver} {driver_value:,.2f}" if driver else rule.method.replace("_", " ")
    return f"{share:.4%} of {format_money(pool_cents)} by {basis}"


def _as_balances(run: RunDraft) -> pd.DataFrame:
    lines = run.lines
    frame = pd.DataFrame(
        {
            "entity": run.entity,
            "account": lines["account"].astype("string"),
            "cost_center": lines["cost_center"].astype("string"),
            "product": lines["product"].astype("string").fillna(""),
            "region": lines["region"].astype("string").fillna(""),
            "currency": run.currency,
            "balance_cents": lines["debit_cents"].to_numpy(np.int64) - lines["credit_cents"].to_numpy(np.int64),
        }
    )
    return frame.groupby(BALANCE_KEYS, sort=True)["balance_cents"].sum().reset_index()
