"""The `multilevel:` section of the rules file as pydantic models: one multi-level allocation per
entry, each entity with at most one in force in any month."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo

from allocation_pipeline.config.fields import Account, ConfigModel, Text, hint, invalid, one_of
from allocation_pipeline.config.problems import Problem, YamlDocument, error_entries, locate
from allocation_pipeline.config.rules import LABELS, SECTIONS, Approval, Effective, EffectiveModel, SourceModel, to_approval, to_source
from allocation_pipeline.core.multilevel.config import (
    DEFAULT_CONDITION_LIMIT, METHODS, SECTION, MultilevelConfig, MultilevelConfigError, MultilevelSpec,
)
from allocation_pipeline.core.allocation.rules import RUN_TYPES


def _number_text(value: Any) -> Any:
    """YAML reads `1e6` (no dot) as text; take it as the number it spells."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _step_down_order(value: list[str], info: ValidationInfo) -> list[str]:
    if not all(o.strip() for o in value):
        raise invalid("must be a non-empty list of cost center ids")
    if info.data.get("method", "step_down") != "step_down":
        raise invalid("applies only to method step_down")
    if len({o.strip() for o in value}) != len(value):
        raise invalid("a cost center is listed twice")
    return [o.strip() for o in value]


class MultilevelAccounts(ConfigModel):
    credit: Account = Field(description="credited on each cost center that ends below its own cost")
    debit: Account = Field(description="debited on each cost center that ends above its own cost")


class MultilevelModel(ConfigModel):
    """One multi-level allocation of one entity: its service cost centers' own costs solved through
    the month's allocation matrix."""

    id: Text = Field(description="unique id (not shared with a rule)")
    description: str = ""
    type: one_of(RUN_TYPES) = "cost_allocation"
    entity: Text
    method: one_of(tuple(METHODS)) = "reciprocal"
    order: Annotated[Annotated[list[str], AfterValidator(_step_down_order)] | None, Field(min_length=1),
                     hint("must be a non-empty list of cost center ids")] = Field(
        None, description="step_down only: the sources closed first")
    source: Annotated[SourceModel, hint("must be a mapping with 'accounts'")]
    accounts: Annotated[MultilevelAccounts, hint("must be a mapping with 'credit' and 'debit'")]
    effective: Effective = None
    approval: Approval = None
    condition_limit: Annotated[float, BeforeValidator(_number_text, json_schema_input_type=float), Field(gt=1),
                               hint("'{value}' is not a number above 1")] = Field(
        DEFAULT_CONDITION_LIMIT, description="a cycle whose condition estimate exceeds it is ill-conditioned")


def to_spec(model: MultilevelModel) -> MultilevelSpec:
    effective = model.effective or EffectiveModel()
    return MultilevelSpec(
        id=model.id, entity=model.entity, method=METHODS[model.method], source=to_source(model.source),
        credit_account=model.accounts.credit, debit_account=model.accounts.debit,
        order=None if model.order is None else tuple(model.order), type=model.type, description=model.description,
        effective_from=effective.from_, effective_to=effective.to, approval=to_approval(model.approval),
        condition_limit=model.condition_limit,
    )


def check_multilevel(document: Any, source: YamlDocument | None = None) -> tuple[list[MultilevelSpec], list[Problem]]:
    """The section's multi-level allocations, in the file's order, and every problem found."""
    if not isinstance(document, dict) or document.get(SECTION) is None:
        return [], []
    if not isinstance(document[SECTION], list):
        return [], locate([((SECTION,), "expected a list of multi-level allocations")], document, source)
    rule_ids = {r.get("id") for r in document.get("rules") or [] if isinstance(r, dict)}
    entries: list[tuple[tuple, str]] = []
    specs: list[tuple[int, MultilevelSpec]] = []
    seen: set[str] = set()
    for index, raw in enumerate(document[SECTION]):
        spec_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(spec_id, str) and spec_id.strip():
            if spec_id in seen:
                entries.append(((SECTION, index, "id"), "duplicate id"))
            if spec_id in rule_ids:
                entries.append(((SECTION, index, "id"), "a rule has this id too; give the multi-level allocation its own"))
            seen.add(spec_id)
        try:
            specs.append((index, to_spec(MultilevelModel.model_validate(raw))))
        except ValidationError as exc:
            entries += error_entries(exc, (SECTION, index))
    entries += _overlaps(specs)
    return [s for _, s in specs], locate(entries, document, source, LABELS, SECTIONS)


def _overlaps(specs: list[tuple[int, MultilevelSpec]]) -> list[tuple[tuple, str]]:
    """Two allocations of one entity in force in the same month would pass its costs on twice."""
    entries = []
    for i, (_, first) in enumerate(specs):
        for index, second in specs[i + 1 :]:
            if first.entity != second.entity:
                continue
            starts_before_other_ends = first.effective_from is None or second.effective_to is None or first.effective_from <= second.effective_to
            ends_after_other_starts = first.effective_to is None or second.effective_from is None or second.effective_from <= first.effective_to
            if starts_before_other_ends and ends_after_other_starts:
                entries.append((
                    (SECTION, index, "entity"),
                    f"{second.entity} already has multi-level allocation '{first.id}' in force in the same months; "
                    "give them effective periods that do not overlap",
                ))
    return entries


def build_multilevel(document: Any, location: str, source: YamlDocument | None = None) -> MultilevelConfig:
    specs, problems = check_multilevel(document, source)
    if problems:
        raise MultilevelConfigError.of(location, problems)
    return MultilevelConfig(specs=tuple(specs), path=location)
