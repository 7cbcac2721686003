"""The MCP server (`allocation mcp`) through the SDK's own client, in process: the tools and their
schemas, every tool on good and bad input, the resources, seed 001's refusals returned as data, the
agent as a preparer only (no approve tool, four-eyes against its own runs, the identity checked at
start and on every submission), the same messages as the CLI; plus stdio and streamable HTTP
smoke tests that start the real command.

The warehouse holds the small sample company's master data and 2026-10 GL lines (extract assets
only, as in test_ledger.py), built once per module and copied for each test; previews, analyses
and what-ifs read the sample company's extracts and rules file, which no test changes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import anyio
import anyio.from_thread
import pytest
from mcp import Client, StdioServerParameters

import dagster as dg
from allocation_pipeline import cli
from allocation_pipeline.agents.server import AgentIdentityError, build_server
from allocation_pipeline.core.ledger.people import FourEyesError
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.warehouse import ledger_store, people_store
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, pipeline_resources, query_frame

AGENT = "claude-agent"
APPROVER = "alice"
REFERENCE_ASSETS = ["entities", "accounts", "cost_centers", "fiscal_periods", "gl_lines"]
TOOLS = {"list_runs", "show_run", "walk_chain", "pool_balances", "preview_rule", "analyze_drivers", "what_if", "submit_run"}

SLACK = [
    {"role": "source", "account": "60002", "cost_center": "EE-ENG", "credit": "120.00"},
    {"role": "target", "account": "60002", "cost_center": "EE-ENG", "debit": "60.00"},
    {"role": "target", "account": "60002", "cost_center": "EE-PRD", "debit": "36.00"},
    {"role": "target", "account": "60002", "cost_center": "EE-SAL", "debit": "24.00"},
]


def lines(*rows: tuple) -> list[dict]:
    """Submission lines from (role, account, cost center, debit, credit) tuples."""
    return [{"role": r, "account": a, "cost_center": c, "debit": d, "credit": k} for r, a, c, d, k in rows]


@pytest.fixture(scope="module")
def warehouse_template(sample_company_template, tmp_path_factory) -> Path:
    """A DuckDB warehouse with the reference data, the agent (preparer) and an approver."""
    folder = tmp_path_factory.mktemp("mcp_warehouse")
    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    prepare_warehouse(sample_company_template, url)
    return folder / "warehouse.duckdb"


def prepare_warehouse(company: Path, url: str) -> None:
    assets = [a for a in build_definitions().assets if a.key.path[-1] in REFERENCE_ASSETS]
    assert dg.materialize(assets, partition_key=SAMPLE_PARTITION, resources=pipeline_resources(company, url)).success
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            people_store.create_user(conn, AGENT, "preparer", None, "test")
            people_store.create_user(conn, APPROVER, "approver", "a long password", "test")
    finally:
        engine.dispose()


@pytest.fixture
def company(sample_company_template, monkeypatch, tmp_path) -> Path:
    """The sample company's files; the CLI's defaults point at them and at a data directory under tmp."""
    monkeypatch.setenv("ALLOCATION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOCATION_RULES_FILE", str(sample_company_template / "rules.yaml"))
    monkeypatch.setenv("ALLOCATION_EXTRACTS_DIR", str(sample_company_template / "extracts"))
    return sample_company_template


@pytest.fixture
def url(warehouse_template, company, tmp_path, monkeypatch) -> str:
    """A private copy of the prepared warehouse; the CLI points at it too."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse_template, target)
    url = f"duckdb:///{target}"
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    return url


class Agent:
    """A connected MCP client, called synchronously through an anyio portal."""

    def __init__(self, portal, client):
        self.portal = portal
        self.client = client

    def call(self, name: str, arguments: dict | None = None):
        return self.portal.call(self.client.call_tool, name, arguments or {})

    def ok(self, name: str, arguments: dict | None = None) -> dict:
        result = self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        return result.structured_content

    def error(self, name: str, arguments: dict | None = None) -> str:
        result = self.call(name, arguments)
        assert result.is_error, result.structured_content
        return result.content[0].text

    def __getattr__(self, name):
        method = getattr(self.client, name)
        return lambda *args: self.portal.call(method, *args)


