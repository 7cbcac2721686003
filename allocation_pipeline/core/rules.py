"""Allocation rules: a declarative, versioned YAML file, validated on load with messages that
name the rule and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml

from allocation_pipeline.core.money import decimal_to_cents
from allocation_pipeline.core.schemas import PERIOD_PATTERN

RUN_TYPES = ("cost_allocation", "revenue_allocation", "intercompany_charge")
APPROVAL_MODES = ("auto", "manual")
_RULE_KEYS = {
    "id", "description", "type", "entity", "order", "source", "method", "parameters", "target",
    "accounts", "effective", "approval",
}


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, rule and field."""


@dataclass(frozen=True)
class AccountRange:
    """Accounts from `low` to `high` inclusive, compared as numbers (a single account: low == high)."""

    low: str
    high: str

    def contains(self, account: str) -> bool:
        return int(self.low) <= int(account) <= int(self.high)


@dataclass(frozen=True)
class SourceFilter:
    """Which GL balances form the pool. None means "any"; `dimensions` filters product, region, ..."""

    accounts: tuple[AccountRange, ...]
    cost_centers: tuple[str, ...] | None = None
    dimensions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetSpec:
    """Where the pool goes: members of one dimension, listed or selected by cost-center attributes."""

    dimension: str
    members: tuple[str, ...] | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    cost_center: str | None = None


@dataclass(frozen=True)
class ApprovalPolicy:
    """`auto` approves a calculated run at or below `max_amount_cents` (None: any amount); `manual` never."""

    mode: str = "manual"
    max_amount_cents: int | None = None

    def auto_approves(self, amount_cents: int) -> bool:
        if self.mode != "auto":
            return False
        return self.max_amount_cents is None or abs(amount_cents) <= self.max_amount_cents


