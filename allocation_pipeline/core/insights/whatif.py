"""What-if scenarios: rule and driver changes applied to one period's allocation without posting
anything, side by side with the baseline per cost object, with the differences.

A scenario is a YAML file:

    name: bu2-to-bu5-reorg
    description: Twenty people move from Enterprise Sales to Professional Services.
    rules:                         # changes to existing rules: the fields given replace the rule's
      us_facilities_by_floor_area: {method: driver, parameters: {driver: headcount}}
    add_rules: []                  # whole new rules, as in the rules file
    remove_rules: []               # rule ids left out
    drivers:                       # changes to the period's driver values, applied in order
      - {move: headcount, from: US-BU2, to: US-BU5, amount: 20}
      - {set: cloud_spend, cost_object: US-BU4, value: 120000}
      - {scale: it_tickets, cost_object: US-BU6, factor: 0.8}   # without cost_object: every one
    cost_centers:                  # new cost centers, with their driver values
      - {cost_center: US-BU10, name: New Ventures, entity: US, kind: operating, drivers: {headcount: 12, floor_area: 140}}

Driver changes take `dimension` (default cost_center). Both sides are computed the same way, by
the allocation engine on the same inputs, so a scenario without changes equals the baseline. A
new cost center receives cost from rules selecting targets with `where`; a rule listing its
members needs a `rules:` change to include it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from allocation_pipeline.config.problems import ConfigError, did_you_mean
from allocation_pipeline.core.allocation.allocate import AllocationError, RunDraft, allocate_period
from allocation_pipeline.core.allocation.methods import AllocationMethod, MethodError, available_methods
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import RulesError, parse_rules

LINE_KEYS = ["entity", "currency", "rule_id", "cost_center", "product", "region"]
# Stored as whatif_results; the amounts are named apart from the `scenario` (name) column.
RESULT_COLUMNS = ["scenario", "period", *LINE_KEYS, "baseline_amount_cents", "scenario_amount_cents", "difference_cents"]
SCENARIO_COLUMNS = [
    "scenario", "period", "description", "spec", "changes", "baseline_total_cents", "scenario_total_cents",
    "objects_changed", "created_at", "dagster_run_id",
]


class ScenarioError(ConfigError):
    """A scenario that cannot be run; the message names the file, the entry and what is wrong."""


@dataclass(frozen=True)
class Scenario:
    """A named set of changes. `text` is the scenario as written (stored with its results)."""

    name: str
    description: str = ""
    rule_changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    new_rules: tuple[Mapping[str, Any], ...] = ()
    removed_rules: tuple[str, ...] = ()
    driver_changes: tuple[Mapping[str, Any], ...] = ()
    new_cost_centers: tuple[Mapping[str, Any], ...] = ()
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.rule_changes or self.new_rules or self.removed_rules or self.driver_changes or self.new_cost_centers)


@dataclass(frozen=True)
class PeriodInputs:
    """What one period's allocation needs: GL balances (as `allocation.gl_balances` gives them),
    driver values, cost centers, entities, and the rules file as parsed YAML."""

    period: str
    balances: pd.DataFrame
    driver_values: pd.DataFrame
    cost_centers: pd.DataFrame
    entities: pd.DataFrame
    rules_document: Mapping[str, Any]


@dataclass(frozen=True)
class ScenarioResult:
    """Baseline and scenario side by side. `lines`: net cents (debit - credit) per LINE_KEYS on
    each side and the difference; `changes`: what the scenario changed, in words."""

    scenario: Scenario
    period: str
    lines: pd.DataFrame
    runs: pd.DataFrame
    changes: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def by_cost_object(self) -> pd.DataFrame:
        """Net allocated per cost center (+ received, - given away), summed over the rules."""
        keys = ["entity", "currency", "cost_center"]
        frame = self.lines.groupby(keys, as_index=False, sort=True)[["baseline_cents", "scenario_cents", "difference_cents"]].sum()
        return frame.reset_index(drop=True)

    def results_frame(self) -> pd.DataFrame:
        """Rows of the warehouse table `whatif_results`."""
        frame = self.lines.rename(columns={"baseline_cents": "baseline_amount_cents", "scenario_cents": "scenario_amount_cents"})
        return frame.assign(scenario=self.scenario.name, period=self.period)[RESULT_COLUMNS]

    def scenario_frame(self, created_at: pd.Timestamp, dagster_run_id: str | None = None) -> pd.DataFrame:
        """The row of the warehouse table `whatif_scenarios`."""
        by_object = self.by_cost_object()
        row = {
            "scenario": self.scenario.name, "period": self.period, "description": self.scenario.description,
            "spec": self.scenario.text, "changes": "; ".join(self.changes) or "none",
            "baseline_total_cents": int(self.lines["baseline_cents"].clip(lower=0).sum()),
            "scenario_total_cents": int(self.lines["scenario_cents"].clip(lower=0).sum()),
            "objects_changed": int((by_object["difference_cents"] != 0).sum()),
            "created_at": created_at, "dagster_run_id": dagster_run_id,
        }
        return pd.DataFrame([row], columns=SCENARIO_COLUMNS)

    def report(self) -> str:
        lines = [f"What-if scenario '{self.scenario.name}' for {self.period} (nothing is posted)"]
        if self.scenario.description:
            lines.append(f"  {self.scenario.description}")
        lines.append("Changes: none (the scenario equals the baseline)" if not self.changes else "Changes:")
        lines += [f"  - {c}" for c in self.changes]
        lines.append("Per rule:")
        for r in self.runs.itertuples(index=False):
            pools = format_money(r.baseline_pool_cents) if r.baseline_pool_cents == r.scenario_pool_cents else (
                f"{format_money(r.baseline_pool_cents)} -> {format_money(r.scenario_pool_cents)}")
            methods = r.baseline_method if r.baseline_method == r.scenario_method else f"{r.baseline_method} -> {r.scenario_method}"
            lines.append(f"  {r.rule_id} ({r.entity}): pool {pools} {r.currency}, {methods}")
        by_object = self.by_cost_object()
        lines.append("Per cost object (net allocated: + received, - given away):")
        header = f"  {'entity':<6}  {'cost center':<14}  {'currency':<8}  {'baseline':>16}  {'scenario':>16}  {'difference':>16}"
        lines.append(header)
        for r in by_object.itertuples(index=False):
            lines.append(
                f"  {r.entity:<6}  {r.cost_center:<14}  {r.currency:<8}  {format_money(r.baseline_cents):>16}  "
                f"{format_money(r.scenario_cents):>16}  {format_money(r.difference_cents):>16}"
            )
        changed = int((by_object["difference_cents"] != 0).sum())
        lines.append(f"{changed} of {len(by_object)} cost object(s) change.")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def load_scenario(path: str | Path, name: str | None = None) -> Scenario:
    """Read and validate a scenario file; its name is `name`, else the file's `name:`, else its stem."""
    from allocation_pipeline.config.problems import read_yaml

    source = read_yaml(path, ScenarioError, "scenario file")
    return parse_scenario(source.data or {}, str(path), name=name or None, default_name=Path(path).stem, text=source.text, source=source)


