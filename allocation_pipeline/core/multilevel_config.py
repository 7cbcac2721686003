"""The `multilevel:` section of the rules file: one multi-level allocation per entity, validated on
load with messages that name the entry and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from allocation_pipeline.core.rules import (
    RUN_TYPES,
    ApprovalPolicy,
    SourceFilter,
    _account,
    _is_period,
    _parse_approval,
    _parse_source,
    _text,
)

SECTION = "multilevel"
# Method names in the rules file -> the solver's names (`core.multilevel.solve`).
METHODS = {"reciprocal": "reciprocal", "step_down": "step-down", "direct": "direct"}
DEFAULT_CONDITION_LIMIT = 1e6
_KEYS = {
    "id", "description", "type", "entity", "method", "order", "source", "accounts", "effective",
    "approval", "condition_limit",
}


class MultilevelConfigError(ValueError):
    """A `multilevel:` section that cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class MultilevelSpec:
    """One multi-level allocation of one entity.

    `source` selects, from the period's GL balances after the rules' runs, the balances that form
    each service cost center's own cost (a service cost center is a source in the entity's
    matrix; `source.cost_centers`, when given, narrows them further). `method` is the solver's
    name (reciprocal, step-down, direct); `order` (step-down only, None: the default order) closes
    those sources first. The run credits `credit_account` on each cost center that ends with less
    than its own cost and debits `debit_account` on each that ends with more. `condition_limit`:
    a cycle whose condition estimate exceeds it is reported as ill-conditioned.
    """

    id: str
    entity: str
    method: str
    source: SourceFilter
    credit_account: str
    debit_account: str
    order: tuple[str, ...] | None = None
    type: str = "cost_allocation"
    description: str = ""
    effective_from: str | None = None
    effective_to: str | None = None
    approval: ApprovalPolicy = ApprovalPolicy()
    condition_limit: float = DEFAULT_CONDITION_LIMIT

    @property
    def method_name(self) -> str:
        """The method as the rules file spells it (step_down, not step-down)."""
        return {v: k for k, v in METHODS.items()}[self.method]

    def effective_in(self, period: str) -> bool:
        return (self.effective_from is None or self.effective_from <= period) and (
            self.effective_to is None or period <= self.effective_to
        )


@dataclass(frozen=True)
class MultilevelConfig:
    specs: tuple[MultilevelSpec, ...] = ()
    path: str = ""

    def for_period(self, period: str) -> list[MultilevelSpec]:
        """Multi-level allocations in force in `period`, in the file's order."""
        return [s for s in self.specs if s.effective_in(period)]


def load_multilevel(path: str | Path) -> MultilevelConfig:
    """Read the rules file's `multilevel:` section (none: an empty config)."""
    path = Path(path)
    if not path.is_file():
        raise MultilevelConfigError(f"{path}: rules file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MultilevelConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_multilevel(document, str(path))


def parse_multilevel(document: Any, location: str = "rules") -> MultilevelConfig:
    """Validate the `multilevel:` section of a parsed rules document; every problem in one error."""
    if not isinstance(document, dict) or document.get(SECTION) is None:
        return MultilevelConfig(path=location)
    raw_specs = document[SECTION]
    if not isinstance(raw_specs, list):
        raise MultilevelConfigError(f"{location}: {SECTION}: expected a list of multi-level allocations")
    rule_ids = {r.get("id") for r in document.get("rules") or [] if isinstance(r, dict)}
    errors: list[str] = []
    specs: list[MultilevelSpec] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_specs, start=1):
        where = f"{SECTION} #{position}"
        if not isinstance(raw, dict):
            errors.append(f"{where}: expected a mapping")
            continue
        spec_id = raw.get("id")
        if isinstance(spec_id, str) and spec_id.strip():
            where = f"{SECTION} '{spec_id.strip()}'"
            if spec_id in seen:
                errors.append(f"{where}: id: duplicate id")
            if spec_id in rule_ids:
                errors.append(f"{where}: id: a rule has this id too; give the multi-level allocation its own")
            seen.add(spec_id)
        problems: list[str] = []
        spec = _parse_spec(raw, problems)
        errors += [f"{where}: {p}" for p in problems]
        if spec is not None and not problems:
            specs.append(spec)
    errors += _overlaps(specs)
    if errors:
        raise MultilevelConfigError(f"{location}: " + "; ".join(errors))
    return MultilevelConfig(specs=tuple(specs), path=location)


