"""Document-linked allocation from rules: pools taken from a source document's GL lines, partial
amounts per account line, remaining balances, and the seed's validation messages when a rule
asks for more than is left; in the core and through the pipeline (DuckDB and PostgreSQL).
"""

import pandas as pd
import pytest
import yaml

import dagster as dg
from allocation_pipeline.core.allocation.allocate import AllocationError, DocumentSource, allocate_period, gl_balances
from allocation_pipeline.core.allocation.rules import RulesError, parse_rules
from allocation_pipeline.reporting import run_failures
from tests.conftest import SAMPLE_PARTITION
from tests.conftest import materialize as materialize_month
from tests.test_allocation_core import COST_CENTERS, ENTITIES, drivers, gl
from tests.test_pipeline import POSTING_ON_LOADED_GL, RUNS_ON_LOADED_GL

INVOICE = DocumentSource(
    "EE-BILL000528",
    pd.DataFrame(
        {
            "entity": ["EE"] * 3, "account": ["60002", "61000", "2000"], "cost_center": ["EE-ENG", "EE-SAL", "EE-FIN"],
            "product": [None] * 3, "region": [None] * 3, "currency": ["EUR"] * 3, "balance_cents": [12000, 35000, -47000],
        }
    ),
)


def rule(**source):
    return {
        "id": "invoice_split", "entity": "EE", "source": {"document": "EE-BILL000528", **source},
        "method": "even_split", "target": {"members": ["EE-ENG", "EE-PRD"]}, "accounts": {"debit": "69000"},
    }


def allocate(raw, document=INVOICE):
    rules = parse_rules({"rules": [raw]}).rules
    return allocate_period("2026-10", list(rules), gl_balances(gl(("62000", "EE-FAC", 1, 0))), drivers(), COST_CENTERS, ENTITIES, documents={document.document_id: document})


def test_a_document_account_line_is_the_pool_and_the_run_names_the_document():
    (run,) = allocate(rule(accounts=["60002"])).runs
    assert run.source_document == "EE-BILL000528"
    source = run.lines[run.lines["role"] == "source"]
    assert source[["account", "cost_center", "credit_cents"]].values.tolist() == [["60002", "EE-ENG", 12000]]
    assert run.lines.loc[run.lines["role"] == "target", "debit_cents"].tolist() == [6000, 6000]


def test_a_partial_amount_and_the_remaining_balance():
    (run,) = allocate(rule(accounts=["61000"], amount="300.00")).runs
    assert run.pool_cents == 30000
    taken = DocumentSource(INVOICE.document_id, INVOICE.lines, allocated={"61000": 30000})
    (rest,) = allocate(rule(accounts=["61000"]), taken).runs
    assert rest.pool_cents == 5000
    assert rest.lines.loc[rest.lines["role"] == "source", "cost_center"].tolist() == ["EE-SAL"]
    done = DocumentSource(INVOICE.document_id, INVOICE.lines, allocated={"61000": 35000})
    outcome = allocate(rule(accounts=["61000"]), done)
    assert outcome.runs == [] and outcome.notes == ["rule invoice_split: pool is empty in 2026-10; no run"]


