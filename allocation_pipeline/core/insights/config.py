"""The `insights:` section of the rules file: the pools analysed, flag thresholds and which flags block.

    insights:
      history_periods: 12           # periods of driver history an analysis reads, the current one included
      min_periods: 3                # fewer periods with consumption: no recommendation, said plainly
      thresholds:
        share_gap_points: 1         # allocated share vs consumption share, percentage points ...
        share_gap_percent: 25       # ... and percent of the consumption share (both must be exceeded)
        peer_z: 3.5                 # robust z of the cost per unit against the rule's other targets ...
        peer_gap_percent: 20        # ... and percent away from the peers' median rate
        min_peers: 5                # fewer targets with a unit count: no peer comparison
        jump_percent: 25            # change of a target's amount against the previous period ...
        jump_min_amount: "1000.00"  # ... and at least this much money
        fit_drop: 0.2               # drop of the key's R^2 against its median over earlier periods
      blocking: {consumption_gap: high}   # flag kind -> lowest severity that blocks (default: none block)
      confidence:                   # optional: the permutation test and the labels (defaults shown)
        permutations: 499
        seed: 20260
        strong_p: 0.005
        strong_r2: 0.6
        moderate_p: 0.01
        moderate_r2: 0.3
        weak_p: 0.1
        min_all_units_r2: 0.3
      suggestions:                  # optional: cost-center suggestions for quarantined lines
        suspense_cost_centers: [US-SUSP]   # lines booked here get a suggestion too
        history_periods: 12         # months of clean lines the model learns from
        high_confidence: 0.8        # probability at or above: high; at or above medium_confidence: medium
        medium_confidence: 0.5
        seed: 13
      pools:
        - id: us_corporate_it       # a rule id, or the id a recommendation gives the rule it adds
          consumption: it_consumption
          candidates: [headcount, it_tickets, cloud_spend, app_licences]
          proposal:                 # only for a pool no rule allocates yet: the new rule's other fields
            entity: US
            source: {accounts: ["64200"], cost_centers: [US-IT]}
            target: {dimension: cost_center, members: [US-BU1, US-BU2]}
            accounts: {credit: "69100", debit: "69000"}

A rules file without the section has no pools and the default thresholds; nothing blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from allocation_pipeline.config.problems import ConfigError
from allocation_pipeline.core.allocation.methods import AllocationMethod
from allocation_pipeline.core.insights.confidence import ConfidenceSettings
from allocation_pipeline.core.allocation.rules import Rule, RuleSet, RulesError, parse_rules

SECTION = "insights"
FLAG_KINDS = ("consumption_gap", "peer_outlier", "period_jump", "fit_drop", "turned_unprofitable", "confidence_drop")
SEVERITIES = ("low", "medium", "high")


class InsightsConfigError(ConfigError):
    """An `insights:` section that cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class SuggestionSettings:
    """Cost-center suggestions for quarantined lines: `suspense_cost_centers` are cost centers whose
    lines also get a suggestion; the model learns from `history_periods` months of clean lines;
    a suggestion's probability at or above `high_confidence` is high, at or above
    `medium_confidence` medium, else low; `seed` fixes the model."""

    suspense_cost_centers: tuple[str, ...] = ()
    history_periods: int = 12
    high_confidence: float = 0.8
    medium_confidence: float = 0.5
    seed: int = 13


@dataclass(frozen=True)
class Thresholds:
    """When a figure becomes a flag. Shares and percents are in percent, money in cents."""

    share_gap_points: float = 1.0
    share_gap_percent: float = 25.0
    peer_z: float = 3.5
    peer_gap_percent: float = 20.0
    min_peers: int = 5
    jump_percent: float = 25.0
    jump_min_cents: int = 100_000
    fit_drop: float = 0.2


