"""Narratives: each period's allocation, and each rule's, explained in plain sentences from the numbers.

No external service and no randomness: the same figures always give the same text. A rule's
narrative says how much was allocated, from where, by which method and drivers, the largest
receivers, the largest changes against the previous period and why (the pool, or the driver
that moved the receiver's share), and the rule's flags. The period's narrative sums the runs up
per entity and currency, names the largest receivers, and reports flags and profitability.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from allocation_pipeline.core.insights.anomalies import Flag, allocations_from_lines
from allocation_pipeline.core.insights.changes import driver_table, explain_change, method_label, rule_drivers
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import Rule

NARRATIVE_COLUMNS = ["period", "scope", "rule_id", "entity", "text"]
TOP = 3
_KIND_WORDS = {
    "consumption_gap": "consumption gap", "peer_outlier": "cost per unit far from peers", "period_jump": "jump against the previous period",
    "fit_drop": "driver fit dropped", "turned_unprofitable": "unprofitable after allocation",
}


def narratives(
    period: str,
    lines: pd.DataFrame,
    rules: Mapping[str, Rule],
    driver_values: pd.DataFrame,
    flags: list[Flag],
    previous_period: str | None = None,
    previous_lines: pd.DataFrame | None = None,
    previous_driver_values: pd.DataFrame | None = None,
    profitability: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The period's narrative (rule_id and entity None) and one per rule (NARRATIVE_COLUMNS), period
    first, rules by entity and id.

    `lines`: the period's allocation lines with rule_id, entity, currency, method, role,
    cost_center, product, region, debit_cents, credit_cents; `previous_lines` the same for
    `previous_period` (None or empty: nothing to compare with)."""
    rows = [{"period": period, "scope": "period", "rule_id": None, "entity": None, "text": period_narrative(
        period, lines, flags, profitability, previous_period, previous_lines, rules)}]
    for (entity, rule_id), _ in lines.groupby(["entity", "rule_id"], sort=True):
        text = rule_narrative(period, rule_id, entity, lines, rules.get(rule_id), driver_values, flags, previous_period, previous_lines, previous_driver_values)
        rows.append({"period": period, "scope": "rule", "rule_id": rule_id, "entity": entity, "text": text})
    return pd.DataFrame(rows, columns=NARRATIVE_COLUMNS)


def rule_narrative(
    period: str,
    rule_id: str,
    entity: str,
    lines: pd.DataFrame,
    rule: Rule | None,
    driver_values: pd.DataFrame,
    flags: list[Flag],
    previous_period: str | None = None,
    previous_lines: pd.DataFrame | None = None,
    previous_driver_values: pd.DataFrame | None = None,
) -> str:
    """One rule's allocation in `period`, in sentences."""
    mine = lines[(lines["rule_id"] == rule_id) & (lines["entity"] == entity)]
    rules = {rule_id: rule} if rule is not None else {}
    received = allocations_from_lines(mine, rules)
    currency = str(mine["currency"].iloc[0])
    amounts = dict(zip(received["cost_object"], received["amount_cents"].astype(int)))
    pool = sum(amounts.values())
    sources = sorted(set(mine.loc[(mine["role"] == "source") & (mine["credit_cents"] > 0), "cost_center"].astype(str)))
    where = sources[0] if len(sources) == 1 else f"{len(sources)} cost centers" if sources else "its source"
    dimension = (rule.target.dimension if rule is not None else "cost_center").replace("_", " ").replace("*", " x ")
    driver_label = next((str(d) for d in mine.loc[mine["role"] == "target", "driver"] if isinstance(d, str) and d), None) if "driver" in mine else None
    method = method_label(rule, str(mine["method"].iloc[0]) if "method" in mine else None, driver_label)
    sentences = [
        f"In {period}, rule {rule_id} ({entity}) allocated {format_money(pool)} {currency} from {where} by {method} "
        f"to {len(amounts)} {dimension}{'s' if len(amounts) != 1 else ''}."
    ]
    top = sorted(amounts.items(), key=lambda x: (-x[1], x[0]))[:TOP]
    if top:
        sentences.append(
            ("The largest receivers: " if len(top) > 1 else "The only receiver: ")
            + ", ".join(f"{o} {format_money(a)} ({a / pool:.1%})" for o, a in top) + "."
        )
    sentences.append(_changes(period, rule, rule_id, entity, amounts, driver_values, previous_period, previous_lines, previous_driver_values))
    mine_flags = [f for f in flags if f.rule_id == rule_id and f.entity == entity and f.kind != "turned_unprofitable"]
    if mine_flags:
        counted = _count(mine_flags)
        sentences.append(f"Flags ({counted}): " + " ".join(f"[{f.severity}, {_KIND_WORDS.get(f.kind, f.kind)}] {f.message}" for f in _ordered(mine_flags)))
    else:
        sentences.append("No flags.")
    return " ".join(sentences)


