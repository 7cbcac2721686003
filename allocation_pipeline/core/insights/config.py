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

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml

from allocation_pipeline.core.insights.confidence import ConfidenceSettings
from allocation_pipeline.core.methods import AllocationMethod
from allocation_pipeline.core.money import decimal_to_cents
from allocation_pipeline.core.rules import Rule, RuleSet, RulesError, parse_rules

SECTION = "insights"
FLAG_KINDS = ("consumption_gap", "peer_outlier", "period_jump", "fit_drop", "turned_unprofitable", "confidence_drop")
SEVERITIES = ("low", "medium", "high")
# What a proposal may hold: a rule's fields except those a recommendation supplies.
_PROPOSAL_KEYS = {"description", "type", "entity", "order", "source", "target", "accounts", "effective", "approval", "fallback"}
_POOL_KEYS = {"id", "description", "consumption", "candidates", "proposal"}
_SECTION_KEYS = {"history_periods", "min_periods", "thresholds", "blocking", "pools", "confidence", "suggestions"}


class InsightsConfigError(ValueError):
    """An `insights:` section that cannot be used; the message names the file, entry and field."""


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
    path = Path(path)
    if not path.is_file():
        raise InsightsConfigError(f"{path}: rules file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InsightsConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_insights(document, str(path))


def parse_insights(document: Any, location: str = "rules") -> InsightsConfig:
    """Validate the `insights:` section of a parsed rules document; every problem in one error."""
    raw = document.get(SECTION) if isinstance(document, dict) else None
    if raw is None:
        return InsightsConfig(path=location)
    where = f"{location}: {SECTION}"
    if not isinstance(raw, dict):
        raise InsightsConfigError(f"{where}: expected a mapping (pools, thresholds, blocking)")
    problems: list[str] = []
    unknown = sorted(set(raw) - _SECTION_KEYS)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(map(str, unknown))}")
    history = _whole(raw, "history_periods", 12, 1, problems)
    min_periods = _whole(raw, "min_periods", 3, 2, problems)
    thresholds = _parse_thresholds(raw.get("thresholds"), problems)
    blocking = _parse_blocking(raw.get("blocking"), problems)
    pools: list[PoolSpec] = []
    raw_pools = raw.get("pools") or []
    if not isinstance(raw_pools, list):
        problems.append("pools: expected a list")
        raw_pools = []
    seen: set[str] = set()
    for position, item in enumerate(raw_pools, start=1):
        pool = _parse_pool(item, position, problems)
        if pool is None:
            continue
        if pool.id in seen:
            problems.append(f"pool '{pool.id}': id: duplicate pool id")
        seen.add(pool.id)
        pools.append(pool)
    confidence = _parse_confidence(raw.get("confidence"), problems)
    suggestions = _parse_suggestions(raw.get("suggestions"), problems)
    if problems:
        raise InsightsConfigError(f"{where}: " + "; ".join(problems))
    return InsightsConfig(tuple(pools), thresholds, blocking, history, min_periods, location, confidence, suggestions)


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
        from dataclasses import replace

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


def _whole(raw: dict, key: str, default: int, minimum: int, problems: list[str]) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append(f"{key}: must be a whole number of at least {minimum}")
        return default
    return value


