"""The typed configuration (allocation_pipeline.config): every problem of a rules or scenario file
reported at once with its entry, field and line; YAML safe-loaded; method parameters validated
by each method's model (plugins' too). The messages of single fields are covered where each
section is tested (test_methods, test_document_rules, test_multilevel_runs, test_insights_*);
`allocation rules check|schema` and the README's examples are in test_rules_command.py."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import Field

from allocation_pipeline.config.fields import ConfigModel, text
from allocation_pipeline.core.insights.config import InsightsConfigError, load_insights
from allocation_pipeline.core.insights.whatif import ScenarioError, load_scenario
from allocation_pipeline.core.allocation.methods import AllocationMethod, MethodError, MethodResult, available_methods, get_method
from allocation_pipeline.core.multilevel.config import MultilevelConfigError, load_multilevel
from allocation_pipeline.core.allocation.rules import RulesError, load_rules, parse_rules

RULES = """\
version: 1
rules:
  - id: it_split
    entity: EE
    source: {accounts: ["64000"], cost_centers: [EE-IT]}
    method: fixed_percentages
    parameters:
      percentages: {EE-ENG: 60, EE-PRD: 30}
    target: {members: [EE-ENG, EE-PRD]}
    accounts: {debit: "69000", credit: 69100}
  - id: rent
    entity: EE
    colour: blue
    source:
      accounts: ["62100-62000"]
    method: evn_split
    target: {dimension: product, where: {kind: operating}}
    accounts: {credit: "69100"}
    approval: sometimes
  - entity: US
    order: first
    source: {accounts: ["64000"]}
    method: driver
    parameters: {}
    target: {members: [A]}
    accounts: {debit: "69000"}
multilevel:
  - id: ee_services
    entity: EE
    method: iterative
    source: {accounts: ["50000-69500"]}
    accounts: {credit: "69600"}
insights:
  thresholds: {peer_z: big}
  pools:
    - {id: it_split, consumption: tickets, candidates: [tickets]}
