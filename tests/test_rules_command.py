"""`allocation rules check` and `allocation rules schema`, called in-process through the CLI's
`main`: exit statuses, every problem with its line, did-you-mean suggestions for methods, rules,
drivers and names in the extracts; the JSON Schema (with plugin parameters), the sample rules
file's schema line and committed schema, the schema `allocation generate` writes, and every YAML
example of the README validated against the schemas. Does not run any allocation."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from allocation_pipeline.cli import main
from allocation_pipeline.config.insights import check_insights
from allocation_pipeline.config.multilevel import check_multilevel
from allocation_pipeline.config.rules import check_rules
from allocation_pipeline.config.scenario import check_scenario
from allocation_pipeline.config.schema import SCHEMA_FILE, SCHEMA_LINE, rules_schema, scenario_schema, schema_text
from allocation_pipeline.core.allocation.methods import BUILTIN_METHODS, available_methods
from allocation_pipeline.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "allocation_pipeline" / "sample"


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["rules", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_sample_company_rules_check_clean_against_its_extracts(sample_company, capsys):
    status, out, _ = run(capsys, "check", str(sample_company / "rules.yaml"), "--extracts", str(sample_company / "extracts"))
    assert status == 0
    assert out.strip() == (
        f"{sample_company / 'rules.yaml'}: no problems (3 rules, 2 multi-level allocations, 1 insights pools; "
        f"names checked against {sample_company / 'extracts'})"
    )


def misspell(sample_company, *replacements: tuple[str, str]):
    path = sample_company / "rules.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_is_printed_with_its_line_and_a_suggestion(sample_company, capsys):
    path = misspell(
        sample_company,
        ("members: [EE-ENG, EE-PRD, EE-SAL]", "members: [EE-ENGG, EE-PRD, EE-SAL]"),
        ("method: driver", "method: drivr"),
        ("driver: floor_area", "driver: floor_aera"),
        ("consumption: it_consumption", "consumption: it_consumptoin"),
        ("  pools:\n", "  pools:\n    - {id: it_overhead_splt, consumption: it_consumption, candidates: [headcount]}\n"),
        ("version: 1", "version: 1\ncolour: blue"),
    )
    status, out, err = run(capsys, "check", str(path), "--extracts", str(sample_company / "extracts"))
    assert status == 1
    lines = out.strip().splitlines()
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", line) for line in lines), lines
    text = "\n".join(lines)
    for expected in (
        "unknown field(s) colour (a rules file has version, rules, multilevel, insights)",
        "rule 'it_overhead_split': target.members.0: 'EE-ENGG' is not a cost center in the extracts (did you mean 'EE-ENG'?)",
        "rule 'ee_facilities_by_floor_area': method: unknown method 'drivr' (did you mean 'driver'?); available: driver, even_split, "
        "fixed_percentages, weighted_drivers, activity_based, product_of_shares",
        "rule 'ee_facilities_by_floor_area': parameters.driver: 'floor_aera' is not a driver in the extracts (did you mean 'floor_area'?)",
        "insights: pool 'it_overhead_splt': id: no rule has this id and the pool has no proposal to build one from "
        "(did you mean 'it_overhead_split'?)",
        "insights: pool 'us_corporate_it': consumption: 'it_consumptoin' is not a driver in the extracts (did you mean 'it_consumption'?)",
    ):
        assert expected in text, text
    numbers = [int(line.split(":")[1]) for line in lines]
    assert numbers == sorted(numbers)
    assert err.strip().startswith(f"{path}: {len(lines)} problem(s)")


def test_without_data_names_are_not_checked(sample_company, capsys):
    path = misspell(sample_company, ("driver: floor_area", "driver: floor_aera"))
    status, out, _ = run(capsys, "check", str(path), "--no-data")
    assert status == 0
    assert "note: names not checked against data (no extracts directory)" in out
    status, out, _ = run(capsys, "check", str(path), "--extracts", str(sample_company / "nowhere"))
    assert status == 0 and "no extracts directory" in out


def test_a_file_that_cannot_be_read_exits_2(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("rules: [\n", encoding="utf-8")
    assert main(["rules", "check", str(tmp_path / "bad.yaml"), "--no-data"]) == 2
    assert "bad.yaml: not valid YAML" in capsys.readouterr().err
    assert main(["rules", "check", str(tmp_path / "none.yaml"), "--no-data"]) == 2
    assert "none.yaml: rules file not found" in capsys.readouterr().err


def test_the_schema_command_writes_the_schema(tmp_path, capsys):
    status, out, _ = run(capsys, "schema")
    assert status == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == rules_schema()
    assert schema["$defs"]["RuleModel"]["properties"]["method"]["enum"][-1] == "product_of_shares"
    status, _, _ = run(capsys, "schema", "--scenario", "--out", str(tmp_path / "scenario.schema.json"))
    assert status == 0
    assert json.loads((tmp_path / "scenario.schema.json").read_text()) == scenario_schema()


def test_the_schema_checks_each_methods_parameters_and_includes_plugins():
    from tests.test_config import Tiers

    validator = jsonschema.Draft202012Validator(rules_schema({**available_methods(), "tiers": Tiers()}))
    rule = {"id": "r", "entity": "EE", "source": {"accounts": ["1"]}, "target": {"members": ["A"]}, "accounts": {"debit": "1"}}
    errors = lambda document: sorted(".".join(map(str, e.absolute_path)) for e in validator.iter_errors(document))  # noqa: E731
    assert errors({"rules": [{**rule, "method": "tiers", "parameters": {"driver": "d", "tiers": [1]}}]}) == []
    assert errors({"rules": [{**rule, "method": "tiers", "parameters": {"driver": "d"}}]}) == ["rules.0.parameters"]
    assert errors({"rules": [{**rule, "method": "driver", "parameters": {"driver": 3}}]}) == ["rules.0.parameters.driver"]
    assert errors({"rules": [{**rule, "method": "fixed_percentages", "parameters": {"percentages": {"A": -5}}}]}) == ["rules.0.parameters.percentages.A"]
    assert errors({"rules": [{**rule, "method": "magic"}]}) == ["rules.0.method"]


def test_the_sample_rules_file_names_its_schema_and_the_committed_schema_is_current():
    assert (SAMPLE / "rules.yaml").read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    builtins = {cls.name: cls() for cls in BUILTIN_METHODS}
    assert (SAMPLE / SCHEMA_FILE).read_text(encoding="utf-8") == schema_text(rules_schema(builtins)), (
        "regenerate with: allocation rules schema --out allocation_pipeline/sample/rules.schema.json (without plugins installed)"
    )


def test_generate_writes_the_schema_next_to_the_rules(sample_company):
    assert (sample_company / "rules.yaml").read_text(encoding="utf-8").startswith(SCHEMA_LINE)
    assert json.loads((sample_company / SCHEMA_FILE).read_text(encoding="utf-8")) == rules_schema()


def readme_examples() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    # Blocks opening with `# sources.yaml` belong to the sources file (tests/test_sources_config.py).
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if not b.startswith("# sources.yaml")]


@pytest.mark.parametrize("example", readme_examples(), ids=lambda e: e.splitlines()[0][:40])
def test_every_readme_yaml_example_is_valid(example):
    document = yaml.safe_load(example)
    assert isinstance(document, dict)
    if {"name", "drivers", "add_rules", "remove_rules", "cost_centers"} & set(document):
        jsonschema.validate(document, scenario_schema())
        assert check_scenario(document) == []
        return
    # A section shown alone is a rules file with no rules besides it.
    document = {"rules": [], **document}
    jsonschema.validate(document, rules_schema())
    assert check_rules(document, available_methods())[1] == []
    assert check_multilevel(document)[1] == []
    assert check_insights(document)[1] == []


def test_the_readme_has_examples_of_every_part():
    keys = set().union(*(yaml.safe_load(e).keys() for e in readme_examples()))
    assert {"rules", "multilevel", "insights", "drivers"} <= keys