def _parse_thresholds(raw: Any, problems: list[str]) -> Thresholds:
    if raw is None:
        return Thresholds()
    if not isinstance(raw, dict):
        problems.append("thresholds: expected a mapping")
        return Thresholds()
    defaults = Thresholds()
    values: dict[str, Any] = {}
    names = {"share_gap_points", "share_gap_percent", "peer_z", "peer_gap_percent", "min_peers", "jump_percent", "jump_min_amount", "fit_drop"}
    unknown = sorted(set(raw) - names)
    if unknown:
        problems.append(f"thresholds: unknown field(s) {', '.join(map(str, unknown))}")
    for key, value in raw.items():
        if key not in names:
            continue
        if key == "jump_min_amount":
            try:
                values["jump_min_cents"] = abs(decimal_to_cents(Decimal(str(value))))
            except (ValueError, ArithmeticError) as exc:
                problems.append(f"thresholds.jump_min_amount: {exc}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"thresholds.{key}: '{value}' is not a number of 0 or more")
            continue
        values[key] = int(value) if key == "min_peers" else float(value)
    if values.get("min_peers", defaults.min_peers) < 3:
        problems.append("thresholds.min_peers: robust statistics need at least 3 peers")
        values.pop("min_peers")
    return Thresholds(**{**defaults.__dict__, **values})


def _parse_blocking(raw: Any, problems: list[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {kind: "low" for kind in raw}
    if not isinstance(raw, dict):
        problems.append("blocking: map a flag kind to the lowest severity that blocks, e.g. {consumption_gap: high}")
        return {}
    blocking = {}
    for kind, severity in raw.items():
        if kind not in FLAG_KINDS:
            problems.append(f"blocking: '{kind}' is not a flag kind ({', '.join(FLAG_KINDS)})")
        elif severity not in SEVERITIES:
            problems.append(f"blocking.{kind}: '{severity}' is not a severity ({', '.join(SEVERITIES)})")
        else:
            blocking[str(kind)] = str(severity)
    return blocking


def _parse_pool(raw: Any, position: int, problems: list[str]) -> PoolSpec | None:
    where = f"pool #{position}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    pool_id = raw.get("id")
    if isinstance(pool_id, str) and pool_id.strip():
        where = f"pool '{pool_id}'"
    else:
        problems.append(f"{where}: id: name the rule (or the rule to add)")
        return None
    found: list[str] = []
    unknown = sorted(set(raw) - _POOL_KEYS)
    if unknown:
        found.append(f"unknown field(s) {', '.join(map(str, unknown))}")
    consumption = raw.get("consumption")
    if not isinstance(consumption, str) or not consumption:
        found.append("consumption: name the usage metric of observed consumption")
    candidates = raw.get("candidates")
    if not isinstance(candidates, list) or not candidates or not all(isinstance(c, str) and c for c in candidates):
        found.append("candidates: list the candidate drivers")
        candidates = []
    elif len(set(candidates)) != len(candidates):
        found.append("candidates: a driver is listed twice")
    elif consumption in candidates:
        found.append(f"candidates: the consumption metric {consumption} cannot be its own driver")
    proposal = raw.get("proposal")
    if proposal is not None:
        if not isinstance(proposal, dict):
            found.append("proposal: expected the new rule's fields (entity, source, target, accounts)")
            proposal = None
        else:
            extra = sorted(set(proposal) - _PROPOSAL_KEYS)
            if extra:
                found.append(f"proposal: field(s) {', '.join(map(str, extra))} not allowed (a recommendation supplies id, method and parameters)")
            else:
                spec = PoolSpec(pool_id.strip(), "", (), proposal=proposal)
                try:
                    parse_rules({"rules": [proposal_document(spec, "even_split", {}, 10)]}, "proposal")
                except RulesError as exc:
                    found.append(str(exc).replace("proposal: rule ", "proposal: ", 1))
    problems += [f"{where}: {p}" for p in found]
    if found:
        return None
    return PoolSpec(
        id=pool_id.strip(), consumption=consumption, candidates=tuple(candidates),
        description=str(raw.get("description", "")), proposal=proposal,
    )


def shift_period(period: str, months: int) -> str:
    """The fiscal month `months` after `period` (negative: before): shift_period('2026-01', -1) == '2025-12'."""
    year, month = int(period[:4]), int(period[5:7])
    ordinal = year * 12 + month - 1 + months
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


# --- settings of issue 13 (confidence, suggestions): optional, with defaults --------------------


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


def _parse_confidence(raw: Any, problems: list[str]) -> ConfidenceSettings:
    if raw is None:
        return ConfidenceSettings()
    if not isinstance(raw, dict):
        problems.append("confidence: expected a mapping (permutations, seed, strong_p, ...)")
        return ConfidenceSettings()
    defaults = ConfidenceSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in defaults.__dict__:
            problems.append(f"confidence: unknown field {key} ({', '.join(defaults.__dict__)})")
        elif key in ("permutations", "seed"):
            if not isinstance(value, int) or isinstance(value, bool) or value < (19 if key == "permutations" else 0):
                problems.append(f"confidence.{key}: '{value}' must be a whole number of at least {19 if key == 'permutations' else 0}")
            else:
                values[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
            problems.append(f"confidence.{key}: '{value}' must be a number between -1 and 1")
        else:
            values[key] = float(value)
    return ConfidenceSettings(**{**defaults.__dict__, **values})


def _parse_suggestions(raw: Any, problems: list[str]) -> SuggestionSettings:
    if raw is None:
        return SuggestionSettings()
    if not isinstance(raw, dict):
        problems.append("suggestions: expected a mapping (suspense_cost_centers, history_periods, high_confidence, ...)")
        return SuggestionSettings()
    defaults = SuggestionSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in defaults.__dict__:
            problems.append(f"suggestions: unknown field {key} ({', '.join(defaults.__dict__)})")
        elif key == "suspense_cost_centers":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append("suggestions.suspense_cost_centers: list cost center ids")
            else:
                values[key] = tuple(value)
        elif key in ("history_periods", "seed"):
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "history_periods" else 0):
                problems.append(f"suggestions.{key}: '{value}' must be a whole number of at least {1 if key == 'history_periods' else 0}")
            else:
                values[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            problems.append(f"suggestions.{key}: '{value}' must be a probability above 0 and at most 1")
        else:
            values[key] = float(value)
    settings = SuggestionSettings(**{**defaults.__dict__, **values})
    if settings.medium_confidence > settings.high_confidence:
        problems.append("suggestions: medium_confidence cannot be above high_confidence")
    return settings
