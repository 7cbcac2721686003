"""The JSON Schemas of the rules file and of what-if scenario files, for editors (VS Code and others
through yaml-language-server) to complete and check them as they are typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pydantic import Field

from allocation_pipeline.config.fields import ConfigModel
from allocation_pipeline.config.insights import InsightsModel
from allocation_pipeline.config.multilevel import MultilevelModel
from allocation_pipeline.config.rules import MethodCall, RuleModel
from allocation_pipeline.config.scenario import ScenarioModel
from allocation_pipeline.core.allocation.methods import PRODUCT_OF_SHARES, AllocationMethod, available_methods, method_names

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "rules.schema.json"
# The first line of a rules file that tells yaml-language-server (VS Code and others) its schema.
SCHEMA_LINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


class RulesFileModel(ConfigModel):
    """An allocation rules file: the rules, and optionally the multi-level allocations and the insights settings."""

    version: int | str = Field(1, description="the file's version, recorded with each run")
    rules: list[RuleModel] = Field(description="allocation rules, run in `order`")
    multilevel: list[MultilevelModel] | None = Field(None, description="one multi-level allocation per entity, after the rules")
    insights: InsightsModel | None = None


def rules_schema(methods: Mapping[str, AllocationMethod] | None = None) -> dict[str, Any]:
    """The rules file's JSON Schema; `method` lists the methods of `methods` (default: every one
    installed) and each method's `parameters` follow its own parameter model."""
    methods = available_methods() if methods is None else methods
    schema = {"$schema": DRAFT, "title": "Allocation rules file", **RulesFileModel.model_json_schema()}
    definitions = schema["$defs"]
    rule = definitions["RuleModel"]
    rule["properties"]["method"] = {**rule["properties"]["method"], "enum": method_names(methods)}
    branches = []
    for name, method in methods.items():
        if method.parameters_model is None:
            continue
        key = f"{name}.parameters"
        definitions[key] = _definition(method.parameters_model.model_json_schema(ref_template="#/$defs/{model}"), definitions)
        branches.append(_when_method(name, {"$ref": f"#/$defs/{key}"}))
    call = _definition(MethodCall.model_json_schema(ref_template="#/$defs/{model}"), definitions)
    call["properties"]["method"] = {**call["properties"]["method"], "enum": method_names(methods, composite=False)}
    definitions["DimensionShares"] = call
    branches.append(_when_method(PRODUCT_OF_SHARES, {
        "type": "object", "additionalProperties": {"$ref": "#/$defs/DimensionShares"},
        "description": "each target dimension -> the method (and its parameters) giving that dimension's shares",
    }))
    rule["allOf"] = branches
    return schema


def _definition(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    definitions.update(schema.pop("$defs", {}))
    return schema


def _when_method(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"method": {"const": name}}, "required": ["method"]}, "then": {"properties": {"parameters": parameters}}}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a what-if scenario file."""
    return {"$schema": DRAFT, "title": "What-if scenario", **ScenarioModel.model_json_schema()}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_rules_schema(path: str | Path, methods: Mapping[str, AllocationMethod] | None = None) -> Path:
    """Write the rules file's JSON Schema to `path` (the file a rules file's SCHEMA_LINE names)."""
    path = Path(path)
    path.write_text(schema_text(rules_schema(methods)), encoding="utf-8")
    return path
