"""The `insights:` section of the rules file as pydantic models: the pools analysed, flag thresholds
and which flags block. A new threshold is one field here and one in `core.insights.config.Thresholds`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator, Field, PlainValidator, ValidationError, ValidationInfo, WithJsonSchema, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from allocation_pipeline.config.fields import ConfigModel, Money, hint, invalid, number, text
from allocation_pipeline.config.problems import Problem, YamlDocument, error_entries, locate
from allocation_pipeline.config.rules import LABELS, SECTIONS, RuleModel
from allocation_pipeline.core.insights.confidence import ConfidenceSettings
from allocation_pipeline.core.insights.config import FLAG_KINDS, SECTION, SEVERITIES, InsightsConfig, PoolSpec, SuggestionSettings, Thresholds


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


Probability = Annotated[float, Field(gt=0, le=1), hint("must be a probability above 0 and at most 1")]
P = Annotated[float, Field(gt=0, le=1), hint("must be a p-value above 0 and at most 1")]
R2 = Annotated[float, Field(ge=-1, le=1), hint("must be a number between -1 and 1")]


class ConfidenceModel(ConfigModel):
    """When a driver key's evidence earns a label: a permutation test across units and out-of-sample R^2."""

    permutations: Annotated[int, Field(ge=19), hint("must be a whole number of at least 19")] = Field(
        ConfidenceSettings.permutations, description="shuffles of consumption across units in the permutation test")
    seed: Annotated[int, Field(ge=0), hint("must be a whole number of at least 0")] = Field(ConfidenceSettings.seed, description="fixes the shuffles")
    strong_p: P = Field(ConfidenceSettings.strong_p, description="strong: p-value at most this ...")
    strong_r2: R2 = Field(ConfidenceSettings.strong_r2, description="... and out-of-sample R^2 at least this")
    moderate_p: P = Field(ConfidenceSettings.moderate_p, description="moderate: p-value at most this ...")
    moderate_r2: R2 = Field(ConfidenceSettings.moderate_r2, description="... and out-of-sample R^2 at least this")
    weak_p: P = Field(ConfidenceSettings.weak_p, description="weak: p-value at most this (none above)")
    min_all_units_r2: R2 = Field(ConfidenceSettings.min_all_units_r2, description="a confident label also needs this R^2 over every unit")

    def to_settings(self) -> ConfidenceSettings:
        return ConfidenceSettings(**self.model_dump())


class SuggestionsModel(ConfigModel):
    """Cost-center suggestions for quarantined (or suspense) GL and AP lines."""

    suspense_cost_centers: Annotated[list[str], hint("list cost center ids")] = Field(
        default_factory=list, description="cost centers whose lines also get a suggestion")
    history_periods: Annotated[int, Field(ge=1), hint("must be a whole number of at least 1")] = Field(
        12, description="months of clean lines the model learns from")
    high_confidence: Probability = Field(0.8, description="probability at or above: high")
    medium_confidence: Probability = Field(0.5, description="probability at or above: medium (else low)")
    seed: Annotated[int, Field(ge=0), hint("must be a whole number of at least 0")] = Field(13, description="fixes the model")

    @model_validator(mode="after")
    def _ordered(self) -> "SuggestionsModel":
        if self.medium_confidence > self.high_confidence:
            raise invalid("medium_confidence cannot be above high_confidence")
        return self

    def to_settings(self) -> SuggestionSettings:
        return SuggestionSettings(**{**self.model_dump(), "suspense_cost_centers": tuple(self.suspense_cost_centers)})


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
    confidence: Annotated[ConfidenceModel | None, hint("expected a mapping (permutations, seed, strong_p, ...)")] = None
    suggestions: Annotated[SuggestionsModel | None, hint("expected a mapping (suspense_cost_centers, history_periods, high_confidence, ...)")] = None

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
    return InsightsConfig(
        pools, thresholds, model.blocking or {}, model.history_periods, model.min_periods,
        confidence=(model.confidence or ConfidenceModel()).to_settings(),
        suggestions=(model.suggestions or SuggestionsModel()).to_settings(),
    ), []
