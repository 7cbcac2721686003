"""Allocation rules: a declarative, versioned YAML file, validated on load with messages that
name the rule and the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml

from allocation_pipeline.core.methods import PRODUCT_OF_SHARES, AllocationMethod, available_methods
from allocation_pipeline.core.money import decimal_to_cents
from allocation_pipeline.core.people import USER_NAME_PATTERN
from allocation_pipeline.core.schemas import PERIOD_PATTERN

RUN_TYPES = ("cost_allocation", "revenue_allocation", "intercompany_charge")
APPROVAL_MODES = ("auto", "manual")
# The dimensions an allocation line carries: a target may use any of them, a source filter the
# two besides cost center (which has its own `cost_centers`).
TARGET_DIMENSIONS = ("cost_center", "product", "region")
SOURCE_DIMENSIONS = ("product", "region")
# Joins the dimensions of a multi-dimensional target (`product*region`) and the members of one
# combination (`P-CORE*NA-EAST`), the same way driver values per combination are keyed.
DIMENSION_SEPARATOR = "*"
_RULE_KEYS = {
    "id", "description", "type", "entity", "order", "source", "method", "parameters", "fallback",
    "target", "accounts", "effective", "approval", "owner",
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
    rule's method finds a driver that totals zero over the targets.
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
    # The person who answers for the rule: its runs count as prepared by them (four-eyes), so
    # they cannot approve or post them. None: prepared by the pipeline.
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
        raise RulesError(f"{self.path}: no rule '{rule_id}' (rules: {', '.join(r.id for r in self.rules)})")


def load_rules(path: str | Path, methods: Mapping[str, AllocationMethod] | None = None) -> RuleSet:
    """Read and validate a rules file; every problem found is reported in one RulesError.

    Method names and parameters are checked against `methods` (default: every method installed),
    so a typo fails on load rather than at month end."""
    path = Path(path)
    if not path.is_file():
        raise RulesError(f"{path}: rules file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML ({exc})") from exc
    return parse_rules(document, str(path), methods if methods is not None else available_methods())


def parse_rules(document: Any, location: str = "rules", methods: Mapping[str, AllocationMethod] | None = None) -> RuleSet:
    """Validate a parsed rules document. With `methods`, each rule's method (and fallback) must be
    one of them and its parameters must pass the method's own checks; without, those are left to
    the engine when the rule runs."""
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
        rule = _parse_rule(raw, position, problems, methods)
        errors += [f"{where}: {p}" for p in problems]
        if rule is not None and not problems:
            rules.append(rule)
    if errors:
        raise RulesError(f"{location}: " + "; ".join(errors))
    ordered = sorted(rules, key=lambda r: (r.order, [x.id for x in rules].index(r.id)))
    return RuleSet(version=str(document.get("version", "1")), rules=tuple(ordered), path=location)


def _parse_rule(raw: dict, position: int, problems: list[str], methods: Mapping[str, AllocationMethod] | None) -> Rule | None:
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
    fallback_method, fallback_parameters = _parse_fallback(raw.get("fallback"), problems)
    if method == PRODUCT_OF_SHARES:
        _check_product_of_shares(parameters, target, problems, methods)
    elif method and methods is not None:
        _check_method(method, parameters, "method", "parameters", problems, methods)
    if fallback_method is not None and methods is not None:
        _check_method(fallback_method, fallback_parameters, "fallback.method", "fallback.parameters", problems, methods)
    accounts = raw.get("accounts")
    debit = credit = None
    if not isinstance(accounts, dict):
        problems.append("accounts: must be a mapping with 'debit' (and optionally 'credit')")
    else:
        debit = _account(accounts.get("debit"), "accounts.debit", problems, required=True)
        credit = _account(accounts.get("credit"), "accounts.credit", problems, required=False)
    effective = raw.get("effective") or {}
    if not isinstance(effective, dict):
        problems.append("effective: must be a mapping with 'from' and/or 'to' (YYYY-MM)")
        effective = {}
    effective_from = effective.get("from") if isinstance(effective, dict) else None
    effective_to = effective.get("to") if isinstance(effective, dict) else None
    for name, value in (("effective.from", effective_from), ("effective.to", effective_to)):
        if value is not None and not _is_period(str(value)):
            problems.append(f"{name}: '{value}' is not a period YYYY-MM")
    approval = _parse_approval(raw.get("approval"), problems)
    owner = raw.get("owner")
    if owner is not None and not (isinstance(owner, str) and re.fullmatch(USER_NAME_PATTERN, owner)):
        problems.append(f"owner: '{owner}' is not a user name (letters, digits and . _ @ -)")
    if problems:
        return None
    return Rule(
        id=rule_id, type=rule_type, entity=entity, order=order, source=source, method=method,
        parameters=parameters, target=target, debit_account=debit, credit_account=credit,
        description=str(raw.get("description", "")), effective_from=None if effective_from is None else str(effective_from),
        effective_to=None if effective_to is None else str(effective_to), approval=approval,
        fallback_method=fallback_method, fallback_parameters=fallback_parameters, owner=owner,
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
    dimensions = dict(dimensions)
    for dimension, members in list(dimensions.items()):
        if dimension not in SOURCE_DIMENSIONS:
            problems.append(f"source.dimensions: '{dimension}' is not one of {', '.join(SOURCE_DIMENSIONS)} (cost centers go in source.cost_centers)")
            del dimensions[dimension]
        elif not isinstance(members, list) or not members:
            problems.append(f"source.dimensions.{dimension}: must be a non-empty list of members")
            del dimensions[dimension]
    unknown = sorted(set(raw) - {"accounts", "cost_centers", "dimensions", "document", "amount"})
    if unknown:
        problems.append(f"source: unknown field(s) {', '.join(unknown)}")
    document, amount_cents = raw.get("document"), None
    if document is not None:
        if not isinstance(document, str) or not document.strip():
            problems.append("source.document: must be a document id such as EE-BILL000527")
            document = None
        if cost_centers is not None or dimensions:
            problems.append("source.document: the document's own lines are the pool; drop cost_centers and dimensions")
        if any(r.low != r.high for r in ranges):
            problems.append("source.accounts: list the document's account lines one by one, not ranges")
    if raw.get("amount") is not None:
        if document is None:
            problems.append("source.amount: only a document-linked source takes an amount")
        elif len(ranges) != 1:
            problems.append("source.amount: a partial amount applies to exactly one account line")
        try:
            amount_cents = decimal_to_cents(str(raw["amount"]))
            if amount_cents <= 0:
                problems.append("source.amount: must be greater than zero")
        except (ValueError, ArithmeticError) as exc:
            problems.append(f"source.amount: {exc}")
    return SourceFilter(
        accounts=tuple(ranges),
        cost_centers=None if cost_centers is None else tuple(cost_centers),
        dimensions={k: tuple(map(str, v)) for k, v in dimensions.items()},
        document=document.strip() if isinstance(document, str) else None,
        amount_cents=amount_cents,
    )


def _parse_target(raw: Any, problems: list[str]) -> TargetSpec | None:
    if not isinstance(raw, dict):
        problems.append("target: must be a mapping with 'dimension' and 'members' or 'where'")
        return None
    unknown = sorted(set(raw) - {"dimension", "dimensions", "members", "where", "cost_center"})
    if unknown:
        problems.append(f"target: unknown field(s) {', '.join(unknown)}")
    where = raw.get("where") or {}
    if not isinstance(where, dict):
        problems.append("target.where: must map a cost-center attribute to a value")
        where = {}
    where = {str(k): str(v) for k, v in where.items()}
    cost_center = raw.get("cost_center")
    if cost_center is not None and not isinstance(cost_center, str):
        problems.append("target.cost_center: must be a cost center id")
        cost_center = None
    if "dimensions" in raw:
        if "dimension" in raw:
            problems.append("target: give 'dimension' (one) or 'dimensions' (several), not both")
        return _parse_multi_target(raw, where, cost_center, problems)
    dimension = str(raw.get("dimension", "cost_center"))
    members = raw.get("members")
    if dimension not in TARGET_DIMENSIONS:
        problems.append(f"target.dimension: '{dimension}' is not one the lines carry ({', '.join(TARGET_DIMENSIONS)})")
    if members is not None and (not isinstance(members, list) or not members):
        problems.append("target.members: must be a non-empty list")
        members = None
    if members is not None:
        _check_unique(members, "target.members", problems)
    if members is None and not where:
        problems.append("target: give 'members' or 'where'")
    if where and dimension != "cost_center":
        problems.append(f"target.where: selects cost centers only; list the {dimension} members")
    if cost_center is not None and dimension == "cost_center":
        problems.append("target.cost_center: only for targets that are not cost centers")
    return TargetSpec(
        dimension=dimension,
        members=None if members is None else tuple(str(m) for m in members),
        where=where,
        cost_center=cost_center,
    )


def _parse_multi_target(raw: dict, where: dict[str, str], cost_center: str | None, problems: list[str]) -> TargetSpec | None:
    dimensions = raw.get("dimensions")
    if not isinstance(dimensions, list) or len(dimensions) < 2 or not all(isinstance(d, str) for d in dimensions):
        problems.append("target.dimensions: list two or more dimensions, e.g. [product, region]")
        return None
    bad = [d for d in dimensions if d not in TARGET_DIMENSIONS]
    if bad:
        problems.append(f"target.dimensions: {', '.join(bad)} not among the dimensions the lines carry ({', '.join(TARGET_DIMENSIONS)})")
    if len(set(dimensions)) != len(dimensions):
        problems.append("target.dimensions: a dimension is listed twice")
    members = raw.get("members") or {}
    if not isinstance(members, dict):
        problems.append("target.members: with several dimensions, map each dimension to its members")
        members = {}
    extra = sorted(set(map(str, members)) - set(dimensions))
    if extra:
        problems.append(f"target.members: {', '.join(extra)} not among target.dimensions")
    by_dimension: dict[str, tuple[str, ...]] = {}
    for dimension in dimensions:
        listed = members.get(dimension)
        if listed is None:
            if dimension != "cost_center" or not where:
                problems.append(f"target.members.{dimension}: list the members" + (" (or select cost centers with 'where')" if dimension == "cost_center" else ""))
            continue
        if not isinstance(listed, list) or not listed:
            problems.append(f"target.members.{dimension}: must be a non-empty list")
            continue
        texts = tuple(str(m) for m in listed)
        _check_unique(texts, f"target.members.{dimension}", problems)
        joined = [m for m in texts if DIMENSION_SEPARATOR in m]
        if joined:
            problems.append(f"target.members.{dimension}: '{joined[0]}' contains '{DIMENSION_SEPARATOR}', which separates the members of a combination")
        by_dimension[dimension] = texts
    if where and ("cost_center" not in dimensions or "cost_center" in members):
        problems.append("target.where: selects the cost_center dimension's members when they are not listed")
    if cost_center is not None and "cost_center" in dimensions:
        problems.append("target.cost_center: the cost_center dimension already gives each target its cost center")
    return TargetSpec(
        dimension=DIMENSION_SEPARATOR.join(dimensions), where=where, cost_center=cost_center, members_by_dimension=by_dimension,
    )


def _check_unique(members, field_name: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for member in map(str, members):
        if member in seen:
            problems.append(f"{field_name}: '{member}' is listed twice")
            return
        seen.add(member)


def _parse_fallback(raw: Any, problems: list[str]) -> tuple[str | None, Mapping[str, Any]]:
    if raw is None:
        return None, {}
    if isinstance(raw, str):
        raw = {"method": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("method"), str) or not raw["method"]:
        problems.append("fallback: name a method, e.g. 'even_split' or {method: driver, parameters: {driver: headcount}}")
        return None, {}
    unknown = sorted(set(raw) - {"method", "parameters"})
    if unknown:
        problems.append(f"fallback: unknown field(s) {', '.join(unknown)}")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        problems.append("fallback.parameters: must be a mapping")
        parameters = {}
    if raw["method"] == PRODUCT_OF_SHARES:
        problems.append(f"fallback.method: {PRODUCT_OF_SHARES} cannot be a fallback")
        return None, {}
    return raw["method"], parameters


def _check_method(
    name: str, parameters: Mapping[str, Any], method_field: str, parameters_field: str, problems: list[str],
    methods: Mapping[str, AllocationMethod],
) -> None:
    if name not in methods:
        problems.append(f"{method_field}: unknown method '{name}'; available: {', '.join(methods)}")
        return
    for problem in methods[name].check_parameters(parameters):
        # Methods name their fields from `parameters`; re-root them where the parameters sit.
        problems.append(parameters_field + problem[len("parameters"):] if problem.startswith("parameters") else f"{parameters_field}: {problem}")


def _check_product_of_shares(
    parameters: Mapping[str, Any], target: TargetSpec | None, problems: list[str], methods: Mapping[str, AllocationMethod] | None
) -> None:
    """`parameters` maps each target dimension to the method (and its parameters) giving that
    dimension's shares."""
    if target is None:
        return
    if len(target.dimensions) < 2:
        problems.append(f"method: {PRODUCT_OF_SHARES} needs target.dimensions with two or more dimensions")
        return
    extra = sorted(set(map(str, parameters)) - set(target.dimensions))
    if extra:
        problems.append(f"parameters: {', '.join(extra)} not among target.dimensions")
    for dimension in target.dimensions:
        spec = parameters.get(dimension)
        where = f"parameters.{dimension}"
        if not isinstance(spec, dict) or not isinstance(spec.get("method"), str) or spec.get("method") == PRODUCT_OF_SHARES:
            problems.append(f"{where}: give the method sharing this dimension, e.g. {{method: driver, parameters: {{driver: revenue}}}}")
            continue
        unknown = sorted(set(spec) - {"method", "parameters"})
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
        sub_parameters = spec.get("parameters") or {}
        if not isinstance(sub_parameters, dict):
            problems.append(f"{where}.parameters: must be a mapping")
        elif methods is not None:
            _check_method(spec["method"], sub_parameters, f"{where}.method", f"{where}.parameters", problems, methods)


def _parse_approval(raw: Any, problems: list[str]) -> ApprovalPolicy:
    if raw is None:
        return ApprovalPolicy()
    if isinstance(raw, str):
        raw = {"mode": raw}
    if not isinstance(raw, dict):
        problems.append("approval: must be 'auto', 'manual' or a mapping with mode, max_amount and unless_flagged")
        return ApprovalPolicy()
    unknown = sorted(set(raw) - {"mode", "max_amount", "unless_flagged"})
    if unknown:
        problems.append(f"approval: unknown field(s) {', '.join(unknown)}")
    unless_flagged = raw.get("unless_flagged", True)
    if not isinstance(unless_flagged, bool):
        problems.append("approval.unless_flagged: must be true or false")
        unless_flagged = True
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
    return ApprovalPolicy(mode=mode, max_amount_cents=cents, unless_flagged=unless_flagged)


def _is_period(text: str) -> bool:
    import re

    return re.fullmatch(PERIOD_PATTERN, text) is not None