def parse_scenario(
    document: Any, location: str = "scenario", name: str | None = None, default_name: str = "scenario", text: str | None = None, source=None,
) -> Scenario:
    """Validate a parsed scenario (`source`: the YAML file it came from, for line numbers); every
    problem in one ScenarioError."""
    from allocation_pipeline.config.scenario import check_scenario

    problems = check_scenario(document, source)
    if problems:
        raise ScenarioError.of(location, problems)
    scenario_name = name or str(document.get("name") or default_name)
    if text is None:
        text = yaml.safe_dump(document, sort_keys=False)
    return Scenario(
        name=scenario_name, description=str(document.get("description") or ""), rule_changes=document.get("rules") or {},
        new_rules=tuple(document.get("add_rules") or []), removed_rules=tuple(document.get("remove_rules") or []),
        driver_changes=tuple(document.get("drivers") or []), new_cost_centers=tuple(document.get("cost_centers") or []), text=text,
    )


def run_scenario(inputs: PeriodInputs, scenario: Scenario, methods: Mapping[str, AllocationMethod] | None = None) -> ScenarioResult:
    """Allocate the period as the rules stand (baseline) and with the scenario's changes, and put
    both side by side. Writes nothing; raises ScenarioError naming the side that cannot be allocated."""
    methods = methods if methods is not None else available_methods()
    period = inputs.period
    changes: list[str] = []
    baseline_rules = _rules(inputs.rules_document, "rules file", methods)
    document = _changed_document(inputs.rules_document, scenario, changes)
    scenario_rules = _rules(document, f"scenario {scenario.name}", methods)
    drivers, cost_centers = _changed_inputs(inputs, scenario, changes)
    baseline = _allocate("baseline", period, baseline_rules.for_period(period), inputs.balances, inputs.driver_values, inputs.cost_centers, inputs.entities, methods)
    changed = _allocate(f"scenario {scenario.name}", period, scenario_rules.for_period(period), inputs.balances, drivers, cost_centers, inputs.entities, methods)
    lines = _side_by_side(baseline.runs, changed.runs)
    runs = _runs_side_by_side(baseline.runs, changed.runs)
    notes = tuple(f"baseline: {n}" for n in baseline.notes) + tuple(f"scenario: {n}" for n in changed.notes if n not in baseline.notes)
    return ScenarioResult(scenario, period, lines, runs, tuple(changes), notes)


