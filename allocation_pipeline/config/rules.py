"""The rules of the rules file as pydantic models, and the RuleSet built from them.

Each rule is validated on its own, so every rule's problems are reported together; a rule's
method and parameters are checked against the registry passed in the validation context
(`{"methods": ...}`; none: left to the engine when the rule runs).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Mapping

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from allocation_pipeline.config.fields import (
    Account, ConfigModel, Money, Name, Period, Text, hint, invalid, one_of, text, unique,
)
from allocation_pipeline.config.problems import Problem, YamlDocument, error_entries, locate, show
from allocation_pipeline.core.allocation.methods import PRODUCT_OF_SHARES, AllocationMethod, unknown_method_message
from allocation_pipeline.core.ledger.people import USER_NAME_PATTERN
from allocation_pipeline.core.allocation.rules import (
    APPROVAL_MODES, DIMENSION_SEPARATOR, RUN_TYPES, SOURCE_DIMENSIONS, TARGET_DIMENSIONS,
    AccountRange, ApprovalPolicy, Rule, RuleSet, RulesError, SourceFilter, TargetSpec,
)

# How problems in a rules file name their place: list entries by id, the insights section apart.
LABELS = {("rules",): "rule", ("multilevel",): "multilevel", ("insights", "pools"): "pool"}
SECTIONS = (("insights",),)


def _account_range(value: Any) -> str:
    low, _, high = show(value).strip().partition("-")
    high = high or low
    if not (low.isdigit() and high.isdigit()) or int(low) > int(high):
        raise invalid(f"'{show(value)}' is not an account or an ascending range", up=1)
    return f"{low}-{high}"


AccountRangeText = Annotated[str, BeforeValidator(_account_range, json_schema_input_type=str | int)]
MemberList = Annotated[list[Name], Field(min_length=1), AfterValidator(unique), hint("must be a non-empty list of members")]


def _document_pool(value: str, info: ValidationInfo) -> str:
    """A document's own lines are the pool: no other filter, and its account lines one by one."""
    problems = []
    if info.data.get("cost_centers") is not None or info.data.get("dimensions"):
        problems.append((("document",), "the document's own lines are the pool; drop cost_centers and dimensions"))
    if any(low != high for low, high in (r.split("-") for r in info.data.get("accounts") or [])):
        problems.append((("accounts",), "list the document's account lines one by one, not ranges"))
    if problems:
        raise invalid(problems=problems, up=1)
    return value


def _partial_amount(value: int, info: ValidationInfo) -> int:
    if value <= 0:
        raise invalid("must be greater than zero")
    if info.data.get("document") is None:
        raise invalid("only a document-linked source takes an amount")
    if len(info.data.get("accounts") or []) != 1:
        raise invalid("a partial amount applies to exactly one account line")
    return value


class SourceModel(ConfigModel):
    """Which GL balances form the pool; with `document`, that source document's lines instead."""

    accounts: Annotated[list[AccountRangeText], Field(min_length=1), hint("list at least one account or range like '62000-62199'")] = Field(
        description="accounts or ranges like '62000-62199' (a document: its account lines one by one)")
    cost_centers: Annotated[list[str] | None, hint("must be a list of cost center ids")] = Field(None, description="only these cost centers")
    dimensions: Annotated[dict[str, MemberList] | None, hint("must map a dimension to a list of members")] = Field(
        None, description="product and/or region -> members")
    document: Annotated[Annotated[text("must be a document id such as EE-BILL000527"), AfterValidator(_document_pool)] | None,
                        Field(description="a source document id")] = None
    amount: Annotated[Money, AfterValidator(_partial_amount)] | None = Field(None, description="a part of one document account line")

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: dict | None) -> dict | None:
        bad = [d for d in value or {} if d not in SOURCE_DIMENSIONS]
        if bad:
            raise invalid(problems=[((), f"'{d}' is not one of {', '.join(SOURCE_DIMENSIONS)} (cost centers go in source.cost_centers)") for d in bad])
        return value