@contextmanager
def connected(server):
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(server)) as client:
            yield Agent(portal, client)


@pytest.fixture
def agent(url, company):
    with connected(build_server(AGENT, url)) as connection:
        yield connection


query = query_frame


def count(url: str, table: str) -> int:
    return int(query(url, f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])  # fixed table names only


@contextmanager
def transaction(url: str):
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def cli_error(capsys, *argv) -> tuple[int, str]:
    status = cli.main(list(argv))
    return status, capsys.readouterr().err


# --- the tools and their schemas -------------------------------------------------------------------


def test_the_tools_their_schemas_and_no_approval_tool(agent):
    tools = {t.name: t for t in agent.list_tools().tools}
    assert set(tools) == TOOLS
    assert not {name for name in tools if any(word in name for word in ("approve", "post", "void", "reject"))}
    for tool in tools.values():
        assert tool.description and tool.output_schema["type"] == "object" and tool.output_schema["properties"], tool.name
        assert tool.annotations.read_only_hint is (tool.name != "submit_run")
    runs = tools["list_runs"].input_schema["properties"]
    assert runs["limit"]["maximum"] == 200 and runs["offset"]["minimum"] == 0
    assert "calculated" in json.dumps(runs["status"]) and "intercompany_charge" in json.dumps(runs["run_type"])
    assert tools["preview_rule"].input_schema["properties"]["period"]["pattern"] == r"^\d{4}-(0[1-9]|1[0-2])$"
    assert tools["preview_rule"].input_schema["required"] == ["rule", "period"]
    submit = tools["submit_run"].input_schema
    assert submit["required"] == ["lines"] and submit["properties"]["lines"]["maxItems"] == 5000
    assert set(tools["submit_run"].output_schema["properties"]) >= {"accepted", "run_id", "errors", "submitted_by"}
    assert AGENT in agent.client.instructions and "cannot approve" in agent.client.instructions


def test_approving_posting_or_voiding_is_impossible(agent):
    run_id = agent.ok("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"})["run_id"]
    for name in ("approve_run", "approve", "post_run", "void_run", "reject_run"):
        assert "Unknown tool" in agent.error(name, {"run_id": run_id})
    assert agent.ok("show_run", {"run_id": run_id})["run"]["status"] == "calculated"


def test_resources_rules_methods_and_submission_format(agent, company):
    uris = {str(r.uri) for r in agent.list_resources().resources}
    assert uris == {"allocation://rules", "allocation://methods", "allocation://submission-format"}
    assert agent.read_resource("allocation://rules").contents[0].text == (company / "rules.yaml").read_text(encoding="utf-8")
    methods = {m["name"]: m for m in json.loads(agent.read_resource("allocation://methods").contents[0].text)}
    assert {"driver", "even_split", "fixed_percentages", "weighted_drivers", "activity_based", "product_of_shares", "reciprocal", "step_down", "direct"} <= set(methods)
    assert "percentages" in methods["fixed_percentages"]["parameters"] and methods["even_split"]["parameters"] == {}
    assert methods["weighted_drivers"]["description"].startswith("Weighted multi-driver")
    text = agent.read_resource("allocation://submission-format").contents[0].text
    assert '"role": "source", "account": "60002"' in text and "Source amount 80.00 exceeds remaining unallocated balance of 50.00." in text


# --- reading runs and the chain --------------------------------------------------------------------