"""


def write(tmp_path, text_: str, name: str = "rules.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text_), encoding="utf-8")
    return path


def test_a_rules_file_reports_every_problem_with_rule_field_and_line(tmp_path):
    path = write(tmp_path, RULES)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        "rule 'it_split': parameters.percentages: sum to 90, not 100 (line 8)",
        "rule 'rent': unknown field(s) colour (line 11)",
        "rule 'rent': source.accounts: '62100-62000' is not an account or an ascending range (line 15)",
        "rule 'rent': method: unknown method 'evn_split' (did you mean 'even_split'?); available: driver, even_split, "
        "fixed_percentages, weighted_drivers, activity_based, product_of_shares (line 16)",
        "rule 'rent': target.where: selects cost centers only; list the product members (line 17)",
        "rule 'rent': accounts.debit: required account is missing (line 18)",
        "rule 'rent': approval.mode: 'sometimes' is not one of auto, manual (line 19)",
        "rule #3: id: required text is missing (line 20)",
        "rule #3: order: must be a whole number (line 21)",
        "rule #3: parameters.driver: name the driver (line 24)",
    ]
    assert str(caught.value) == f"{path}: " + "; ".join(problems)


def test_each_section_reports_its_own_problems_with_lines(tmp_path):
    path = write(tmp_path, RULES)
    with pytest.raises(MultilevelConfigError) as multilevel:
        load_multilevel(path)
    assert [str(p) for p in multilevel.value.problems] == [
        "multilevel 'ee_services': method: 'iterative' is not one of reciprocal, step_down, direct (line 30)",
        "multilevel 'ee_services': accounts.debit: required account is missing (line 32)",
    ]
    with pytest.raises(InsightsConfigError) as insights:
        load_insights(path)
    assert [str(p) for p in insights.value.problems] == [
        "insights: thresholds.peer_z: 'big' is not a number of 0 or more (line 34)",
        "insights: pool 'it_split': candidates: the consumption metric tickets cannot be its own driver (line 36)",
    ]


def test_documents_without_a_file_have_no_lines():
    with pytest.raises(RulesError) as caught:
        parse_rules({"rules": [{"id": "r", "entity": "EE", "method": "even_split"}]}, "rules.yaml")
    assert str(caught.value) == (
        "rules.yaml: rule 'r': source: must be a mapping with 'accounts'; "
        "rule 'r': target: must be a mapping with 'dimension' and 'members' or 'where'; "
        "rule 'r': accounts: must be a mapping with 'debit' (and optionally 'credit')"
    )
    assert all(p.line is None for p in caught.value.problems)


def test_yaml_is_safe_loaded_and_its_errors_name_the_file(tmp_path):
    unsafe = write(tmp_path, "rules: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(RulesError, match=r"rules.yaml: not valid YAML \(could not determine a constructor"):
        load_rules(unsafe)
    broken = write(tmp_path, "rules:\n  - id: [unclosed\n", "broken.yaml")
    with pytest.raises(RulesError, match=r"broken.yaml: not valid YAML \(while parsing a flow sequence: expected .* at line 3, column 1\)"):
        load_rules(broken)
    with pytest.raises(RulesError, match="missing.yaml: rules file not found"):
        load_rules(tmp_path / "missing.yaml")


def test_a_valid_file_gives_the_same_objects_as_before(tmp_path):
    """Defaults the rest of the code relies on: order by position, manual approval, the pooled
    accounts credited, cost_center targets, amounts in cents, no owner."""
    path = write(tmp_path, """\
        rules:
          - id: b
            entity: EE
            owner: maria
            source: {accounts: [64000, "62000-62100"], document: null}
            method: even_split
            target: {members: [A, 2]}
            accounts: {debit: 69000}
            approval: {mode: auto, max_amount: "1000.50"}
            effective: {from: 2026-01}
          - id: a
            entity: EE
            order: 5
            source: {accounts: ["64000"]}
            method: driver
            parameters: {driver: headcount}
            fallback: even_split
            target: {dimensions: [product, region], members: {product: [P1], region: [EU]}}
            accounts: {debit: "69000", credit: "69100"}
    """)
    rules = load_rules(path)
    a, b = rules.rules
    assert (a.id, a.order, b.id, b.order) == ("a", 5, "b", 10)
    assert [(r.low, r.high) for r in b.source.accounts] == [("64000", "64000"), ("62000", "62100")]
    assert (b.target.dimension, b.target.members, b.credit_account, b.debit_account) == ("cost_center", ("A", "2"), None, "69000")
    assert (b.approval.mode, b.approval.max_amount_cents, b.approval.unless_flagged) == ("auto", 100_050, True)
    assert (b.effective_from, b.effective_to, b.owner, a.owner) == ("2026-01", None, "maria", None)
    assert (a.approval.mode, a.fallback_method, a.fallback_parameters) == ("manual", "even_split", {})
    assert (a.target.dimension, a.target.members, dict(a.target.members_by_dimension)) == ("product*region", None, {"product": ("P1",), "region": ("EU",)})


def test_a_scenario_file_reports_every_problem_with_lines(tmp_path):
    path = write(tmp_path, """\
        name: reorg
        rules:
          it_split: {id: other}
        drivers:
          - {move: headcount, to: US-BU5, amount: 20}
          - {scale: hours, factor: -1}
          - {sett: hours}
        cost_centers:
          - {cost_center: US-BU10, entity: US, drivers: {headcount: many}}
        add_rules:
          - {id: extra, entity: US}
    """, "reorg.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert [str(p) for p in caught.value.problems] == [
        "rules.it_split: the id cannot change (remove the rule and add another) (line 3)",
        "drivers #1: move: 'from' is missing (line 5)",
        "drivers #2: scale: factor must be a number of 0 or more (line 6)",
        "drivers #3: give exactly one of move, set or scale, naming the driver (line 7)",
        "cost_centers #1: drivers.headcount: 'many' is not a number of 0 or more (line 9)",
        "add_rules 'extra': source: must be a mapping with 'accounts' (line 11)",
        "add_rules 'extra': target: must be a mapping with 'dimension' and 'members' or 'where' (line 11)",
        "add_rules 'extra': method: required text is missing (line 11)",
        "add_rules 'extra': accounts: must be a mapping with 'debit' (and optionally 'credit') (line 11)",
    ]


# --- method parameters ---------------------------------------------------------------------------


class TierParameters(ConfigModel):
    """Parameters of a plugin method written with a model."""

    driver: text("name the driver") = Field(description="the driver")
    tiers: list[float] = Field(min_length=1)


class Tiers(AllocationMethod):
    """Tiered driver: a plugin bringing its own parameter model."""

    name = "tiers"
    parameters_model = TierParameters

    def weights(self, request):
        params = self.parse_parameters(request.parameters)
        raise NotImplementedError(params)


def test_a_plugin_brings_its_parameter_model():
    methods = {**available_methods(), "tiers": Tiers()}
    rule = {"id": "t", "entity": "EE", "source": {"accounts": ["1"]}, "method": "tiers", "target": {"members": ["A"]}, "accounts": {"debit": "1"}}
    with pytest.raises(RulesError) as caught:
        parse_rules({"rules": [{**rule, "parameters": {"tiers": [], "colour": 1}}]}, "rules.yaml", methods)
    assert [str(p) for p in caught.value.problems] == [
        "rule 't': parameters.driver: name the driver",
        "rule 't': parameters.tiers: must not be empty",
        "rule 't': parameters: unknown field(s) colour",
    ]
    (parsed,) = parse_rules({"rules": [{**rule, "parameters": {"driver": "d", "tiers": [1, 2.5]}}]}, "rules.yaml", methods).rules
    assert Tiers().parse_parameters(parsed.parameters).tiers == [1.0, 2.5]
    with pytest.raises(MethodError, match="parameters.tiers: must not be empty"):
        Tiers().parse_parameters({"driver": "d", "tiers": []})


def test_the_unknown_method_message_lists_what_a_rule_may_name_and_suggests():
    with pytest.raises(MethodError, match=r"unknown method 'weighted_driver' \(did you mean 'weighted_drivers'\?\); available: .*, product_of_shares$"):
        get_method("weighted_driver")
    with pytest.raises(RulesError) as caught:
        parse_rules({"rules": [{"id": "r", "entity": "EE", "source": {"accounts": ["1"]}, "method": "driver", "fallback": "product_of_shares",
                                "parameters": {"driver": "d"}, "target": {"members": ["A"]}, "accounts": {"debit": "1"}}]}, "r", available_methods())
    assert str(caught.value) == "r: rule 'r': fallback.method: product_of_shares cannot be a fallback"