class TargetModel(ConfigModel):
    """Where the pool goes: members of one dimension, listed or selected by cost-center attributes
    (`where`), or every combination of members of several `dimensions`."""

    dimension: Annotated[
        Literal[TARGET_DIMENSIONS] | None,
        hint(f"'{{value}}' is not one the lines carry ({', '.join(TARGET_DIMENSIONS)})"),
        WithJsonSchema({"enum": list(TARGET_DIMENSIONS), "default": "cost_center"}),
    ] = None
    dimensions: Annotated[
        list[str] | None, Field(min_length=2), hint("list two or more dimensions, e.g. [product, region]"),
        WithJsonSchema({"type": "array", "items": {"enum": list(TARGET_DIMENSIONS)}, "minItems": 2, "uniqueItems": True}),
    ] = None
    members: Annotated[
        Any,
        WithJsonSchema({"anyOf": [
            {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1}},
        ], "description": "the members; with several dimensions, each dimension's members"}),
    ] = None
    where: Annotated[dict[str, Name] | None, hint("must map a cost-center attribute to a value")] = Field(
        None, validate_default=True, description="select cost centers by attribute, e.g. {kind: operating}")
    cost_center: Annotated[str | None, hint("must be a cost center id")] = Field(
        None, description="where targets that are not cost centers are booked when the pool has several cost centers")

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return value
        problems = []
        bad = [d for d in value if d not in TARGET_DIMENSIONS]
        if bad:
            problems.append((("dimensions",), f"{', '.join(bad)} not among the dimensions the lines carry ({', '.join(TARGET_DIMENSIONS)})"))
        if len(set(value)) != len(value):
            problems.append((("dimensions",), "a dimension is listed twice"))
        if info.data.get("dimension") is not None:
            problems.append(((), "give 'dimension' (one) or 'dimensions' (several), not both"))
        if problems:
            raise invalid(problems=problems, up=1)
        return value

    @field_validator("members")
    @classmethod
    def _members(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        if not info.data.get("dimensions") and not isinstance(value, dict):
            return _member_list(value, ())
        if not isinstance(value, dict):
            raise invalid("with several dimensions, map each dimension to its members")
        dimensions = info.data.get("dimensions") or []
        problems = []
        extra = sorted(set(map(str, value)) - set(dimensions))
        if extra and dimensions:
            problems.append(((), f"{', '.join(extra)} not among target.dimensions"))
        members = {}
        for dimension, listed in value.items():
            try:
                members[str(dimension)] = _member_list(listed, (str(dimension),))
            except PydanticCustomError as exc:  # keep collecting: every dimension's problems at once
                problems += exc.context["problems"]
        if problems:
            raise invalid(problems=problems)
        return members

    @field_validator("where")
    @classmethod
    def _selection(cls, value: dict | None, info: ValidationInfo) -> dict | None:
        dimensions, members = info.data.get("dimensions"), info.data.get("members")
        problems = []
        if dimensions:
            listed = members if isinstance(members, dict) else {}
            for dimension in dimensions:
                if dimension not in listed and (dimension != "cost_center" or not value) and "members" in info.data:
                    problems.append((("members", dimension), "list the members" + (" (or select cost centers with 'where')" if dimension == "cost_center" else "")))
            if value and ("cost_center" not in dimensions or "cost_center" in listed):
                problems.append((("where",), "selects the cost_center dimension's members when they are not listed"))
        elif not isinstance(members, dict) and "dimensions" in info.data:
            dimension = info.data.get("dimension") or "cost_center"
            if members is None and not value and "members" in info.data:
                problems.append(((), "give 'members' or 'where'"))
            if value and dimension != "cost_center":
                problems.append((("where",), f"selects cost centers only; list the {dimension} members"))
        if problems:
            raise invalid(problems=problems, up=1)
        return value

    @field_validator("cost_center")
    @classmethod
    def _booking(cls, value: str | None, info: ValidationInfo) -> str | None:
        dimensions = info.data.get("dimensions") or [info.data.get("dimension") or "cost_center"]
        if value is not None and "cost_center" in dimensions:
            raise invalid("the cost_center dimension already gives each target its cost center" if len(dimensions) > 1 else "only for targets that are not cost centers")
        return value

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(self.dimensions) if self.dimensions else (self.dimension or "cost_center",)


def _member_list(value: Any, path: tuple) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(m, (str, int)) and not isinstance(m, bool) for m in value):
        raise invalid(problems=[(path, "must be a non-empty list")])
    texts = tuple(str(m) for m in value)
    twice = next((m for i, m in enumerate(texts) if m in texts[:i]), None)
    if twice is not None:
        raise invalid(problems=[(path, f"'{twice}' is listed twice")])
    joined = [m for m in texts if DIMENSION_SEPARATOR in m] if path else []
    if joined:
        raise invalid(problems=[(path, f"'{joined[0]}' contains '{DIMENSION_SEPARATOR}', which separates the members of a combination")])
    return texts


class ApprovalModel(ConfigModel):
    """`auto` approves a calculated run at or below `max_amount`; `manual` never."""

    mode: one_of(APPROVAL_MODES) = "manual"
    max_amount: Money | None = Field(None, description="auto-approve only up to this amount (default: any)")
    unless_flagged: Annotated[bool, hint("must be true or false")] = Field(True, description="a run with an anomaly flag waits for an analyst")