@dataclass(frozen=True)
class PoolSpec:
    """A cost pool with observed consumption: what its drivers are measured against.

    `id` is the rule allocating the pool; when no rule of that id exists, `proposal` holds the
    fields of the rule a recommendation would add (entity, source, target, accounts, ...), and
    None means the pool must be a rule.
    """

    id: str
    consumption: str
    candidates: tuple[str, ...]
    description: str = ""
    proposal: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class InsightsConfig:
    pools: tuple[PoolSpec, ...] = ()
    thresholds: Thresholds = Thresholds()
    blocking: Mapping[str, str] = field(default_factory=dict)
    history_periods: int = 12
    min_periods: int = 3
    path: str = ""
    confidence: ConfidenceSettings = ConfidenceSettings()
    suggestions: SuggestionSettings = field(default_factory=lambda: SuggestionSettings())

    def pool(self, pool_id: str) -> PoolSpec:
        for pool in self.pools:
            if pool.id == pool_id:
                return pool
        known = ", ".join(p.id for p in self.pools) or "none configured"
        raise InsightsConfigError(f"{self.path or 'rules'}: no insights pool '{pool_id}' (pools: {known})")

    def pool_for_rule(self, rule_id: str) -> PoolSpec | None:
        return next((p for p in self.pools if p.id == rule_id), None)

    def blocks(self, kind: str, severity: str) -> bool:
        """Whether a flag of this kind and severity blocks (configured under `blocking`)."""
        lowest = self.blocking.get(kind)
        return lowest is not None and SEVERITIES.index(severity) >= SEVERITIES.index(lowest)


def load_insights(path: str | Path) -> InsightsConfig:
    """The `insights:` section of a rules file (defaults when the file has none)."""
    from allocation_pipeline.config.problems import read_yaml

    source = read_yaml(path, InsightsConfigError)
    return _build(source.data, str(path), source)


def parse_insights(document: Any, location: str = "rules") -> InsightsConfig:
    """Validate the `insights:` section of a parsed rules document; every problem in one error."""
    return _build(document, location)


def _build(document: Any, location: str, source=None) -> InsightsConfig:
    from allocation_pipeline.config.insights import check_insights

    config, problems = check_insights(document, source)
    if problems:
        raise InsightsConfigError.of(location, problems)
    return replace(config, path=location)


def pool_rule(
    pool: PoolSpec, rule_set: RuleSet, methods: Mapping[str, AllocationMethod] | None = None,
    method: str | None = None, parameters: Mapping[str, Any] | None = None,
) -> Rule:
    """The rule allocating `pool`: the rules file's rule of that id as it stands, or, with `method`
    and `parameters`, that rule with its method replaced; for a pool without a rule, the rule its
    `proposal` describes, with `method` (default even_split) and ordered after every other rule."""
    existing = next((r for r in rule_set.rules if r.id == pool.id), None)
    if existing is not None:
        if method is None:
            return existing
        return replace(existing, method=method, parameters=dict(parameters or {}), fallback_method=None, fallback_parameters={})
    if pool.proposal is None:
        raise InsightsConfigError(
            f"{rule_set.path}: insights pool '{pool.id}' has no rule of that id and no proposal to build one from"
        )
    document = proposal_document(pool, method or "even_split", parameters or {}, _next_order(rule_set))
    try:
        return parse_rules({"rules": [document]}, f"{rule_set.path}: insights pool '{pool.id}' proposal", methods).rules[0]
    except RulesError as exc:
        raise InsightsConfigError(str(exc)) from None


def proposal_document(pool: PoolSpec, method: str, parameters: Mapping[str, Any], order: int) -> dict[str, Any]:
    """The rule (as a rules-file mapping) a pool's proposal and a method make."""
    proposal = dict(pool.proposal or {})
    document: dict[str, Any] = {"id": pool.id}
    if pool.description and "description" not in proposal:
        document["description"] = pool.description
    document.update({k: v for k, v in proposal.items() if k in ("description", "type", "entity")})
    document["order"] = proposal.get("order", order)
    document.update({k: v for k, v in proposal.items() if k in ("source",)})
    document["method"] = method
    document["parameters"] = dict(parameters)
    document.update({k: v for k, v in proposal.items() if k in ("target", "accounts", "effective", "fallback")})
    document["approval"] = proposal.get("approval", "manual")
    return document


def _next_order(rule_set: RuleSet) -> int:
    return max((r.order for r in rule_set.rules), default=0) + 10


def shift_period(period: str, months: int) -> str:
    """The fiscal month `months` after `period` (negative: before): shift_period('2026-01', -1) == '2025-12'."""
    year, month = int(period[:4]), int(period[5:7])
    ordinal = year * 12 + month - 1 + months
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"