def test_list_runs_filters_and_pages(agent):
    for amount in ("10.00", "20.00", "30.00"):
        rows = lines(("source", "60002", "EE-ENG", "0", amount), ("target", "60002", "EE-PRD", amount, "0"))
        agent.ok("submit_run", {"lines": rows, "entity": "EE", "period": SAMPLE_PERIOD})
    first = agent.ok("list_runs", {"limit": 2})
    assert [r["run_id"] for r in first["runs"]] == ["ALLOC-0001", "ALLOC-0002"]
    assert (first["total"], first["next_offset"]) == (3, 2)
    last = agent.ok("list_runs", {"limit": 2, "offset": 2})
    assert [r["amount"] for r in last["runs"]] == ["30.00"] and last["next_offset"] is None
    assert agent.ok("list_runs", {"status": "calculated", "entity": "EE", "period": SAMPLE_PERIOD})["total"] == 3
    assert agent.ok("list_runs", {"entity": "US"})["total"] == 0
    assert agent.call("list_runs", {"status": "posted"}).content[0].text == "no allocation runs match"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"period": "2026-13"}, "list_runs: period '2026-13' is not a fiscal month YYYY-MM"),
        ({"status": "open"}, "list_runs: status 'open': input should be 'draft', 'calculated'"),
        ({"limit": 0}, "list_runs: limit 0: input should be greater than or equal to 1"),
        ({"limit": 201}, "list_runs: limit 201: input should be less than or equal to 200"),
        ({"offset": -1}, "list_runs: offset -1: input should be greater than or equal to 0"),
        ({"stauts": "posted"}, "list_runs: unknown argument(s) stauts; it takes entity, status, run_type, period, limit, offset"),
    ],
)
def test_list_runs_refuses_bad_arguments_in_one_sentence(agent, arguments, message):
    text = agent.error("list_runs", arguments)
    assert text.startswith(message) and "pydantic" not in text and "Traceback" not in text


def test_show_run_and_walk_chain_through_a_posting(agent, url):
    run_id = agent.ok("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527", "description": "Slack by seats"})["run_id"]
    with transaction(url) as conn:
        ledger_store.approve_run(conn, run_id, APPROVER, "checked the seats")
        entry = ledger_store.post_run(conn, run_id, APPROVER).entry_id
    detail = agent.ok("show_run", {"run_id": run_id, "lines_limit": 2, "lines_offset": 1})
    assert detail["run"]["status"] == "posted" and detail["run"]["journal_entry_id"] == entry
    assert [(l["line_no"], l["cost_center"], l["debit"]) for l in detail["lines"]] == [(2, "EE-ENG", "60.00"), (3, "EE-PRD", "36.00")]
    assert (detail["lines_total"], detail["lines_next_offset"]) == (4, 3)
    assert detail["notes"] == ["Slack by seats"] and detail["total_debit"] == detail["total_credit"] == "120.00"
    assert [(h["to_status"], h["changed_by"]) for h in detail["history"]] == [
        ("draft", AGENT), ("calculated", AGENT), ("approved", APPROVER), ("posted", APPROVER),
    ]
    assert detail["history"][0]["reason"] == f"submitted by {AGENT} from the MCP server"
    chain = agent.ok("walk_chain", {"document": entry})
    assert [(x["from_document"], x["link_type"], x["to_document"]) for x in chain["links"]] == [
        ("EE-BILL000527", "allocated_by", run_id), (run_id, "posted_as", entry),
    ]
    assert chain["documents"] == ["EE-BILL000527", run_id, entry] and detail["chain"] == chain["links"]
    assert agent.call("walk_chain", {"document": "EE-BILL000527"}).content[0].text.splitlines() == [
        f"EE-BILL000527 -> allocated by -> {run_id}", f"{run_id} -> posted as -> {entry}",
    ]


def test_show_run_and_walk_chain_on_bad_input(agent, capsys):
    assert agent.error("show_run", {"run_id": "ALLOC-9999"}) == "show_run: no allocation run ALLOC-9999"
    status, err = cli_error(capsys, "show", "ALLOC-9999")
    assert status == 2 and "no allocation run ALLOC-9999" in err
    assert agent.error("show_run", {"run_id": ""}).startswith("show_run: run_id '': string should have at least 1 character")
    assert agent.error("show_run", {}) == "show_run: run_id is required"
    assert agent.error("show_run", {"run_id": "ALLOC-0001", "lines_limit": 1001}).startswith("show_run: lines_limit 1001")
    unknown = agent.call("walk_chain", {"document": "EE-NOPE"})
    assert not unknown.is_error and unknown.structured_content["links"] == [] and unknown.content[0].text == "EE-NOPE: no linked documents"