def _parse_spec(raw: dict, problems: list[str]) -> MultilevelSpec | None:
    unknown = sorted(map(str, set(raw) - _KEYS))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    spec_id = _text(raw, "id", problems)
    entity = _text(raw, "entity", problems)
    run_type = raw.get("type", "cost_allocation")
    if run_type not in RUN_TYPES:
        problems.append(f"type: '{run_type}' is not one of {', '.join(RUN_TYPES)}")
    method = raw.get("method", "reciprocal")
    if method not in METHODS:
        problems.append(f"method: '{method}' is not one of {', '.join(METHODS)}")
    order = raw.get("order")
    if order is not None:
        if not isinstance(order, list) or not order or not all(isinstance(o, str) and o.strip() for o in order):
            problems.append("order: must be a non-empty list of cost center ids")
            order = None
        elif method != "step_down":
            problems.append("order: applies only to method step_down")
        elif len(set(order)) != len(order):
            problems.append("order: a cost center is listed twice")
    source = _parse_source(raw.get("source"), problems)
    accounts = raw.get("accounts")
    debit = credit = None
    if not isinstance(accounts, dict):
        problems.append("accounts: must be a mapping with 'credit' and 'debit'")
    else:
        unknown_accounts = sorted(map(str, set(accounts) - {"credit", "debit"}))
        if unknown_accounts:
            problems.append(f"accounts: unknown field(s) {', '.join(unknown_accounts)}")
        credit = _account(accounts.get("credit"), "accounts.credit", problems, required=True)
        debit = _account(accounts.get("debit"), "accounts.debit", problems, required=True)
    effective = raw.get("effective") or {}
    if not isinstance(effective, dict):
        problems.append("effective: must be a mapping with 'from' and/or 'to'")
        effective = {}
    effective_from, effective_to = effective.get("from"), effective.get("to")
    for name, value in (("effective.from", effective_from), ("effective.to", effective_to)):
        if value is not None and not _is_period(str(value)):
            problems.append(f"{name}: '{value}' is not a period YYYY-MM")
    approval = _parse_approval(raw.get("approval"), problems)
    limit = raw.get("condition_limit", DEFAULT_CONDITION_LIMIT)
    try:
        limit = float(limit)
        if not limit > 1:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"condition_limit: '{raw.get('condition_limit')}' is not a number above 1")
        limit = DEFAULT_CONDITION_LIMIT
    if problems:
        return None
    return MultilevelSpec(
        id=spec_id, entity=entity, method=METHODS[method], source=source, credit_account=credit, debit_account=debit,
        order=None if order is None else tuple(o.strip() for o in order), type=run_type,
        description=str(raw.get("description", "")),
        effective_from=None if effective_from is None else str(effective_from),
        effective_to=None if effective_to is None else str(effective_to),
        approval=approval, condition_limit=limit,
    )


def _overlaps(specs: list[MultilevelSpec]) -> list[str]:
    """Two allocations of one entity in force in the same month would pass its costs on twice."""
    errors = []
    for i, first in enumerate(specs):
        for second in specs[i + 1 :]:
            if first.entity != second.entity:
                continue
            starts_before_other_ends = first.effective_from is None or second.effective_to is None or first.effective_from <= second.effective_to
            ends_after_other_starts = first.effective_to is None or second.effective_from is None or second.effective_from <= first.effective_to
            if starts_before_other_ends and ends_after_other_starts:
                errors.append(
                    f"{SECTION} '{second.id}': entity: {second.entity} already has multi-level allocation '{first.id}' "
                    "in force in the same months; give them effective periods that do not overlap"
                )
    return errors