@dataclass(frozen=True)
class Rule:
    """One allocation rule. `credit_account` None: the pooled accounts themselves are credited."""

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
        raise RulesError(f"{self.path}: no rule '{rule_id}' (rules: {', '.join(r.id for r in self.rules)})")


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; every problem found is reported in one RulesError."""
    path = Path(path)
    if not path.is_file():
        raise RulesError(f"{path}: rules file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML ({exc})") from exc
    return parse_rules(document, str(path))


def parse_rules(document: Any, location: str = "rules") -> RuleSet:
    errors: list[str] = []
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RulesError(f"{location}: expected a mapping with a 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, raw in enumerate(document["rules"], start=1):
        where = f"rule #{position}"
        if not isinstance(raw, dict):
            errors.append(f"{where}: expected a mapping")
            continue
        rule_id = raw.get("id")
        if isinstance(rule_id, str) and rule_id:
            where = f"rule '{rule_id}'"
            if rule_id in seen:
                errors.append(f"{where}: id: duplicate rule id")
            seen.add(rule_id)
        problems: list[str] = []
        rule = _parse_rule(raw, position, problems)
        errors += [f"{where}: {p}" for p in problems]
        if rule is not None and not problems:
            rules.append(rule)
    if errors:
        raise RulesError(f"{location}: " + "; ".join(errors))
    ordered = sorted(rules, key=lambda r: (r.order, [x.id for x in rules].index(r.id)))
    return RuleSet(version=str(document.get("version", "1")), rules=tuple(ordered), path=location)


def _parse_rule(raw: dict, position: int, problems: list[str]) -> Rule | None:
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    rule_id = _text(raw, "id", problems)
    rule_type = raw.get("type", "cost_allocation")
    if rule_type not in RUN_TYPES:
        problems.append(f"type: '{rule_type}' is not one of {', '.join(RUN_TYPES)}")
    entity = _text(raw, "entity", problems)
    order = raw.get("order", position * 10)
    if not isinstance(order, int):
        problems.append("order: must be a whole number")
        order = position * 10
    method = _text(raw, "method", problems)
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        problems.append("parameters: must be a mapping")
        parameters = {}
    source = _parse_source(raw.get("source"), problems)
    target = _parse_target(raw.get("target"), problems)
    accounts = raw.get("accounts")
    debit = credit = None
    if not isinstance(accounts, dict):
        problems.append("accounts: must be a mapping with 'debit' (and optionally 'credit')")
    else:
        debit = _account(accounts.get("debit"), "accounts.debit", problems, required=True)
        credit = _account(accounts.get("credit"), "accounts.credit", problems, required=False)
    effective = raw.get("effective") or {}
    effective_from = effective.get("from") if isinstance(effective, dict) else None
    effective_to = effective.get("to") if isinstance(effective, dict) else None
    for name, value in (("effective.from", effective_from), ("effective.to", effective_to)):
        if value is not None and not _is_period(str(value)):
            problems.append(f"{name}: '{value}' is not a period YYYY-MM")
    approval = _parse_approval(raw.get("approval"), problems)
    if problems:
        return None
    return Rule(
        id=rule_id, type=rule_type, entity=entity, order=order, source=source, method=method,
        parameters=parameters, target=target, debit_account=debit, credit_account=credit,
        description=str(raw.get("description", "")), effective_from=None if effective_from is None else str(effective_from),
        effective_to=None if effective_to is None else str(effective_to), approval=approval,
    )


def _text(raw: dict, key: str, problems: list[str]) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: required text is missing")
        return ""
    return value.strip()


def _account(value: Any, name: str, problems: list[str], required: bool) -> str | None:
    if value is None:
        if required:
            problems.append(f"{name}: required account is missing")
        return None
    text = str(value).strip()
    if not text.isdigit():
        problems.append(f"{name}: '{value}' is not an account number")
        return None
    return text


def _parse_source(raw: Any, problems: list[str]) -> SourceFilter | None:
    if not isinstance(raw, dict):
        problems.append("source: must be a mapping with 'accounts'")
        return None
    ranges = []
    accounts = raw.get("accounts")
    if not isinstance(accounts, list) or not accounts:
        problems.append("source.accounts: list at least one account or range like '62000-62199'")
    else:
        for item in accounts:
            text = str(item).strip()
            low, _, high = text.partition("-")
            high = high or low
            if not (low.isdigit() and high.isdigit()) or int(low) > int(high):
                problems.append(f"source.accounts: '{item}' is not an account or an ascending range")
                continue
            ranges.append(AccountRange(low, high))
    cost_centers = raw.get("cost_centers")
    if cost_centers is not None and (not isinstance(cost_centers, list) or not all(isinstance(c, str) for c in cost_centers)):
        problems.append("source.cost_centers: must be a list of cost center ids")
        cost_centers = None
    dimensions = raw.get("dimensions") or {}
    if not isinstance(dimensions, dict):
        problems.append("source.dimensions: must map a dimension to a list of members")
        dimensions = {}
    unknown = sorted(set(raw) - {"accounts", "cost_centers", "dimensions"})
    if unknown:
        problems.append(f"source: unknown field(s) {', '.join(unknown)}")
    return SourceFilter(
        accounts=tuple(ranges),
        cost_centers=None if cost_centers is None else tuple(cost_centers),
        dimensions={k: tuple(map(str, v)) for k, v in dimensions.items()},
    )


def _parse_target(raw: Any, problems: list[str]) -> TargetSpec | None:
    if not isinstance(raw, dict):
        problems.append("target: must be a mapping with 'dimension' and 'members' or 'where'")
        return None
    dimension = raw.get("dimension", "cost_center")
    members = raw.get("members")
    where = raw.get("where") or {}
    if members is not None and (not isinstance(members, list) or not members):
        problems.append("target.members: must be a non-empty list")
        members = None
    if not isinstance(where, dict):
        problems.append("target.where: must map a cost-center attribute to a value")
        where = {}
    if members is None and not where:
        problems.append("target: give 'members' or 'where'")
    unknown = sorted(set(raw) - {"dimension", "members", "where", "cost_center"})
    if unknown:
        problems.append(f"target: unknown field(s) {', '.join(unknown)}")
    return TargetSpec(
        dimension=str(dimension),
        members=None if members is None else tuple(str(m) for m in members),
        where={str(k): str(v) for k, v in where.items()},
        cost_center=raw.get("cost_center"),
    )


def _parse_approval(raw: Any, problems: list[str]) -> ApprovalPolicy:
    if raw is None:
        return ApprovalPolicy()
    if isinstance(raw, str):
        raw = {"mode": raw}
    if not isinstance(raw, dict):
        problems.append("approval: must be 'auto', 'manual' or a mapping with mode and max_amount")
        return ApprovalPolicy()
    mode = raw.get("mode", "manual")
    if mode not in APPROVAL_MODES:
        problems.append(f"approval.mode: '{mode}' is not one of {', '.join(APPROVAL_MODES)}")
    max_amount = raw.get("max_amount")
    cents = None
    if max_amount is not None:
        try:
            cents = decimal_to_cents(Decimal(str(max_amount)))
        except ValueError as exc:
            problems.append(f"approval.max_amount: {exc}")
    return ApprovalPolicy(mode=mode, max_amount_cents=cents)


def _is_period(text: str) -> bool:
    import re

    return re.fullmatch(PERIOD_PATTERN, text) is not None