def _mode_alone(value: Any) -> Any:
    return {"mode": value} if isinstance(value, str) else value


def _method_alone(value: Any) -> Any:
    return {"method": value} if isinstance(value, str) else value


Approval = Annotated[
    ApprovalModel | None,
    BeforeValidator(_mode_alone, json_schema_input_type=one_of(APPROVAL_MODES) | ApprovalModel | None),
    hint("must be 'auto', 'manual' or a mapping with mode, max_amount and unless_flagged"),
]


class EffectiveModel(ConfigModel):
    """The months in force, both ends included."""

    from_: Period | None = Field(None, alias="from")
    to: Period | None = None


Effective = Annotated[EffectiveModel | None, hint("must be a mapping with 'from' and/or 'to' (YYYY-MM)")]


class MethodCall(ConfigModel):
    """A method with its parameters (a fallback, or the method sharing one dimension)."""

    method: text("name a method") = Field(description="a method name")
    parameters: Annotated[dict[str, Any] | None, hint("must be a mapping")] = None


class FallbackModel(MethodCall):
    """Shares the pool when the rule's method finds a driver that totals zero over the targets."""

    @field_validator("method")
    @classmethod
    def _not_composite(cls, value: str) -> str:
        if value == PRODUCT_OF_SHARES:
            raise invalid(f"{PRODUCT_OF_SHARES} cannot be a fallback")
        return value


def _user_name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(USER_NAME_PATTERN, value):
        raise invalid(f"'{value}' is not a user name (letters, digits and . _ @ -)")
    return value


class RuleAccounts(ConfigModel):
    debit: Account = Field(description="debited on each target")
    credit: Account | None = Field(None, description="credited at the source (default: the pooled accounts themselves)")


class RuleModel(ConfigModel):
    """One allocation rule of the rules file."""

    id: Text = Field(description="unique rule id")
    description: str = ""
    type: one_of(RUN_TYPES) = "cost_allocation"
    entity: Text = Field(description="the entity whose balances are allocated, e.g. EE")
    owner: Annotated[str | None, AfterValidator(_user_name)] = Field(
        None, description="the person who prepares this rule's runs (four-eyes: they cannot approve or post them)"
    )
    order: Annotated[int | None, hint("must be a whole number")] = Field(None, description="rules run in this order (default: 10 x position)")
    source: Annotated[SourceModel, hint("must be a mapping with 'accounts'")]
    target: Annotated[TargetModel, hint("must be a mapping with 'dimension' and 'members' or 'where'")]
    method: Text = Field(description="a method name, or product_of_shares")
    parameters: Annotated[dict[str, Any] | None, hint("must be a mapping")] = Field(None, validate_default=True, description="the method's parameters")
    fallback: Annotated[FallbackModel | None, BeforeValidator(_method_alone, json_schema_input_type=str | FallbackModel | None),
                        hint("name a method, e.g. 'even_split' or {method: driver, parameters: {driver: headcount}}")] = None
    accounts: Annotated[RuleAccounts, hint("must be a mapping with 'debit' (and optionally 'credit')")]
    effective: Effective = None
    approval: Approval = None

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str, info: ValidationInfo) -> str:
        methods = (info.context or {}).get("methods")
        if methods is not None and value != PRODUCT_OF_SHARES and value not in methods:
            raise invalid(unknown_method_message(value, methods))
        return value

    @field_validator("parameters")
    @classmethod
    def _method_parameters(cls, value: dict | None, info: ValidationInfo) -> dict:
        methods, method = (info.context or {}).get("methods"), info.data.get("method")
        if method == PRODUCT_OF_SHARES:
            problems = _product_of_shares(value or {}, info.data.get("target"), methods)
        else:
            problems = _call_problems(method, value or {}, methods, composite=False)
        if problems:
            raise invalid(problems=problems, up=1)
        return value or {}

    @field_validator("fallback")
    @classmethod
    def _fallback_method(cls, value: FallbackModel | None, info: ValidationInfo) -> FallbackModel | None:
        methods = (info.context or {}).get("methods")
        if value is not None and methods is not None:
            problems = _call_problems(value.method, value.parameters or {}, methods, composite=False, unknown=True)
            if problems:
                raise invalid(problems=problems)
        return value


def _call_problems(method: str | None, parameters: Mapping[str, Any], methods: Mapping[str, AllocationMethod] | None,
                   composite: bool, unknown: bool = False) -> list[tuple[tuple, str]]:
    """Problems of `method` with `parameters`, paths relative to where both sit."""
    if methods is None or method is None:
        return []
    if method not in methods:
        return [(("method",), unknown_method_message(method, methods, composite))] if unknown else []
    problems = []
    for problem in methods[method].check_parameters(parameters):
        head, _, message = problem.partition(": ")
        if head.startswith("parameters") and message:
            problems.append((tuple(head.split(".")), message))
        else:
            problems.append((("parameters",), problem))
    return problems