def period_narrative(
    period: str,
    lines: pd.DataFrame,
    flags: list[Flag],
    profitability: pd.DataFrame | None = None,
    previous_period: str | None = None,
    previous_lines: pd.DataFrame | None = None,
    rules: Mapping[str, Rule] | None = None,
) -> str:
    """The whole period in sentences."""
    rules = rules or {}
    if lines.empty:
        return f"In {period} no allocation run was made."
    received = allocations_from_lines(lines)
    runs = lines.groupby(["entity", "rule_id", "currency"], sort=True)
    totals = received.groupby("currency", sort=True)["amount_cents"].sum()
    sentences = [
        f"In {period}, {runs.ngroups} allocation run{'s' if runs.ngroups != 1 else ''} moved "
        + _and([f"{format_money(int(c))} {cur}" for cur, c in totals.items()]) + "."
    ]
    for entity, by_entity in received.groupby("entity", sort=True):
        parts = []
        for rule_id, by_rule in by_entity.groupby("rule_id", sort=True):
            method = method_label(rules.get(rule_id), str(lines.loc[lines["rule_id"] == rule_id, "method"].iloc[0]) if "method" in lines else None)
            parts.append(f"{rule_id} {format_money(int(by_rule['amount_cents'].sum()))} {by_rule['currency'].iloc[0]}" + (f" by {method}" if method else ""))
        sentences.append(f"{entity}: " + "; ".join(parts) + ".")
    per_object = received.groupby(["currency", "cost_object"], as_index=False)["amount_cents"].sum()
    for currency, group in per_object.groupby("currency", sort=True):
        top = group.sort_values(["amount_cents", "cost_object"], ascending=[False, True]).head(TOP)
        sentences.append(f"Largest receivers in {currency}: " + ", ".join(f"{r.cost_object} {format_money(int(r.amount_cents))}" for r in top.itertuples()) + ".")
    if previous_period is not None and previous_lines is not None and not previous_lines.empty:
        before = allocations_from_lines(previous_lines).groupby("currency")["amount_cents"].sum()
        changes = []
        for currency, now in totals.items():
            then = int(before.get(currency, 0))
            changes.append(
                f"{format_money(then)} to {format_money(int(now))} {currency}"
                + (f" ({(int(now) - then) / then:+.1%})" if then else "")
            )
        sentences.append(f"Against {previous_period}, the total allocated went from " + _and(changes) + ".")
    elif previous_period is not None:
        sentences.append(f"No allocation runs in {previous_period} to compare with.")
    if flags:
        blocking = [f for f in flags if f.blocking]
        material = sorted(flags, key=lambda f: (-abs(f.amount_cents or 0), f.rule_id, f.cost_object or ""))[:TOP]
        sentences.append(
            f"Flags: {_count(flags)}" + (f", {len(blocking)} blocking" if blocking else "") + ". The most material: "
            + " ".join(f.message for f in material)
        )
    else:
        sentences.append("No flags.")
    if profitability is not None and not profitability.empty:
        turned = profitability[profitability["turned_unprofitable"]].sort_values(["margin_cents", "cost_center"])
        count = len(profitability)
        if turned.empty:
            losing = int((profitability["margin_cents"] < 0).sum())
            sentences.append(
                f"Of {count} cost center{'s' if count != 1 else ''} with revenue, none turns unprofitable after allocation"
                + (f" ({losing} already {'was' if losing == 1 else 'were'} before it)." if losing else ".")
            )
        else:
            sentences.append(
                f"Of {count} cost centers with revenue, {len(turned)} turn{'s' if len(turned) == 1 else ''} unprofitable after allocation: "
                + ", ".join(f"{r.cost_center} (loses {format_money(-int(r.margin_cents))} {r.currency})" for r in turned.itertuples()) + "."
            )
    return " ".join(sentences)