# --- applying the changes -----------------------------------------------------------------------


def _rules(document: Mapping[str, Any], where: str, methods):
    try:
        return parse_rules(document, where, methods)
    except RulesError as exc:
        raise ScenarioError(str(exc)) from None


def _changed_document(document: Mapping[str, Any], scenario: Scenario, changes: list[str]) -> dict[str, Any]:
    changed = copy.deepcopy(dict(document))
    rules = list(changed.get("rules") or [])
    ids = [r.get("id") for r in rules if isinstance(r, dict)]
    problems = []
    for rule_id, fields in scenario.rule_changes.items():
        if rule_id not in ids:
            problems.append(f"rules.{rule_id}: no such rule in the rules file{did_you_mean(rule_id, map(str, ids))} (rules: {', '.join(map(str, ids))})")
            continue
        position = ids.index(rule_id)
        before = rules[position]
        rules[position] = {**before, **copy.deepcopy(dict(fields))}
        described = ", ".join(f"{k} {_short(before.get(k))} -> {_short(v)}" for k, v in fields.items())
        changes.append(f"rule {rule_id}: {described}")
    for rule_id in scenario.removed_rules:
        if rule_id not in ids:
            problems.append(f"remove_rules: no rule '{rule_id}' in the rules file{did_you_mean(rule_id, map(str, ids))}")
            continue
        rules = [r for r in rules if not (isinstance(r, dict) and r.get("id") == rule_id)]
        changes.append(f"rule {rule_id} removed")
    for rule in scenario.new_rules:
        rules.append(copy.deepcopy(dict(rule)))
        changes.append(f"rule {rule.get('id')} added ({rule.get('method')})")
    if problems:
        raise ScenarioError(f"scenario {scenario.name}: " + "; ".join(problems))
    changed["rules"] = rules
    return changed


