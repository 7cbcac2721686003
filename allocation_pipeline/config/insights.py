"""The `insights:` section of the rules file as pydantic models: the pools analysed, flag thresholds
and which flags block. A new threshold is one field here and one in `core.insights.config.Thresholds`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, ValidationError, ValidationInfo, WithJsonSchema, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from allocation_pipeline.config.fields import ConfigModel, Money, hint, invalid, number, text
from allocation_pipeline.config.problems import Problem, YamlDocument, error_entries, locate
from allocation_pipeline.config.rules import LABELS, SECTIONS, RuleModel
from allocation_pipeline.core.insights.config import FLAG_KINDS, SECTION, SEVERITIES, InsightsConfig, PoolSpec, Thresholds


class ThresholdsModel(ConfigModel):
    """When a figure becomes a flag. Shares and percents are in percent, money as an amount."""

    share_gap_points: number() = Field(1.0, description="allocated share vs consumption share, percentage points ...")
    share_gap_percent: number() = Field(25.0, description="... and percent of the consumption share (both must be exceeded)")
    peer_z: number() = Field(3.5, description="robust z of the cost per unit against the rule's other targets ...")
    peer_gap_percent: number() = Field(20.0, description="... and percent away from the peers' median rate")
    min_peers: number() = Field(5, description="fewer targets with a unit count: no peer comparison (at least 3)")
    jump_percent: number() = Field(25.0, description="change of a target's amount against the previous period ...")
    jump_min_amount: Money = Field(100_000, description="... and at least this much money", json_schema_extra={"default": "1000.00"})
    fit_drop: number() = Field(0.2, description="drop of the key's R^2 against its median over earlier periods")

    @field_validator("min_peers")
    @classmethod
    def _enough_peers(cls, value: float) -> int:
        if value < 3:
            raise invalid("robust statistics need at least 3 peers")
        return int(value)

    def to_thresholds(self) -> Thresholds:
        values = self.model_dump(exclude={"jump_min_amount"})
        return Thresholds(**values, jump_min_cents=abs(self.jump_min_amount))


def _not_allowed(value: Any) -> Any:
    raise PydanticCustomError("config", "{message}", {
        "message": "not allowed", "group": "field(s) {names} not allowed (a recommendation supplies id, method and parameters)"})


NotAllowed = SkipJsonSchema[Annotated[Any, PlainValidator(_not_allowed)]]


class ProposalModel(RuleModel):
    """The fields of the rule a recommendation would add for a pool no rule allocates yet."""

    id: NotAllowed = None
    method: NotAllowed = None
    parameters: NotAllowed = None


class PoolModel(ConfigModel):
    """A cost pool with observed consumption: what its candidate drivers are measured against."""

    id: text("name the rule (or the rule to add)") = Field(description="the rule allocating the pool, or the id of the rule a recommendation adds")
    description: str = ""
    consumption: text("name the usage metric of observed consumption") = Field(description="the usage metric of observed consumption")
    candidates: Annotated[list[str], Field(min_length=1), hint("list the candidate drivers")]
    proposal: Annotated[ProposalModel | None, hint("expected the new rule's fields (entity, source, target, accounts)")] = None

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not all(value):
            raise invalid("list the candidate drivers")
        if len(set(value)) != len(value):
            raise invalid("a driver is listed twice")
        if info.data.get("consumption") in value:
            raise invalid(f"the consumption metric {info.data['consumption']} cannot be its own driver")
        return value


def _every_kind_blocks(value: Any) -> Any:
    return {kind: "low" for kind in value} if isinstance(value, list) else value


Blocking = Annotated[
    dict[str, str] | None,
    BeforeValidator(_every_kind_blocks),
    hint("map a flag kind to the lowest severity that blocks, e.g. {consumption_gap: high}"),
    WithJsonSchema({
        "anyOf": [
            {"type": "object", "propertyNames": {"enum": list(FLAG_KINDS)}, "additionalProperties": {"enum": list(SEVERITIES)}},
            {"type": "array", "items": {"enum": list(FLAG_KINDS)}},
        ],
        "description": "flag kind -> lowest severity that blocks (a list: every severity blocks); default: nothing blocks",
    }),
]


class InsightsModel(ConfigModel):
    """The `insights:` section: without it there are no pools, the default thresholds, and nothing blocks."""

    history_periods: Annotated[int, Field(ge=1), hint("must be a whole number of at least 1")] = Field(
        12, description="periods of driver history an analysis reads, the current one included")
    min_periods: Annotated[int, Field(ge=2), hint("must be a whole number of at least 2")] = Field(
        3, description="fewer periods with consumption: no recommendation, said plainly")
    thresholds: Annotated[ThresholdsModel | None, hint("expected a mapping")] = None
    blocking: Blocking = None
    pools: Annotated[list[PoolModel] | None, hint("expected a list")] = None

    @field_validator("blocking")
    @classmethod
    def _kinds_and_severities(cls, value: dict[str, str] | None) -> dict[str, str]:
        problems = []
        for kind, severity in (value or {}).items():
            if kind not in FLAG_KINDS:
                problems.append(((), f"'{kind}' is not a flag kind ({', '.join(FLAG_KINDS)})"))
            elif severity not in SEVERITIES:
                problems.append(((kind,), f"'{severity}' is not a severity ({', '.join(SEVERITIES)})"))
        if problems:
            raise invalid(problems=problems)
        return value or {}


def check_insights(document: Any, source: YamlDocument | None = None) -> tuple[InsightsConfig | None, list[Problem]]:
    """The section as an InsightsConfig (defaults when absent) and every problem found."""
    raw = document.get(SECTION) if isinstance(document, dict) else None
    if raw is None:
        return InsightsConfig(), []
    if not isinstance(raw, dict):
        return None, locate([((SECTION,), "expected a mapping (pools, thresholds, blocking)")], document, source)
    entries: list[tuple[tuple, str]] = []
    raw_pools = raw.get("pools") if isinstance(raw.get("pools"), list) else []
    ids = [p.get("id").strip() if isinstance(p, dict) and isinstance(p.get("id"), str) else None for p in raw_pools]
    entries += [((SECTION, "pools", i, "id"), "duplicate pool id") for i, pool_id in enumerate(ids) if pool_id and pool_id in ids[:i]]
    try:
        model = InsightsModel.model_validate(raw)
    except ValidationError as exc:
        entries = error_entries(exc, (SECTION,)) + entries
        model = None
    problems = locate(entries, document, source, LABELS, SECTIONS)
    if model is None or problems:
        return None, problems
    pools = tuple(
        PoolSpec(id=p.id, consumption=p.consumption, candidates=tuple(p.candidates), description=p.description,
                 proposal=raw_pools[i].get("proposal"))
        for i, p in enumerate(model.pools or [])
    )
    thresholds = (model.thresholds or ThresholdsModel()).to_thresholds()
    return InsightsConfig(pools, thresholds, model.blocking or {}, model.history_periods, model.min_periods), []
