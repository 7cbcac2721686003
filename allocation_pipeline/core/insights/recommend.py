"""A pool's analysis put to work: its allocation by the recommended key next to the current one,
who over- or under-consumes, and the reviewed change a recommendation writes into the rules file.

Applying a recommendation never switches a method silently: for a pool no rule allocates yet it
adds the rule (with manual approval, so its first run is reviewed), and for an existing rule it
adds a commented proposal block under the rule, which changes nothing until the analyst edits the
rule. Re-applying replaces the earlier proposal block instead of adding another.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd
import yaml

from allocation_pipeline.core.allocation.allocate import AllocationError, RunDraft, allocate_period, resolve_targets
from allocation_pipeline.core.insights.anomalies import Flag, allocations_from_runs, detect_flags
from allocation_pipeline.core.insights.changes import method_label
from allocation_pipeline.core.insights.config import InsightsConfig, InsightsConfigError, PoolSpec, pool_rule, proposal_document
from allocation_pipeline.core.insights.driver_analysis import DriverAnalysis, Recommendation, analyse_drivers
from allocation_pipeline.core.insights.whatif import PeriodInputs
from allocation_pipeline.core.allocation.methods import AllocationMethod, MethodError, available_methods
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import Rule, RuleSet, RulesError, parse_rules


class RecommendationError(ValueError):
    """A recommendation that cannot be computed or written; the message says why."""


@dataclass(frozen=True)
class PoolReport:
    """One pool in one period: the driver analysis, the pool's allocation as the rules stand
    (`current`, None when no rule allocates it yet) and by the recommended key (`proposed`, None
    without a recommendation), the consumption per cost object, and the flags of the allocation
    the pool is (or would be) charged by."""

    period: str
    pool: PoolSpec
    rule: Rule
    has_rule: bool
    analysis: DriverAnalysis
    current: RunDraft | None
    proposed: RunDraft | None
    consumption: Mapping[str, float]
    flags: tuple[Flag, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table(self) -> pd.DataFrame:
        """Per cost object: consumption and its share, and each allocation's amount and share."""
        objects = sorted(set(self.consumption) | set(_received(self.current)) | set(_received(self.proposed)))
        total = sum(self.consumption.values()) or 1.0
        rows = []
        for o in objects:
            row = {"cost_object": o, "consumption": self.consumption.get(o), "consumption_share": self.consumption.get(o, 0.0) / total}
            for name, run in (("current", self.current), ("proposed", self.proposed)):
                if run is not None:
                    amount = _received(run).get(o, 0)
                    row[f"{name}_cents"] = amount
                    row[f"{name}_share"] = amount / run.pool_cents if run.pool_cents else 0.0
            rows.append(row)
        return pd.DataFrame(rows)

    def report(self) -> str:
        lines = [self.analysis.report()]
        charged = self.current or self.proposed
        if charged is None:
            lines += [f"Note: {n}" for n in self.notes]
            return "\n".join(lines)
        what = []
        if self.proposed is not None:
            what.append(f"the recommended key ({self.analysis.recommendation.label})")
        if self.current is not None:
            what.append(f"the rule as it stands ({method_label(self.rule)})")
        lines.append("")
        lines.append(
            f"Allocation of {format_money(charged.pool_cents)} {charged.currency} (pool of {self.pool.id}, {self.rule.entity}, {self.period}) "
            f"by {' and by '.join(what)}; nothing is posted:"
        )
        table = self.table()
        header = f"  {'cost object':<14}  {'consumption':>14}  {'share':>6}"
        if self.proposed is not None:
            header += f"  {'recommended':>14}  {'share':>6}"
        if self.current is not None:
            header += f"  {'current':>14}  {'share':>6}"
        lines.append(header)
        for row in table.to_dict("records"):
            text = f"  {row['cost_object']:<14}  {_money_or_dash(row['consumption']):>14}  {row['consumption_share']:>6.1%}"
            if self.proposed is not None:
                text += f"  {format_money(row['proposed_cents']):>14}  {row['proposed_share']:>6.1%}"
            if self.current is not None:
                text += f"  {format_money(row['current_cents']):>14}  {row['current_share']:>6.1%}"
            lines.append(text)
        basis = "the rule as it stands" if self.current is not None else "the recommended key"
        lines.append(f"Over- and under-consumers against what they are charged under {basis}:")
        gaps = [f for f in self.flags if f.kind in ("consumption_gap", "peer_outlier")]
        if not gaps:
            lines.append("  none: every cost object is charged close to its share of consumption")
        for f in sorted(gaps, key=lambda f: (f.kind, -abs(f.amount_cents or 0), f.cost_object or "")):
            lines.append(f"  - [{f.severity}] {f.message}")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def analyse_pool(
    period: str,
    pool: PoolSpec,
    rule_set: RuleSet,
    config: InsightsConfig,
    history: pd.DataFrame,
    inputs: PeriodInputs,
    methods: Mapping[str, AllocationMethod] | None = None,
) -> PoolReport:
    """Analyse one pool's drivers over the history window ending with `period`, and allocate the
    period's pool by the recommended key (and by the rule as it stands, where there is one)."""
    methods = methods if methods is not None else available_methods()
    try:
        rule = pool_rule(pool, rule_set, methods)
    except InsightsConfigError as exc:
        raise RecommendationError(str(exc)) from None
    has_rule = any(r.id == pool.id for r in rule_set.rules)
    try:
        targets = resolve_targets(rule.target, inputs.cost_centers, rule.entity)
    except AllocationError as exc:
        raise RecommendationError(f"pool {pool.id}: {exc}") from None
    window = _window(history, period, config.history_periods)
    analysis = analyse_drivers(
        window, pool.consumption, pool.candidates, pool_id=pool.id, dimension=rule.target.dimension, targets=targets,
        min_periods=config.min_periods, settings=config.confidence,
    )
    notes: list[str] = []
    current = _allocate(period, rule, rule_set, inputs, methods, notes) if has_rule and rule.effective_in(period) else None
    if has_rule and not rule.effective_in(period):
        notes.append(f"rule {rule.id} is not in force in {period}")
    proposed = None
    if analysis.recommendation is not None:
        recommended = pool_rule(pool, rule_set, methods, analysis.recommendation.method, analysis.recommendation.parameters)
        proposed = _allocate(period, recommended, rule_set, inputs, methods, notes)
    in_period = inputs.driver_values[inputs.driver_values["period"] == period]
    consumption = in_period[(in_period["driver"] == pool.consumption) & (in_period["dimension"] == rule.target.dimension)]
    consumption = {str(o): float(v) for o, v in zip(consumption["cost_object"], consumption["value"]) if str(o) in set(targets)}
    charged = current or proposed
    flags: list[Flag] = []
    if charged is not None:
        allocations = allocations_from_runs([charged], {rule.id: rule})
        flags = detect_flags(period, allocations, inputs.driver_values, config, {rule.id: rule})
    if not consumption:
        notes.append(f"no {pool.consumption} values in {period}: over- and under-consumers cannot be named for it")
    return PoolReport(period, pool, rule, has_rule, analysis, current, proposed, consumption, tuple(flags), tuple(notes))