def _changes(period, rule, rule_id, entity, amounts, driver_values, previous_period, previous_lines, previous_driver_values) -> str:
    if previous_period is None:
        return "No earlier period to compare with."
    before_lines = None if previous_lines is None else previous_lines[(previous_lines["rule_id"] == rule_id) & (previous_lines["entity"] == entity)]
    if before_lines is None or before_lines.empty:
        return f"Rule {rule_id} made no run in {previous_period} to compare with."
    rules = {rule_id: rule} if rule is not None else {}
    before = allocations_from_lines(before_lines, rules)
    then = dict(zip(before["cost_object"], before["amount_cents"].astype(int)))
    pool, previous_pool = sum(amounts.values()), sum(then.values())
    if pool == previous_pool:
        pool_words = f"the pool was unchanged at {format_money(pool)}"
    elif abs(pool - previous_pool) < 0.0005 * abs(previous_pool):
        pool_words = f"the pool was about unchanged ({format_money(previous_pool)} to {format_money(pool)})"
    else:
        pool_words = f"the pool {'grew' if pool > previous_pool else 'shrank'} {abs(pool - previous_pool) / previous_pool:.1%} from {format_money(previous_pool)} to {format_money(pool)}"
    targets = sorted(set(amounts) | set(then))
    deltas = sorted(((o, amounts.get(o, 0) - then.get(o, 0)) for o in targets), key=lambda x: (-abs(x[1]), x[0]))
    moved = [(o, d) for o, d in deltas if d != 0][:TOP]
    if not moved:
        return f"Against {previous_period}, {pool_words} and no receiver's amount changed."
    weights = rule_drivers(rule)
    dimension = rule.target.dimension if rule is not None else "cost_center"
    values = driver_table(driver_values, dimension, list(weights)) if weights else {}
    previous_values = driver_table(previous_driver_values, dimension, list(weights)) if weights and previous_driver_values is not None else {}
    parts = []
    for cost_object, delta in moved:
        now, was = amounts.get(cost_object, 0), then.get(cost_object, 0)
        change = explain_change(cost_object, now, was, pool, previous_pool, weights, values, previous_values, targets)
        percent = f" ({delta / was:+.1%})" if was else ""
        parts.append(f"{cost_object} {'+' if delta > 0 else '-'}{format_money(abs(delta))}{percent}, {change.because(pool, previous_pool)}")
    return f"Against {previous_period}, {pool_words}. The largest changes: " + "; ".join(parts) + "."


def _count(flags: list[Flag]) -> str:
    by = {s: sum(f.severity == s for f in flags) for s in ("high", "medium", "low")}
    return f"{len(flags)}: " + ", ".join(f"{n} {s}" for s, n in by.items() if n)


def _ordered(flags: list[Flag]) -> list[Flag]:
    rank = {"high": 0, "medium": 1, "low": 2}
    return sorted(flags, key=lambda f: (rank.get(f.severity, 3), -abs(f.amount_cents or 0), f.kind, f.cost_object or ""))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