def test_an_account_not_on_the_document_names_the_available_ones():
    with pytest.raises(AllocationError, match=r"account\(s\) 64000 are not on source document EE-BILL000528 \(available accounts: 2000, 60002, 61000\)"):
        allocate(rule(accounts=["64000"]))
    with pytest.raises(AllocationError, match="source document EE-BILL000528 has no GL lines in the warehouse"):
        allocate(rule(accounts=["60002"]), DocumentSource("EE-BILL000528", INVOICE.lines.iloc[0:0]))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"document": "D", "accounts": ["60000-60100"]}, "source.accounts: list the document's account lines one by one, not ranges"),
        ({"document": "D", "accounts": ["60002"], "cost_centers": ["EE-IT"]}, "source.document: the document's own lines are the pool"),
        ({"accounts": ["60002"], "amount": "5.00"}, "source.amount: only a document-linked source takes an amount"),
        ({"document": "D", "accounts": ["60002", "61000"], "amount": "5.00"}, "source.amount: a partial amount applies to exactly one account line"),
        ({"document": "D", "accounts": ["60002"], "amount": "5.001"}, "source.amount: '5.001' has more than two decimal places"),
    ],
)
def test_document_sources_are_validated_on_load(source, message):
    raw = {**rule(), "source": source}
    with pytest.raises(RulesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rules({"rules": [raw]})


DOCUMENT_RULES = [
    {
        "id": "slack_bill_split", "type": "cost_allocation", "entity": "EE", "order": 5,
        "source": {"document": "EE-BILL000527", "accounts": ["60002"]},
        "method": "fixed_percentages", "parameters": {"percentages": {"EE-ENG": 50, "EE-PRD": 30, "EE-SAL": 20}},
        "target": {"members": ["EE-ENG", "EE-PRD", "EE-SAL"]}, "accounts": {"debit": "60002"}, "approval": "auto",
    },
    {
        "id": "travel_part", "type": "cost_allocation", "entity": "EE", "order": 6,
        "source": {"document": "EE-BILL000528", "accounts": ["61000"], "amount": "300.00"},
        "method": "even_split", "target": {"members": ["EE-ENG", "EE-PRD"]}, "accounts": {"debit": "61000"}, "approval": "auto",
    },
]


def with_rules(company, extra):
    path = company / "rules.yaml"
    document = yaml.safe_load(path.read_text())
    document["rules"] = extra + document["rules"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


# What these tests assert on (runs, their lines, history and document links, the ledger) is written
# by allocation_runs and journal_entries; nothing downstream (insights, profitability, the period
# report) writes it, so the month is materialized up to posting, or up to the runs where nothing is
# posted. Only the rules change: the tests start from a warehouse holding October's GL lines
# (conftest's reference copy) and do not load them again.


def materialize(company, url, selection=POSTING_ON_LOADED_GL, partition=SAMPLE_PARTITION):
    return materialize_month(company, url, partition=partition, selection=selection)


def test_document_rules_post_through_the_pipeline_with_their_chain(sample_company, reference_warehouse_url):
    warehouse_url = reference_warehouse_url
    from tests.test_pipeline import query

    with_rules(sample_company, DOCUMENT_RULES)
    result = materialize(sample_company, warehouse_url)
    assert result.success, run_failures(result)
    runs = query(warehouse_url, "SELECT run_id, rule_id, source_document, status, journal_entry_id FROM allocation_runs WHERE source_document IS NOT NULL ORDER BY run_id")
    assert runs[["rule_id", "source_document", "status"]].values.tolist() == [
        ["slack_bill_split", "EE-BILL000527", "posted"],
        ["travel_part", "EE-BILL000528", "posted"],
    ]
    slack_lines = query(
        warehouse_url,
        "SELECT role, account, cost_center, CAST(debit * 100 AS BIGINT) AS d, CAST(credit * 100 AS BIGINT) AS c FROM allocation_lines WHERE run_id = :r ORDER BY line_no",
        r=runs["run_id"].iloc[0],
    )
    assert slack_lines.values.tolist() == [
        ["source", "60002", "EE-ENG", 0, 12000],
        ["target", "60002", "EE-ENG", 6000, 0],
        ["target", "60002", "EE-PRD", 3600, 0],
        ["target", "60002", "EE-SAL", 2400, 0],
    ]
    links = query(warehouse_url, "SELECT from_document, to_document FROM document_links WHERE link_type = 'allocated_by' ORDER BY from_document")
    assert links.values.tolist() == [["EE-BILL000527", runs["run_id"].iloc[0]], ["EE-BILL000528", runs["run_id"].iloc[1]]]
    # A re-run does not count a rule's own run against the document.
    again = materialize(sample_company, warehouse_url)
    assert again.success, run_failures(again)
    assert len(query(warehouse_url, "SELECT run_id FROM allocation_runs WHERE source_document IS NOT NULL")) == 2


def test_a_rule_asking_for_more_than_is_left_fails_the_blocking_check(sample_company, reference_duckdb_url):
    duckdb_url = reference_duckdb_url
    from tests.test_pipeline import query

    too_much = {**DOCUMENT_RULES[1], "id": "travel_rest", "order": 7, "source": {"document": "EE-BILL000528", "accounts": ["61000"], "amount": "80.00"}}
    with_rules(sample_company, DOCUMENT_RULES + [too_much])
    result = materialize(sample_company, duckdb_url, selection=RUNS_ON_LOADED_GL)
    assert not result.success
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["runs_valid"]
    assert check.passed is False
    assert "Source amount 80.00 exceeds remaining unallocated balance of 50.00." in check.metadata["details"].value
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM allocation_runs")["n"].iloc[0] == 0


US_IT_BY_HEADCOUNT = {
    "id": "us_corporate_it", "type": "cost_allocation", "entity": "US", "order": 40,
    "source": {"accounts": ["64200"], "cost_centers": ["US-IT"]},
    "method": "driver", "parameters": {"driver": "headcount"},
    "target": {"dimension": "cost_center", "where": {"kind": "operating"}},
    "accounts": {"credit": "69100", "debit": "69000"},
    "approval": {"mode": "auto"},
}


@pytest.mark.parametrize("unless_flagged", [True, False])
def test_anomaly_flags_withhold_auto_approval_unless_the_policy_says_otherwise(sample_company, reference_duckdb_url, unless_flagged):
    """Headcount charges the planted over-consumers (US-BU7, US-BU8) less than they consume; the
    rule id names the insights pool whose consumption metric the run is checked against."""
    from tests.test_pipeline import query

    duckdb_url = reference_duckdb_url
    rule = {**US_IT_BY_HEADCOUNT, "approval": {"mode": "auto", "unless_flagged": unless_flagged}}
    with_rules(sample_company, [rule])
    result = materialize(sample_company, duckdb_url)
    assert result.success, run_failures(result)
    run = query(duckdb_url, "SELECT run_id, status FROM allocation_runs WHERE rule_id = 'us_corporate_it'")
    metadata = result.asset_materializations_for_node("allocation_runs")[0].metadata
    assert "us_corporate_it: [" in metadata["anomaly_flags"].value
    history = query(duckdb_url, "SELECT to_status, changed_by, reason FROM allocation_run_history WHERE run_id = :r ORDER BY seq", r=run["run_id"].iloc[0])
    if unless_flagged:
        assert run["status"].iloc[0] == "calculated"
        assert metadata["runs_held"].value == run["run_id"].iloc[0]
        held = history[history["reason"].str.startswith("auto-approval withheld")]
        assert held["changed_by"].tolist() == ["policy:auto"]
        assert "US-BU" in held["reason"].iloc[0]
    else:
        assert run["status"].iloc[0] == "posted"
        assert "approved" in history["to_status"].tolist()


def test_a_document_rule_runs_only_in_the_month_that_holds_the_document(sample_company, reference_duckdb_url):
    """Materializing another month neither re-allocates the document nor fails for lack of it."""
    from tests.test_pipeline import query

    duckdb_url = reference_duckdb_url
    with_rules(sample_company, [{**DOCUMENT_RULES[0], "approval": "auto"}])
    assert materialize(sample_company, duckdb_url, selection=RUNS_ON_LOADED_GL).success
    # September's GL lines are not in the warehouse yet: that month loads them.
    other = materialize(sample_company, duckdb_url, selection=dg.AssetSelection.assets("allocation_runs").upstream(), partition="2026-09-01")
    assert other.success, run_failures(other)
    notes = other.asset_materializations_for_node("allocation_runs")[0].metadata["notes"].value
    assert "source document EE-BILL000527 is not in the GL lines of 2026-09; no run" in notes
    runs = query(duckdb_url, "SELECT period FROM allocation_runs WHERE source_document = 'EE-BILL000527'")
    assert runs["period"].tolist() == ["2026-10"]


def test_two_rules_sharing_a_document_re_materialize_unchanged(sample_company, reference_duckdb_url):
    from tests.test_pipeline import ledger_state

    duckdb_url = reference_duckdb_url
    rest = {**DOCUMENT_RULES[1], "id": "travel_rest", "order": 7, "source": {"document": "EE-BILL000528", "accounts": ["61000"]}}
    with_rules(sample_company, DOCUMENT_RULES + [rest])
    first = materialize(sample_company, duckdb_url)
    assert first.success, run_failures(first)
    before = ledger_state(duckdb_url)
    again = materialize(sample_company, duckdb_url)
    assert again.success, run_failures(again)
    assert ledger_state(duckdb_url) == before
    assert "travel_rest" in again.asset_materializations_for_node("allocation_runs")[0].metadata["by_rule"].value


def test_effective_must_be_a_mapping():
    with pytest.raises(RulesError, match="effective: must be a mapping"):
        parse_rules({"rules": [{**rule(accounts=["60002"]), "effective": "2026-10"}]})