def apply_recommendation(
    text: str,
    report: PoolReport,
    today: str,
    methods: Mapping[str, AllocationMethod] | None = None,
) -> tuple[str, str]:
    """The rules file's text with the recommendation written in, and a sentence saying what changed.

    Text is edited in place (comments and layout elsewhere are kept) and the result is validated
    as a rules file before it is returned; an unchanged text means there was nothing to write."""
    methods = methods if methods is not None else available_methods()
    recommendation = report.analysis.recommendation
    if recommendation is None:
        why = [report.analysis.confidence.sentence] if report.analysis.confidence is not None else list(report.analysis.notes or ("too little data",))
        raise RecommendationError(f"no recommendation for pool {report.pool.id} in {report.period}: " + " ".join(why) + " Nothing written.")
    if not recommendation.confident:
        raise RecommendationError(
            f"the recommendation for pool {report.pool.id} in {report.period} has {recommendation.confidence} evidence "
            f"(p = {report.analysis.confidence.p_value:.3f}); only strong or moderate evidence is written into the rules"
        )
    lines = text.splitlines()
    items = _rule_items(text)
    pool_id = report.pool.id
    why = _why(report, recommendation, today)
    if report.has_rule:
        rule = report.rule
        if rule.method == recommendation.method and _same(rule.parameters, recommendation.parameters):
            return text, f"rule {rule.id} already uses the recommended key ({recommendation.label}); nothing written"
        start, end, column = items[pool_id]
        pad = " " * column
        lines, removed = _without_block(lines, pool_id)
        if removed and removed[0] < end:
            end -= removed[1] - removed[0]
        rendered = yaml.safe_dump({"method": recommendation.method, "parameters": dict(recommendation.parameters)}, sort_keys=False, default_flow_style=None, width=1000)
        block = [f"{pad}# >>> proposal for {pool_id} by `allocation recommend` ({report.period}, {today}): not in force;"]
        block.append(f"{pad}#     to adopt it, replace method and parameters above with these and review the next run")
        block += [f"{pad}# {line}" for line in rendered.strip().splitlines()]
        block += [f"{pad}# {line}" for line in why]
        block.append(f"{pad}# <<< proposal for {pool_id}")
        new_lines = lines[: end + 1] + block + lines[end + 1 :]
        if new_lines == text.splitlines():
            return text, f"rule {pool_id} already has this proposal under it (line {end + 2}); nothing written"
        message = (
            f"added a commented proposal under rule {pool_id} (line {end + 2} of the rules file): {recommendation.method} "
            f"({recommendation.label}); the rule still uses {method_label(rule)} until you edit it"
        )
    else:
        if not items:
            raise RecommendationError("the rules file has no rules list to add the rule to; add it by hand")
        last_end = max(end for _, end, _ in items.values())
        column = next(iter(items.values()))[2]
        dash = " " * (column - 2)
        document = proposal_document(report.pool, recommendation.method, recommendation.parameters, report.rule.order)
        rendered = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000).strip().splitlines()
        block = [""]
        block += [f"{dash}# {line}" for line in why]
        block.append(f"{dash}- {rendered[0]}")
        block += [f"{dash}  {line}" for line in rendered[1:]]
        new_lines = lines[: last_end + 1] + block + lines[last_end + 1 :]
        approval = document.get("approval")
        message = (
            f"added rule {pool_id} ({report.rule.entity}, order {document['order']}) with {recommendation.method} "
            f"({recommendation.label}) at line {last_end + 3 + len(why)} of the rules file; approval {approval if isinstance(approval, str) else 'as proposed'}"
            ", so its first run waits for review"
        )
    new_text = "\n".join(new_lines) + ("\n" if text.endswith("\n") else "")
    try:
        parse_rules(yaml.safe_load(new_text), "rules file with the recommendation", methods)
    except (RulesError, yaml.YAMLError) as exc:
        raise RecommendationError(f"writing the recommendation would break the rules file ({exc}); nothing written") from None
    return new_text, message


