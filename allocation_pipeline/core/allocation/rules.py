"""Allocation rules: a declarative, versioned YAML file, validated on load (by the models in
`allocation_pipeline.config.rules`) with messages that name the rule, the field and the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from allocation_pipeline.config.problems import ConfigError, did_you_mean

RUN_TYPES = ("cost_allocation", "revenue_allocation", "intercompany_charge")
APPROVAL_MODES = ("auto", "manual")
# The dimensions an allocation line carries: a target may use any of them, a source filter the
# two besides cost center (which has its own `cost_centers`).
TARGET_DIMENSIONS = ("cost_center", "product", "region")
SOURCE_DIMENSIONS = ("product", "region")
# Joins the dimensions of a multi-dimensional target (`product*region`) and the members of one
# combination (`P-CORE*NA-EAST`), the same way driver values per combination are keyed.
DIMENSION_SEPARATOR = "*"


class RulesError(ConfigError):
    """A rules file that cannot be used; the message names the file, rule and field (`problems`: each one)."""


@dataclass(frozen=True)
class AccountRange:
    """Accounts from `low` to `high` inclusive, compared as numbers (a single account: low == high)."""

    low: str
    high: str

    def contains(self, account: str) -> bool:
        return int(self.low) <= int(account) <= int(self.high)


@dataclass(frozen=True)
class SourceFilter:
    """Which GL balances form the pool. None means "any"; `dimensions` filters product, region, ...

    With `document` set, the pool is that source document's GL lines on `accounts` (AP invoice
    lines, say), less what other runs already took from each account; `amount_cents` takes only
    that much (a partial allocation of one account line).
    """

    accounts: tuple[AccountRange, ...]
    cost_centers: tuple[str, ...] | None = None
    dimensions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    document: str | None = None
    amount_cents: int | None = None


@dataclass(frozen=True)
class TargetSpec:
    """Where the pool goes: members of one dimension, listed or selected by cost-center attributes,
    or every combination of members of several dimensions.

    `dimension` is one dimension, or several joined by `*` (`product*region`); for several,
    `members_by_dimension` lists each one's members (a cost_center dimension may instead be
    selected by `where`) and `members` is None. `cost_center` books targets of dimensions other
    than cost center when the pool comes from several cost centers.
    """

    dimension: str
    members: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    cost_center: str | None = None
    members_by_dimension: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(self.dimension.split(DIMENSION_SEPARATOR))


@dataclass(frozen=True)
class ApprovalPolicy:
    """`auto` approves a calculated run at or below `max_amount_cents` (None: any amount); `manual` never.

    With `unless_flagged` (the default), a run carrying an anomaly flag is not approved
    automatically: it waits for an analyst, and its history says which flags held it.
    """

    mode: str = "manual"
    max_amount_cents: int | None = None
    unless_flagged: bool = True

    def auto_approves(self, amount_cents: int) -> bool:
        if self.mode != "auto":
            return False
        return self.max_amount_cents is None or abs(amount_cents) <= self.max_amount_cents


@dataclass(frozen=True)
class Rule:
    """One allocation rule. `credit_account` None: the pooled accounts themselves are credited.

    `fallback_method` (None: no fallback) shares the pool, with `fallback_parameters`, when the
    rule's method finds a driver that totals zero over the targets. `owner` (None: anyone) names
    who prepares the rule's runs.
    """

    id: str
    type: str
    entity: str
    order: int
    source: SourceFilter
    method: str
    parameters: Mapping[str, Any]
    target: TargetSpec
    debit_account: str
    credit_account: str | None
    description: str = ""
    effective_from: str | None = None
    effective_to: str | None = None
    approval: ApprovalPolicy = ApprovalPolicy()
    fallback_method: str | None = None
    fallback_parameters: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None

    def effective_in(self, period: str) -> bool:
        return (self.effective_from is None or self.effective_from <= period) and (
            self.effective_to is None or period <= self.effective_to
        )


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    path: str = ""

    def for_period(self, period: str, entity: str | None = None) -> list[Rule]:
        """Rules in force in `period`, in their declared order."""
        return [r for r in self.rules if r.effective_in(period) and (entity is None or r.entity == entity)]

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        ids = [r.id for r in self.rules]
        raise RulesError(f"{self.path}: no rule '{rule_id}'{did_you_mean(rule_id, ids)} (rules: {', '.join(ids)})")


def load_rules(path: str | Path, methods: Mapping[str, Any] | None = None) -> RuleSet:
    """Read and validate a rules file; every problem found is reported in one RulesError.

    Method names and parameters are checked against `methods` (default: every method installed),
    so a typo fails on load rather than at month end."""
    from allocation_pipeline.config.problems import read_yaml
    from allocation_pipeline.config.rules import build_rule_set
    from allocation_pipeline.core.allocation.methods import available_methods

    source = read_yaml(path, RulesError)
    return build_rule_set(source.data, str(path), methods if methods is not None else available_methods(), source)


def parse_rules(document: Any, location: str = "rules", methods: Mapping[str, Any] | None = None) -> RuleSet:
    """Validate a parsed rules document. With `methods`, each rule's method (and fallback) must be
    one of them and its parameters must pass the method's own checks; without, those are left to
    the engine when the rule runs."""
    from allocation_pipeline.config.rules import build_rule_set

    return build_rule_set(document, location, methods)
