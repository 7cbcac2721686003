"""What-if scenario files as pydantic models: rule changes, added and removed rules, driver changes
(move, set, scale) and new cost centers."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, ValidationError, field_validator

from allocation_pipeline.config.fields import ConfigModel, Name, Text, hint, invalid, number
from allocation_pipeline.config.problems import Problem, YamlDocument, error_entries, locate
from allocation_pipeline.config.rules import RuleModel

LABELS = {("drivers",): "drivers", ("cost_centers",): "cost_centers", ("add_rules",): "add_rules"}
OPERATIONS = ("move", "set", "scale")


def _quantity(key: str) -> Any:
    return number(f"{key} must be a number of 0 or more", missing=f"'{key}' is missing", up=1)


class MoveChange(ConfigModel):
    """Move an amount of a driver from one cost object to another."""

    move: Text = Field(description="the driver")
    from_: Name = Field(alias="from", description="the cost object giving")
    to: Name = Field(description="the cost object receiving")
    amount: _quantity("amount")
    dimension: str = Field("cost_center", description="dimension of the cost objects")
    cost_object: Name | None = None


class SetChange(ConfigModel):
    """Set a cost object's value of a driver."""

    set: Text = Field(description="the driver")
    cost_object: Name
    value: _quantity("value")
    dimension: str = "cost_center"


class ScaleChange(ConfigModel):
    """Scale a driver, for one cost object or (without `cost_object`) for every one."""

    scale: Text = Field(description="the driver")
    factor: _quantity("factor")
    cost_object: Name | None = None
    dimension: str = "cost_center"


def _operation(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    given = [op for op in OPERATIONS if op in value]
    return given[0] if len(given) == 1 else None


DriverChange = Annotated[
    Union[Annotated[MoveChange, Tag("move")], Annotated[SetChange, Tag("set")], Annotated[ScaleChange, Tag("scale")]],
    Discriminator(_operation, custom_error_type="config", custom_error_message="give exactly one of move, set or scale, naming the driver"),
]


class NewCostCenter(ConfigModel):
    """A cost center the scenario adds, with its driver values."""

    cost_center: Text
    entity: Text
    name: str | None = None
    kind: str = "operating"
    function: str = "business"
    parent: str | None = None
    active: bool = True
    drivers: Annotated[dict[str, number()] | None, hint("map a driver to its value")] = None


class ScenarioModel(ConfigModel):
    """A what-if scenario: changes applied to one period's allocation without posting anything."""

    name: str | None = Field(None, description="default: the file name's stem")
    description: str | None = None
    rules: Annotated[dict[str, dict[str, Any]] | None, hint("map a rule id to the fields that change, e.g. {it_overhead_split: {parameters: {...}}}")] = Field(
        None, description="rule id -> the fields that replace the rule's")
    add_rules: Annotated[list[RuleModel] | None, hint("a list of rules, written as in the rules file")] = None
    remove_rules: Annotated[list[str] | None, hint("a list of rule ids")] = None
    drivers: Annotated[list[DriverChange] | None, hint("a list of changes ({move: ...}, {set: ...}, {scale: ...})")] = Field(
        None, description="driver changes, applied in order")
    cost_centers: Annotated[list[NewCostCenter] | None, hint("a list of new cost centers")] = None

    @field_validator("rules")
    @classmethod
    def _ids_stay(cls, value: dict[str, dict] | None) -> dict[str, dict] | None:
        fixed = [((rule_id,), "the id cannot change (remove the rule and add another)") for rule_id, fields in (value or {}).items() if "id" in fields]
        if fixed:
            raise invalid(problems=fixed)
        return value


def check_scenario(document: Any, source: YamlDocument | None = None) -> list[Problem]:
    """Every problem of a parsed scenario document."""
    if not isinstance(document, dict):
        return [Problem("", "", "expected a mapping (name, rules, add_rules, remove_rules, drivers, cost_centers)")]
    try:
        ScenarioModel.model_validate(document)
    except ValidationError as exc:
        return locate(error_entries(exc), document, source, LABELS)
    return []