# --- pools, previews, analyses and what-ifs --------------------------------------------------------


def test_pool_balances_of_a_rule_and_of_a_pool_without_rule(agent):
    it = agent.ok("pool_balances", {"pool": "it_overhead_split", "period": SAMPLE_PERIOD})
    assert (it["entity"], it["total"], it["has_rule"]) == ("EE", "10000.00", True)
    assert [(b["account"], b["cost_center"], b["balance"]) for b in it["balances"]] == [("64000", "EE-IT", "10000.00")]
    corporate = agent.ok("pool_balances", {"pool": "us_corporate_it", "period": SAMPLE_PERIOD})
    assert (corporate["entity"], corporate["total"], corporate["has_rule"]) == ("US", "833333.34", False)
    facilities = agent.ok("pool_balances", {"pool": "ee_facilities_by_floor_area", "period": SAMPLE_PERIOD, "limit": 1})
    assert len(facilities["balances"]) == 1 and facilities["rows_total"] > 1 and facilities["next_offset"] == 1
    assert sum(float(b["balance"]) for b in agent.ok("pool_balances", {"pool": "ee_facilities_by_floor_area", "period": SAMPLE_PERIOD, "limit": 500})["balances"]) == pytest.approx(float(facilities["total"]))
    empty = agent.call("pool_balances", {"pool": "it_overhead_split", "period": "2026-11"})
    assert not empty.is_error and empty.structured_content["balances"] == [] and "no GL balances in 2026-11" in empty.content[0].text


def test_pool_balances_on_bad_input(agent):
    assert "no rule or insights pool 'nope' (known: it_overhead_split" in agent.error("pool_balances", {"pool": "nope", "period": SAMPLE_PERIOD})
    assert agent.error("pool_balances", {"pool": "it_overhead_split", "period": "10/2026"}) == "pool_balances: period '10/2026' is not a fiscal month YYYY-MM"


def test_preview_rule_returns_the_cli_preview_and_writes_nothing(agent, url, capsys):
    before = count(url, "allocation_runs")
    preview = agent.ok("preview_rule", {"rule": "it_overhead_split", "period": SAMPLE_PERIOD})
    assert (preview["pool"], preview["currency"], preview["balanced"], preview["earlier_rules"]) == ("10000.00", "EUR", True, [])
    assert [(l["role"], l["account"], l["cost_center"], l["debit"], l["credit"], l["share"]) for l in preview["lines"]] == [
        ("source", "69100", "EE-IT", "0.00", "10000.00", None),
        ("target", "69000", "EE-ENG", "6000.00", "0.00", 0.6),
        ("target", "69000", "EE-PRD", "2500.00", "0.00", 0.25),
        ("target", "69000", "EE-SAL", "1500.00", "0.00", 0.15),
    ]
    later = agent.ok("preview_rule", {"rule": "ee_facilities_by_floor_area", "period": SAMPLE_PERIOD})
    assert later["earlier_rules"] == ["it_overhead_split"] and {l["driver"] for l in later["lines"] if l["role"] == "target"} == {"floor_area"}
    assert count(url, "allocation_runs") == before
    assert cli.main(["preview", "it_overhead_split", "--period", SAMPLE_PERIOD]) == 0
    assert "Pool: 10,000.00 EUR; 3 target line(s)" in capsys.readouterr().out


def test_preview_rule_errors_are_the_cli_messages(agent, capsys):
    status, err = cli_error(capsys, "preview", "nope", "--period", SAMPLE_PERIOD)
    assert status == 2
    message = agent.error("preview_rule", {"rule": "nope", "period": SAMPLE_PERIOD})
    assert message.startswith("preview_rule: ") and "nope" in message
    assert err.strip() == f"allocation preview: {message.removeprefix('preview_rule: ')}"
    assert agent.error("preview_rule", {"rule": "it_overhead_split"}) == "preview_rule: period is required"