# --- helpers ------------------------------------------------------------------------------------


def _window(history: pd.DataFrame, period: str, periods: int) -> pd.DataFrame:
    upto = history[history["period"].astype(str) <= period]
    keep = sorted(set(upto["period"].astype(str)))[-periods:]
    return upto[upto["period"].astype(str).isin(keep)]


def _allocate(period: str, rule: Rule, rule_set: RuleSet, inputs: PeriodInputs, methods, notes: list[str]) -> RunDraft | None:
    """The pool's run with the rules of its entity that come before it applied first (a later
    rule may pool what earlier ones allocated), as the pipeline would compute it."""
    earlier = [r for r in rule_set.for_period(period, rule.entity) if r.id != rule.id and (r.order, r.id) < (rule.order, rule.id)]
    try:
        outcome = allocate_period(period, [*earlier, rule], inputs.balances, inputs.driver_values, inputs.cost_centers, inputs.entities, methods)
    except (AllocationError, MethodError) as exc:
        notes.append(f"{rule.id} by {rule.method} cannot be allocated in {period}: {exc}")
        return None
    run = next((r for r in outcome.runs if r.rule_id == rule.id), None)
    if run is None:
        notes.append(f"the pool of {rule.id} is empty in {period}")
    return run


def _received(run: RunDraft | None) -> dict[str, int]:
    if run is None:
        return {}
    targets = run.lines[run.lines["role"] == "target"]
    amounts: dict[str, int] = {}
    for cc, debit, credit in zip(targets["cost_center"], targets["debit_cents"], targets["credit_cents"]):
        amounts[str(cc)] = amounts.get(str(cc), 0) + int(debit) - int(credit)
    return amounts


def _money_or_dash(value) -> str:
    return "-" if value is None or value != value else f"{value:,.2f}"


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(x):
        if isinstance(x, Mapping):
            return {str(k): norm(v) for k, v in x.items()}
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return float(x)
        return x

    return norm(a) == norm(b)


def _why(report: PoolReport, recommendation: Recommendation, today: str) -> list[str]:
    analysis = report.analysis
    head = (
        f"Recommended by `allocation recommend` on {today} from the driver analysis of {report.period} "
        f"({analysis.periods[0]} to {analysis.periods[-1]}, consumption {analysis.consumption}):"
    )
    lines = [head]
    for reason in recommendation.reasons:
        wrapped = textwrap.wrap(reason, width=96)
        lines += ["  " + wrapped[0]] + ["    " + w for w in wrapped[1:]]
    return lines


def _rule_items(text: str) -> dict[str, tuple[int, int, int]]:
    """Each rule of the `rules:` list: (first line, last line with content, column of its fields), 0-based."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RecommendationError(f"the rules file is not valid YAML ({exc})") from None
    items: dict[str, tuple[int, int, int]] = {}
    if root is None or not isinstance(root, yaml.MappingNode):
        return items
    for key, value in root.value:
        if key.value != "rules" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            rule_id = next((v.value for k, v in item.value if k.value == "id" and isinstance(v, yaml.ScalarNode)), None)
            if rule_id is not None:
                items[str(rule_id)] = (item.start_mark.line, _last_line(item), item.start_mark.column)
    return items


def _last_line(node: yaml.Node) -> int:
    """The last line holding text of a node (end marks of block collections run into the next line)."""
    if isinstance(node, yaml.ScalarNode):
        return node.end_mark.line - (1 if node.end_mark.column == 0 and node.end_mark.line > node.start_mark.line else 0)
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = list(node.value)
    if node.flow_style:
        return node.end_mark.line
    return max((_last_line(n) for n in children), default=node.start_mark.line)


def _without_block(lines: list[str], pool_id: str) -> tuple[list[str], tuple[int, int] | None]:
    """The lines without an earlier proposal block for this rule, and the range it held."""
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(f"# >>> proposal for {pool_id} ")), None)
    if start is None:
        return lines, None
    end = next((i for i in range(start, len(lines)) if lines[i].strip() == f"# <<< proposal for {pool_id}"), None)
    if end is None:
        return lines, None
    return lines[:start] + lines[end + 1 :], (start, end + 1)