def _product_of_shares(parameters: Mapping[str, Any], target: TargetModel | None, methods) -> list[tuple[tuple, str]]:
    """`parameters` maps each target dimension to the method (and its parameters) sharing it."""
    if target is None:
        return []
    dimensions = target.dimension_names
    if len(dimensions) < 2:
        return [(("method",), f"{PRODUCT_OF_SHARES} needs target.dimensions with two or more dimensions")]
    problems = []
    extra = sorted(set(map(str, parameters)) - set(dimensions))
    if extra:
        problems.append((("parameters",), f"{', '.join(extra)} not among target.dimensions"))
    for dimension in dimensions:
        path = ("parameters", dimension)
        spec = parameters.get(dimension)
        if not isinstance(spec, dict) or not isinstance(spec.get("method"), str) or spec.get("method") == PRODUCT_OF_SHARES:
            problems.append((path, "give the method sharing this dimension, e.g. {method: driver, parameters: {driver: revenue}}"))
            continue
        try:
            call = MethodCall.model_validate(spec)
        except ValidationError as exc:
            problems += [(path + loc, message) for loc, message in error_entries(exc)]
            continue
        problems += [(path + loc, message) for loc, message in _call_problems(call.method, call.parameters or {}, methods, False, True)]
    return problems


def to_rule(model: RuleModel, position: int) -> Rule:
    source, target = model.source, model.target
    approval = model.approval or ApprovalModel()
    effective = model.effective or EffectiveModel()
    members = target.members
    return Rule(
        id=model.id, type=model.type, entity=model.entity, order=position * 10 if model.order is None else model.order,
        source=to_source(source), method=model.method, parameters=model.parameters or {},
        target=TargetSpec(
            dimension=DIMENSION_SEPARATOR.join(target.dimension_names),
            members=None if target.dimensions or members is None else tuple(members),
            where=dict(target.where or {}), cost_center=target.cost_center,
            members_by_dimension=dict(members) if target.dimensions and members else {},
        ),
        debit_account=model.accounts.debit, credit_account=model.accounts.credit, description=model.description,
        effective_from=effective.from_, effective_to=effective.to, approval=to_approval(approval),
        fallback_method=model.fallback.method if model.fallback else None,
        fallback_parameters=(model.fallback.parameters or {}) if model.fallback else {}, owner=model.owner,
    )


def to_source(model: SourceModel) -> SourceFilter:
    return SourceFilter(
        accounts=tuple(AccountRange(*r.split("-")) for r in model.accounts),
        cost_centers=None if model.cost_centers is None else tuple(model.cost_centers),
        dimensions={k: tuple(v) for k, v in (model.dimensions or {}).items()},
        document=model.document, amount_cents=model.amount,
    )


def to_approval(model: ApprovalModel | None) -> ApprovalPolicy:
    model = model or ApprovalModel()
    return ApprovalPolicy(mode=model.mode, max_amount_cents=model.max_amount, unless_flagged=model.unless_flagged)


def check_rules(document: Any, methods: Mapping[str, AllocationMethod] | None, source: YamlDocument | None = None) -> tuple[list[Rule], list[Problem]]:
    """The rules of a parsed rules document, in their declared order, and every problem found."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        return [], [Problem("", "", "expected a mapping with a 'rules' list", source.line_of(("rules",)) if source else None)]
    entries: list[tuple[tuple, str]] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["rules"]):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rule_id, str) and rule_id.strip():
            if rule_id.strip() in seen:
                entries.append((("rules", index, "id"), "duplicate rule id"))
            seen.add(rule_id.strip())
        try:
            rules.append(to_rule(RuleModel.model_validate(raw, context={"methods": methods}), index + 1))
        except ValidationError as exc:
            entries += error_entries(exc, ("rules", index))
    return rules, locate(entries, document, source, LABELS, SECTIONS)


def build_rule_set(document: Any, location: str, methods: Mapping[str, AllocationMethod] | None, source: YamlDocument | None = None) -> RuleSet:
    rules, problems = check_rules(document, methods, source)
    if problems:
        raise RulesError.of(location, problems)
    positions = {id(r): i for i, r in enumerate(rules)}
    ordered = sorted(rules, key=lambda r: (r.order, positions[id(r)]))
    return RuleSet(version=str(document.get("version", "1")), rules=tuple(ordered), path=location)