def test_analyze_drivers_recommends_a_key_and_allocates_the_pool(agent, url):
    analysis = agent.ok("analyze_drivers", {"pool": "us_corporate_it", "period": SAMPLE_PERIOD})
    assert analysis["status"] == "ok" and analysis["periods"] == ["2026-08", "2026-09", SAMPLE_PERIOD]
    assert {d["driver"] for d in analysis["drivers"]} == {"headcount", "it_tickets", "cloud_spend", "app_licences"}
    rec = analysis["recommendation"]
    assert rec["method"] == "weighted_drivers" and sum(rec["parameters"]["weights"].values()) == 100 and rec["reasons"]
    assert analysis["has_rule"] is False and analysis["pool_amount"] == "833333.34" and analysis["currency"] == "USD"
    recommended = [row["recommended"] for row in analysis["allocation"]]
    assert sum(round(float(x) * 100) for x in recommended) == 83_333_334
    assert count(url, "allocation_runs") == 0 and count(url, "driver_analysis") == 0


def test_the_it_overhead_conversation_analyze_preview_submit_then_a_person_approves(agent, url, capsys):
    """README's worked conversation: the recommended key previewed, its lines submitted, approved by a person."""
    analysis = agent.ok("analyze_drivers", {"pool": "us_corporate_it", "period": SAMPLE_PERIOD})
    key = analysis["recommendation"]
    preview = agent.ok("preview_rule", {"rule": "us_corporate_it", "period": SAMPLE_PERIOD, "method": key["method"], "parameters": key["parameters"]})
    assert preview["method"] == key["method"] and preview["parameters"] == key["parameters"] and preview["balanced"]
    assert preview["earlier_rules"] == ["us_facilities_by_floor_area"]
    targets = {l["cost_center"]: l["debit"] for l in preview["lines"] if l["role"] == "target"}
    assert targets == {row["cost_object"]: row["recommended"] for row in analysis["allocation"]}
    submitted = agent.ok("submit_run", {
        "entity": "US", "period": SAMPLE_PERIOD, "description": f"US corporate IT by {key['label']}",
        "lines": [
            {k: l[k] for k in ("role", "account", "cost_center", "debit", "credit", "driver", "share", "explanation")}
            for l in preview["lines"]
        ],
    })
    assert submitted["accepted"] and submitted["total"] == "833333.34" and submitted["submitted_by"] == AGENT
    run_id = submitted["run_id"]
    status, err = cli_error(capsys, "approve", run_id, "--by", AGENT)
    assert status == 2 and "four-eyes rule" in err
    assert cli.main(["approve", run_id, "--by", APPROVER]) == 0
    history = agent.ok("show_run", {"run_id": run_id})["history"]
    assert [(h["to_status"], h["changed_by"]) for h in history] == [("draft", AGENT), ("calculated", AGENT), ("approved", APPROVER)]


def test_preview_with_another_method_on_bad_input(agent):
    assert "no rule 'us_corporate_it' yet; it is an insights pool: preview it with a method" in agent.error(
        "preview_rule", {"rule": "us_corporate_it", "period": SAMPLE_PERIOD})
    assert agent.error("preview_rule", {"rule": "it_overhead_split", "period": SAMPLE_PERIOD, "method": "nope"}) == (
        "preview_rule: unknown method 'nope'; available: driver, even_split, fixed_percentages, weighted_drivers, activity_based, product_of_shares")
    assert agent.error("preview_rule", {"rule": "it_overhead_split", "period": SAMPLE_PERIOD, "method": "driver", "parameters": {}}) == (
        "preview_rule: rule it_overhead_split with method driver: parameters.driver: name the driver")
    assert agent.error("preview_rule", {"rule": "it_overhead_split", "period": SAMPLE_PERIOD, "parameters": {"driver": "x"}}) == (
        "preview_rule: parameters are given without a method (--method)")