def _changed_inputs(inputs: PeriodInputs, scenario: Scenario, changes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    period = inputs.period
    values = inputs.driver_values[inputs.driver_values["period"] == period].astype(
        {"period": object, "driver": object, "dimension": object, "cost_object": object, "value": "float64"}
    ).reset_index(drop=True)
    rows = {(r.driver, r.dimension, r.cost_object): float(r.value) for r in values.itertuples(index=False)}
    centers = inputs.cost_centers
    problems: list[str] = []
    known_centers = set(centers["cost_center"].astype(str))
    added = []
    for position, center in enumerate(scenario.new_cost_centers, start=1):
        cc = center["cost_center"]
        if cc in known_centers:
            problems.append(f"cost_centers #{position}: {cc} already exists")
            continue
        known_centers.add(cc)
        added.append(
            {
                "cost_center": cc, "name": str(center.get("name", cc)), "entity": center["entity"], "kind": str(center.get("kind", "operating")),
                "function": center.get("function", "business"), "parent": center.get("parent"), "active": bool(center.get("active", True)),
            }
        )
        for driver, value in (center.get("drivers") or {}).items():
            rows[(str(driver), "cost_center", cc)] = float(value)
        drivers = ", ".join(f"{d} {_quantity(v)}" for d, v in (center.get("drivers") or {}).items())
        changes.append(f"new cost center {cc} ({center['entity']}, {added[-1]['kind']})" + (f" with {drivers}" if drivers else ""))
    for position, change in enumerate(scenario.driver_changes, start=1):
        try:
            changes.append(_apply_driver_change(rows, change))
        except ValueError as exc:
            problems.append(f"drivers #{position}: {exc}")
    if problems:
        raise ScenarioError(f"scenario {scenario.name}: " + "; ".join(problems))
    if added:
        centers = pd.concat([centers, pd.DataFrame(added)], ignore_index=True)
    frame = pd.DataFrame(
        [{"period": period, "driver": d, "dimension": dim, "cost_object": o, "value": v} for (d, dim, o), v in rows.items()],
        columns=["period", "driver", "dimension", "cost_object", "value"],
    )
    return frame, centers


def _apply_driver_change(rows: dict[tuple[str, str, str], float], change: Mapping[str, Any]) -> str:
    dimension = str(change.get("dimension", "cost_center"))
    if "move" in change:
        driver, source, target, amount = str(change["move"]), str(change["from"]), str(change["to"]), float(change["amount"])
        have = rows.get((driver, dimension, source))
        if have is None:
            raise ValueError(f"{source} has no {driver} value to move")
        if amount > have:
            raise ValueError(f"{source} has {_quantity(have)} {driver}; cannot move {_quantity(amount)}")
        rows[(driver, dimension, source)] = have - amount
        rows[(driver, dimension, target)] = rows.get((driver, dimension, target), 0.0) + amount
        return f"{driver}: {_quantity(amount)} moved from {source} to {target}"
    if "set" in change:
        driver, cost_object, value = str(change["set"]), str(change["cost_object"]), float(change["value"])
        before = rows.get((driver, dimension, cost_object))
        rows[(driver, dimension, cost_object)] = value
        return f"{driver} of {cost_object}: {_quantity(before)} -> {_quantity(value)}"
    driver, factor = str(change["scale"]), float(change["factor"])
    chosen = [k for k in rows if k[0] == driver and k[1] == dimension and ("cost_object" not in change or k[2] == str(change["cost_object"]))]
    if not chosen:
        raise ValueError(f"no {driver} values to scale" + (f" for {change['cost_object']}" if "cost_object" in change else ""))
    for key in chosen:
        rows[key] = rows[key] * factor
    return f"{driver}{' of ' + str(change['cost_object']) if 'cost_object' in change else ''} scaled by {factor:g}"


# --- comparing ----------------------------------------------------------------------------------


def _allocate(side: str, period, rules, balances, drivers, cost_centers, entities, methods):
    try:
        return allocate_period(period, rules, balances, drivers, cost_centers, entities, methods)
    except (AllocationError, MethodError) as exc:
        raise ScenarioError(f"{side} cannot be allocated in {period}: {exc}") from None


def _net(runs: list[RunDraft]) -> pd.Series:
    if not runs:
        return pd.Series(dtype="int64", index=pd.MultiIndex.from_tuples([], names=LINE_KEYS))
    frame = pd.concat([r.lines.assign(entity=r.entity, currency=r.currency, rule_id=r.rule_id) for r in runs], ignore_index=True)
    frame = frame.assign(net=frame["debit_cents"].to_numpy(np.int64) - frame["credit_cents"].to_numpy(np.int64))
    for key in ("product", "region"):
        frame[key] = frame[key].astype(object).where(frame[key].notna(), "")
    return frame.groupby(LINE_KEYS, sort=True)["net"].sum()


def _side_by_side(baseline: list[RunDraft], scenario: list[RunDraft]) -> pd.DataFrame:
    both = pd.concat([_net(baseline).rename("baseline_cents"), _net(scenario).rename("scenario_cents")], axis=1).fillna(0)
    both = both.astype("int64").reset_index()
    both["difference_cents"] = both["scenario_cents"] - both["baseline_cents"]
    for key in ("product", "region"):
        both[key] = both[key].where(both[key] != "", None)
    return both[[*LINE_KEYS, "baseline_cents", "scenario_cents", "difference_cents"]]


def _runs_side_by_side(baseline: list[RunDraft], scenario: list[RunDraft]) -> pd.DataFrame:
    def table(runs: list[RunDraft], side: str) -> pd.DataFrame:
        return pd.DataFrame(
            [{"entity": r.entity, "rule_id": r.rule_id, "currency": r.currency, f"{side}_pool_cents": r.pool_cents, f"{side}_method": r.method} for r in runs],
            columns=["entity", "rule_id", "currency", f"{side}_pool_cents", f"{side}_method"],
        )

    merged = table(baseline, "baseline").merge(table(scenario, "scenario"), on=["entity", "rule_id", "currency"], how="outer", sort=True)
    for side in ("baseline", "scenario"):
        merged[f"{side}_pool_cents"] = merged[f"{side}_pool_cents"].fillna(0).astype("int64")
        merged[f"{side}_method"] = merged[f"{side}_method"].fillna("no run")
    return merged


def _short(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip() if value is not None else "none"
    text = text.removesuffix("\n...").strip()
    return text if len(text) <= 80 else text[:77] + "..."


def _quantity(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