def test_analyze_drivers_on_bad_input(agent, capsys):
    assert agent.error("analyze_drivers", {"pool": "nope", "period": SAMPLE_PERIOD}).endswith("no insights pool 'nope' (pools: us_corporate_it)")
    status, err = cli_error(capsys, "analyze", "--period", SAMPLE_PERIOD, "--pool", "nope")
    assert status == 2 and err.strip() == "allocation analyze: " + agent.error("analyze_drivers", {"pool": "nope", "period": SAMPLE_PERIOD}).removeprefix("analyze_drivers: ")
    assert agent.error("analyze_drivers", {"pool": "us_corporate_it", "period": "2026-00"}) == "analyze_drivers: period '2026-00' is not a fiscal month YYYY-MM"


def test_what_if_compares_with_the_baseline_and_stores_nothing(agent, url):
    scenario = {
        "name": "facilities-by-head",
        "rules": {"us_facilities_by_floor_area": {"parameters": {"driver": "headcount"}}},
        "drivers": [{"move": "headcount", "from": "US-BU2", "to": "US-BU5", "amount": 20}],
    }
    result = agent.ok("what_if", {"period": SAMPLE_PERIOD, "scenario": scenario})
    assert result["scenario"] == "facilities-by-head" and result["objects_changed"] > 0
    assert "rule us_facilities_by_floor_area: parameters {driver: floor_area} -> {driver: headcount}" in result["changes"]
    bu2 = next(r for r in result["by_cost_object"] if r["cost_center"] == "US-BU2")
    assert round(float(bu2["scenario"]) * 100) - round(float(bu2["baseline"]) * 100) == round(float(bu2["difference"]) * 100) != 0
    assert count(url, "whatif_scenarios") == 0 and count(url, "allocation_runs") == 0


def test_what_if_on_bad_input(agent):
    message = agent.error("what_if", {"period": SAMPLE_PERIOD, "scenario": {"name": "x", "colour": "blue", "remove_rules": ["nope"]}})
    assert "unknown field(s) colour" in message
    assert agent.error("what_if", {"period": SAMPLE_PERIOD, "scenario": "no"}).startswith("what_if: scenario 'no': input should be a valid dictionary")


# --- submitting ------------------------------------------------------------------------------------


def test_seed_001_refusals_come_back_as_data_and_nothing_is_written(agent, url):
    wrong_account = agent.call("submit_run", {
        "lines": lines(("source", "61000", "EE-ENG", "0", "10.00"), ("target", "60002", "EE-PRD", "10.00", "0")),
        "source_document": "EE-BILL000527",
    })
    assert wrong_account.is_error and wrong_account.structured_content["accepted"] is False
    assert [e["message"] for e in wrong_account.structured_content["errors"]] == [
        "Source line accounts do not appear in the source transaction's GL lines. Available accounts: 2000, 60002"
    ]
    assert wrong_account.content[0].text.startswith("Submission refused; nothing was written. 1 problem(s):")
    assert count(url, "allocation_runs") == 0 and count(url, "document_links") == 0

    run_id = agent.ok("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"})["run_id"]
    again = agent.call("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"})
    assert [e["message"] for e in again.structured_content["errors"]] == [
        f"Account 60002 is already fully allocated (120.00 of 120.00) by {run_id}. Void existing allocations first."
    ]
    travel = lines(("source", "61000", "EE-SAL", "0", "300.00"), ("target", "61000", "EE-ENG", "300.00", "0"))
    agent.ok("submit_run", {"lines": travel, "source_document": "EE-BILL000528"})
    too_much = lines(("source", "61000", "EE-SAL", "0", "80.00"), ("target", "61000", "EE-ENG", "80.00", "0"))
    refused = agent.call("submit_run", {"lines": too_much, "source_document": "EE-BILL000528"}).structured_content
    assert [e["message"] for e in refused["errors"]] == ["Source amount 80.00 exceeds remaining unallocated balance of 50.00."]
    assert refused["entity"] == "EE" and refused["period"] == SAMPLE_PERIOD and refused["total"] == "80.00"
    assert count(url, "allocation_runs") == 2


def test_every_problem_is_returned_exactly_as_allocation_submit_prints_it(agent, url, capsys, tmp_path):
    bad = lines(("source", "99999", "EE-ENG", "0", "10.00"), ("target", "60002", "EE-PRD", "10.02", "0"), ("target", "60002", "EE-SAL", "0", "0"))
    result = agent.call("submit_run", {"lines": bad, "entity": "EE", "period": SAMPLE_PERIOD})
    messages = [e["message"] for e in result.structured_content["errors"]]
    assert len(messages) == 3 and "Account 99999 does not exist." in messages
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"entity": "EE", "period": SAMPLE_PERIOD, "lines": bad}))
    status, err = cli_error(capsys, "submit", str(path))
    assert status == 1 and err.splitlines()[1:] == [f"  - {m}" for m in messages]
    assert result.content[0].text.splitlines()[1:] == err.splitlines()[1:]
    assert count(url, "allocation_runs") == 0 and count(url, "allocation_lines") == 0


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        ({"lines": [{"role": "sideways", "account": "60002", "cost_center": "EE-ENG", "debit": "1.00"}], "entity": "EE", "period": SAMPLE_PERIOD},
         ["submission line 1: role 'sideways' is not source or target"]),
        ({"lines": [{"role": "source", "account": "60002", "cost_center": "EE-ENG", "credit": "1.005"},
                    {"role": "target", "account": "60002", "cost_center": "", "debit": "x"}], "entity": "EE", "period": SAMPLE_PERIOD},
         ["submission line 1: credit '1.005' has more than two decimal places", "submission line 2: cost_center is empty",
          "submission line 2: debit 'x' is not an amount"]),
        ({"lines": [], "entity": "EE", "period": SAMPLE_PERIOD}, ["submission: no lines"]),
        ({"lines": SLACK}, ["give the run's entity and period (or a source document the warehouse knows)"]),
        ({"lines": SLACK, "entity": "XX", "period": SAMPLE_PERIOD}, ["entity XX is not in the warehouse (run the pipeline for a period first)"]),
        ({"lines": SLACK, "entity": "EE", "period": "2026-13", "type": "gift"},
         ["Run type 'gift' is not one of cost_allocation, revenue_allocation, intercompany_charge.", "Period '2026-13' is not a fiscal month YYYY-MM."]),
    ],
)
def test_unusable_submissions_name_line_and_field(agent, url, arguments, problems):
    result = agent.call("submit_run", arguments)
    assert result.is_error and [e["message"] for e in result.structured_content["errors"]] == problems
    assert count(url, "allocation_runs") == 0


def test_submission_arguments_are_bounded_by_the_schema(agent):
    many = SLACK * 1251
    assert agent.error("submit_run", {"lines": many, "entity": "EE", "period": SAMPLE_PERIOD}).startswith(
        "submit_run: lines [{'role': 'source'"
    )
    assert "list should have at most 5000 items" in agent.error("submit_run", {"lines": many})
    assert agent.error("submit_run", {"lines": [{"role": "source"}]}) == "submit_run: lines.0.account is required; lines.0.cost_center is required"


# --- the agent is a preparer, never an approver ----------------------------------------------------


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_agents_run_needs_another_person_to_approve_and_post(backend, request, sample_company_template, company, tmp_path):
    if backend == "duckdb":
        url = request.getfixturevalue("url")
    else:
        url = request.getfixturevalue("postgres_url")
        prepare_warehouse(sample_company_template, url)
    with connected(build_server(AGENT, url)) as agent:
        run_id = agent.ok("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"})["run_id"]
    with pytest.raises(FourEyesError, match=f"{run_id}: {AGENT} prepared this run and cannot approve it too"):
        with transaction(url) as conn:
            ledger_store.approve_run(conn, run_id, AGENT)
    with transaction(url) as conn:
        ledger_store.approve_run(conn, run_id, APPROVER, "seats checked")
    with pytest.raises(FourEyesError, match=f"{run_id}: {AGENT} prepared this run and cannot post it too"):
        with transaction(url) as conn:
            ledger_store.post_run(conn, run_id, AGENT)
    with transaction(url) as conn:
        entry = ledger_store.post_run(conn, run_id, APPROVER).entry_id
    history = query(url, "SELECT to_status, changed_by FROM allocation_run_history WHERE run_id = :r ORDER BY seq", r=run_id)
    assert history.values.tolist() == [["draft", AGENT], ["calculated", AGENT], ["approved", APPROVER], ["posted", APPROVER]]
    assert entry.startswith("EE-CAL")


def test_the_cli_refuses_the_agent_approving_its_own_run(agent, capsys):
    run_id = agent.ok("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"})["run_id"]
    status, err = cli_error(capsys, "approve", run_id, "--by", AGENT)
    assert status == 2 and f"{run_id}: {AGENT} prepared this run and cannot approve it too (four-eyes rule)" in err
    assert cli.main(["approve", run_id, "--by", APPROVER]) == 0


@pytest.mark.parametrize(
    ("name", "role", "active", "message"),
    [
        ("nobody", None, True, "no user nobody: add the agent's identity with `allocation users add nobody --role preparer --sso`"),
        ("vera", "approver", True, "user vera has the role approver; an agent acts only as a preparer"),
        ("adam", "admin", True, "user adam has the role admin; an agent acts only as a preparer"),
        ("vic", "viewer", True, "user vic has the role viewer; an agent acts only as a preparer"),
        ("gone", "preparer", False, "user gone is deactivated"),
    ],
)
def test_the_server_acts_only_as_an_active_preparer(url, company, capsys, name, role, active, message):
    if role is not None:
        with transaction(url) as conn:
            people_store.create_user(conn, name, role, None, "test")
            if not active:
                people_store.set_active(conn, name, False)
    with pytest.raises(AgentIdentityError) as refused:
        build_server(name, url)
    assert str(refused.value).startswith(message)
    status, err = cli_error(capsys, "mcp", "--as", name)
    assert status == 2 and message in err


def test_a_role_taken_away_while_serving_stops_submissions(agent, url, capsys):
    with transaction(url) as conn:
        people_store.set_role(conn, AGENT, "approver")
    assert agent.error("submit_run", {"lines": SLACK, "source_document": "EE-BILL000527"}).startswith(
        f"submit_run: user {AGENT} has the role approver; an agent acts only as a preparer"
    )
    assert count(url, "allocation_runs") == 0


def test_the_command_needs_an_identity(url, capsys, monkeypatch):
    monkeypatch.delenv("ALLOCATION_MCP_AS", raising=False)
    status, err = cli_error(capsys, "mcp")
    assert status == 2 and "give the user the agent acts as: --as USER (or $ALLOCATION_MCP_AS)" in err


# --- the real command over stdio and streamable HTTP -----------------------------------------------


CLI = ["-c", "import sys; from allocation_pipeline.cli import main; sys.exit(main())"]


def _command_env(url: str) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]), "ALLOCATION_WAREHOUSE_URL": url}


def test_allocation_mcp_over_stdio(url):
    params = StdioServerParameters(command=sys.executable, args=[*CLI, "mcp", "--as", AGENT], env=_command_env(url))

    async def main():
        with anyio.fail_after(60):
            async with Client(params) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                result = await client.call_tool("walk_chain", {"document": "EE-BILL000527"})
                return names, result

    names, result = anyio.run(main)
    assert names == TOOLS and result.structured_content == {"document": "EE-BILL000527", "links": [], "documents": []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_allocation_mcp_over_streamable_http(url):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, *CLI, "mcp", "--as", AGENT, "--http", "--port", str(port)],
        env=_command_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not listen within 60 s"
                time.sleep(0.1)

        async def main():
            with anyio.fail_after(60):
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    return await client.call_tool("list_runs", {})

        result = anyio.run(main)
        assert result.structured_content["total"] == 0 and not result.is_error
        # Between calls the server holds no DuckDB lock: another process (the CLI, the console) writes.
        with transaction(url) as conn:
            people_store.create_user(conn, "bea", "approver", None, "test")
        assert anyio.run(main).structured_content["total"] == 0
    finally:
        process.terminate()
        process.wait(timeout=30)
