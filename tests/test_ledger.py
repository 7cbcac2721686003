"""The ledger: seed 001's examples through the `allocation` CLI (the 10,000 split is in
test_pipeline.py), every lifecycle edge, document-linked validation messages, submission files,
voiding, the document chain and its views, concurrent writers and a crash mid-void, on DuckDB
and PostgreSQL; plus the Dagster jobs and the approved-runs sensor.

The warehouse is a copy of one prepared by materializing only the extract assets of the sample
company (master data and 2026-10 GL lines, tests/conftest.py); the rules asset is not run here.
"""

import itertools
import re
import threading

import pytest

import dagster as dg
from allocation_pipeline import cli
from allocation_pipeline.core.ledger.lifecycle import TRANSITIONS, LifecycleError, check_transition
from allocation_pipeline.defs.ledger.actions import approve_run_job, approved_runs_sensor, reject_run_job, void_run_job
from allocation_pipeline.defs.resources import WarehouseResource
from allocation_pipeline.warehouse import ledger_store
from allocation_pipeline.warehouse.engine import make_engine
from tests.conftest import query_frame

SLACK = """role,account,cost_center,debit,credit
source,60002,EE-ENG,0,120.00
target,60002,EE-ENG,60.00,0
target,60002,EE-PRD,36.00,0
target,60002,EE-SAL,24.00,0
"""


@pytest.fixture
def ledger(reference_warehouse_url, monkeypatch, tmp_path):
    """A warehouse holding the sample company's master data and 2026-10 GL lines; the CLI points at it."""
    warehouse_url = reference_warehouse_url
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", warehouse_url)
    return Ledger(warehouse_url, tmp_path)


class Ledger:
    def __init__(self, url, folder):
        self.url = url
        self.folder = folder

    def cli(self, capsys, *argv):
        status = cli.main(list(argv))
        out = capsys.readouterr()
        return status, out.out, out.err

    def file(self, name, text):
        path = self.folder / name
        path.write_text(text)
        return str(path)

    def query(self, sql, **params):
        return query_frame(self.url, sql, **params)

    def status(self, run_id):
        return self.query("SELECT status FROM allocation_runs WHERE run_id = :r", r=run_id)["status"].iloc[0]

    def count(self, table):
        return int(self.query(f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])  # fixed table names only

    def submit_approve_post(self, capsys, path, document=None):
        extra = ["--source-document", document] if document else []
        status, out, err = self.cli(capsys, "submit", path, *extra, "--by", "alice")
        assert status == 0, err
        run_id = out.split()[0]
        assert self.cli(capsys, "approve", run_id, "--by", "bob")[0] == 0
        status, out, err = self.cli(capsys, "post", run_id, "--by", "bob")
        assert status == 0, err
        return run_id, out.split()[-1]


def test_seed_example_2_the_slack_bill_across_engineering_product_and_sales(ledger, capsys):
    run_id, entry = ledger.submit_approve_post(capsys, ledger.file("slack.csv", SLACK), "EE-BILL000527")
    assert (run_id, entry) == ("ALLOC-0001", "EE-CAL000001")
    lines = ledger.query(
        "SELECT account, cost_center, CAST(debit * 100 AS BIGINT) AS d, CAST(credit * 100 AS BIGINT) AS c FROM journal_lines WHERE entry_id = :e ORDER BY line_no",
        e=entry,
    )
    assert lines.values.tolist() == [["60002", "EE-ENG", 0, 12000], ["60002", "EE-ENG", 6000, 0], ["60002", "EE-PRD", 3600, 0], ["60002", "EE-SAL", 2400, 0]]
    header = ledger.query("SELECT transaction_type, run_id FROM journal_entries WHERE entry_id = :e", e=entry)
    assert header.values.tolist() == [["COST_ALLOCATION", "ALLOC-0001"]]
    status, out, _ = ledger.cli(capsys, "chain", "EE-BILL000527")
    assert out.splitlines() == [
        "  EE-BILL000527 (source document) -> allocated by -> ALLOC-0001 (allocation run)",
        "  ALLOC-0001 (allocation run) -> posted as -> EE-CAL000001 (journal entry)",
    ]
    # The same chain from the other end.
    assert ledger.cli(capsys, "chain", "EE-CAL000001")[1] == out
    # The bill is now fully allocated: a second run is refused with the seed's message.
    status, _, err = ledger.cli(capsys, "submit", ledger.file("again.csv", SLACK), "--source-document", "EE-BILL000527")
    assert status == 1
    assert "Account 60002 is already fully allocated (120.00 of 120.00) by ALLOC-0001. Void existing allocations first." in err
    assert ledger.count("allocation_runs") == 1


def test_seed_example_3_partial_allocation_per_account_line(ledger, capsys):
    office = "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,120.00\ntarget,60002,EE-PRD,120.00,0\n"
    travel_part = "role,account,cost_center,debit,credit\nsource,61000,EE-SAL,0,300.00\ntarget,61000,EE-ENG,300.00,0\n"
    too_much = "role,account,cost_center,debit,credit\nsource,61000,EE-SAL,0,80.00\ntarget,61000,EE-ENG,80.00,0\n"
    rest = "role,account,cost_center,debit,credit\nsource,61000,EE-SAL,0,50.00\ntarget,61000,EE-ENG,50.00,0\n"
    ledger.submit_approve_post(capsys, ledger.file("office.csv", office), "EE-BILL000528")
    ledger.submit_approve_post(capsys, ledger.file("travel.csv", travel_part), "EE-BILL000528")
    status, _, err = ledger.cli(capsys, "submit", ledger.file("much.csv", too_much), "--source-document", "EE-BILL000528")
    assert status == 1 and "Source amount 80.00 exceeds remaining unallocated balance of 50.00." in err
    run_id, _ = ledger.submit_approve_post(capsys, ledger.file("rest.csv", rest), "EE-BILL000528")
    assert run_id == "ALLOC-0003"
    status, _, err = ledger.cli(capsys, "submit", ledger.file("more.csv", rest), "--source-document", "EE-BILL000528")
    assert "Account 61000 is already fully allocated (350.00 of 350.00) by ALLOC-0002, ALLOC-0003. Void existing allocations first." in err


def test_seed_example_4_voiding_reverses_and_frees_the_balance(ledger, capsys):
    run_id, entry = ledger.submit_approve_post(capsys, ledger.file("slack.csv", SLACK), "EE-BILL000527")
    status, out, err = ledger.cli(capsys, "void", run_id, "--by", "carol", "--reason", "wrong percentages")
    assert status == 0, err
    assert out.strip() == "ALLOC-0001 voided; reversing entry EE-CAL000002; its source amounts are free to allocate again"
    original = ledger.query("SELECT line_no, account, cost_center, debit, credit FROM journal_lines WHERE entry_id = 'EE-CAL000001' ORDER BY line_no")
    reversal = ledger.query("SELECT line_no, account, cost_center, debit, credit FROM journal_lines WHERE entry_id = 'EE-CAL000002' ORDER BY line_no")
    assert reversal[["debit", "credit"]].values.tolist() == original[["credit", "debit"]].values.tolist()
    assert reversal[["account", "cost_center"]].values.tolist() == original[["account", "cost_center"]].values.tolist()
    assert ledger.query("SELECT reverses_entry_id FROM journal_entries WHERE entry_id = 'EE-CAL000002'")["reverses_entry_id"].tolist() == ["EE-CAL000001"]
    history = ledger.query("SELECT to_status, reversed FROM allocation_run_history WHERE run_id = :r ORDER BY seq", r=run_id)
    assert history.values.tolist() == [["draft", False], ["calculated", False], ["approved", False], ["posted", True], ["voided", False]]
    run = ledger.query("SELECT status, journal_entry_id, reversal_entry_id FROM allocation_runs WHERE run_id = :r", r=run_id)
    assert run.values.tolist() == [["voided", "EE-CAL000001", "EE-CAL000002"]]
    # The balance is free again: a new run with other percentages goes through.
    new_split = SLACK.replace("60.00", "40.00").replace("36.00", "56.00")
    new_run, _ = ledger.submit_approve_post(capsys, ledger.file("fixed.csv", new_split), "EE-BILL000527")
    assert new_run == "ALLOC-0002"
    status, out, _ = ledger.cli(capsys, "chain", "EE-BILL000527")
    assert "  EE-CAL000001 (journal entry) -> reversed by -> EE-CAL000002 (journal entry)" in out.splitlines()
    assert "  EE-BILL000527 (source document) -> allocated by -> ALLOC-0002 (allocation run)" in out.splitlines()
    # Views: the chain both ways, and one row per run.
    both_ways = ledger.query("SELECT document, related_document, relation, direction FROM v_document_chain WHERE document = 'EE-CAL000001' ORDER BY relation, direction")
    assert both_ways.values.tolist() == [
        ["EE-CAL000001", "ALLOC-0001", "posted_as", "upstream"],
        ["EE-CAL000001", "EE-CAL000002", "reversed_by", "downstream"],
    ]
    chain = ledger.query("SELECT source_document, run_id, status, journal_entry_id, reversal_entry_id FROM v_allocation_chain ORDER BY run_id")
    assert chain.fillna("").values.tolist() == [
        ["EE-BILL000527", "ALLOC-0001", "voided", "EE-CAL000001", "EE-CAL000002"],
        ["EE-BILL000527", "ALLOC-0002", "posted", "EE-CAL000003", ""],
    ]
    posted = ledger.query("SELECT entry_id, account_name, cost_center_kind, net_amount FROM v_posted_journal_lines WHERE entry_id = 'EE-CAL000003' ORDER BY line_no")
    assert posted["account_name"].notna().all() and sum(posted["net_amount"]) == 0


def test_document_validation_messages(ledger, capsys):
    wrong_account = "role,account,cost_center,debit,credit\nsource,61000,EE-ENG,0,10.00\ntarget,60002,EE-PRD,10.00,0\n"
    status, _, err = ledger.cli(capsys, "submit", ledger.file("w.csv", wrong_account), "--source-document", "EE-BILL000527")
    assert status == 1
    assert "Source line accounts do not appear in the source transaction's GL lines. Available accounts: 2000, 60002" in err
    status, _, err = ledger.cli(capsys, "submit", ledger.file("u.csv", SLACK), "--source-document", "EE-BILL999999", "--entity", "EE", "--period", "2026-10")
    assert status == 1 and "Source document EE-BILL999999 has no GL lines in the warehouse." in err
    assert ledger.count("allocation_runs") == 0 and ledger.count("document_links") == 0


def test_every_problem_of_a_submission_is_reported_and_nothing_is_written(ledger, capsys):
    bad = "role,account,cost_center,debit,credit\nsource,99999,EE-ENG,0,10.00\ntarget,60002,EE-PRD,10.02,0\ntarget,60002,EE-SAL,0,0\n"
    status, _, err = ledger.cli(capsys, "submit", ledger.file("bad.csv", bad), "--entity", "EE", "--period", "2026-10")
    assert status == 1
    assert "Submission refused; nothing was written. 3 problem(s):" in err
    assert "Total debits (10.02) must equal total credits (10.00); difference 0.02 exceeds the tolerance of 0.01." in err
    assert "Account 99999 does not exist." in err
    assert "Line 3: amounts must be greater than zero on one side (debit 0.00, credit 0.00)." in err
    assert ledger.count("allocation_runs") == 0 and ledger.count("allocation_lines") == 0


def test_a_one_cent_difference_is_absorbed_so_the_entry_balances(ledger, capsys):
    within = "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,10.00\ntarget,60002,EE-PRD,5.01,0\ntarget,60002,EE-SAL,5.00,0\n"
    status, out, err = ledger.cli(capsys, "submit", ledger.file("c.csv", within), "--entity", "EE", "--period", "2026-10")
    assert status == 0, err
    assert "note: rounding difference of 0.01 settled on line 2" in out
    lines = ledger.query("SELECT line_no, CAST(debit * 100 AS BIGINT) AS d, CAST(credit * 100 AS BIGINT) AS c FROM allocation_lines ORDER BY line_no")
    assert lines.values.tolist() == [[1, 0, 1000], [2, 500, 0], [3, 500, 0]]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("a.csv", "role,account,debit,credit\n", "a.csv: missing column(s) cost_center"),
        ("b.csv", "role,account,cost_center,debit,credit\nsideways,60002,EE-ENG,1.00,0\n", "b.csv row 1: role 'sideways' is not source or target"),
        ("c.csv", "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,1.005\n", "c.csv row 1: credit '1.005' has more than two decimal places"),
        ("d.json", '{"lines": [{"role": "source", "account": "60002", "cost_center": "EE-ENG", "debit": "x", "credit": 0}]}', "d.json line 1: debit 'x' is not an amount"),
        ("e.json", "{not json", "e.json: not valid JSON"),
        ("f.txt", "x", "f.txt: expected a .csv or .json file"),
    ],
)
def test_unreadable_submission_files_name_file_and_row(ledger, capsys, name, text, problem):
    status, _, err = ledger.cli(capsys, "submit", ledger.file(name, text), "--entity", "EE", "--period", "2026-10")
    assert status == 2
    assert problem in err


def test_a_json_submission_carries_its_run_fields(ledger, capsys):
    document = (
        '{"entity": "EE", "period": "2026-10", "type": "revenue_allocation", "description": "plugin run",'
        ' "lines": [{"role": "source", "account": "60002", "cost_center": "EE-ENG", "debit": 0, "credit": "100.00"},'
        ' {"role": "target", "account": "60002", "cost_center": "EE-PRD", "debit": 100, "credit": 0, "driver": "seats", "driver_value": 3, "share": 1}]}'
    )
    run_id, entry = ledger.submit_approve_post(capsys, ledger.file("run.json", document))
    assert ledger.query("SELECT transaction_type FROM journal_entries WHERE entry_id = :e", e=entry)["transaction_type"].tolist() == ["REVENUE_ALLOCATION"]
    line = ledger.query("SELECT driver, driver_value, share FROM allocation_lines WHERE run_id = :r AND role = 'target'", r=run_id)
    assert line.values.tolist() == [["seats", 3.0, 1.0]]


ALL_PAIRS = list(itertools.product(TRANSITIONS, repeat=2))


@pytest.mark.parametrize(("current", "new"), ALL_PAIRS)
def test_every_lifecycle_edge(current, new):
    legal = {("draft", "calculated"), ("calculated", "approved"), ("calculated", "rejected"), ("approved", "posted"), ("posted", "voided")}
    if (current, new) in legal:
        check_transition("ALLOC-0007", current, new)
    else:
        with pytest.raises(LifecycleError, match=f"ALLOC-0007: cannot go from {current} to {new}"):
            check_transition("ALLOC-0007", current, new)


def test_illegal_moves_in_the_warehouse_name_the_run_and_both_states(ledger, capsys):
    status, out, _ = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", "EE-BILL000527")
    run_id = out.split()[0]
    status, _, err = ledger.cli(capsys, "post", run_id)
    assert status == 2 and f"{run_id}: cannot go from calculated to posted" in err
    status, _, err = ledger.cli(capsys, "void", run_id, "--reason", "x")
    assert status == 2 and f"{run_id}: cannot go from calculated to voided" in err
    assert ledger.cli(capsys, "reject", run_id, "--by", "bob", "--reason", "numbers look wrong")[0] == 0
    status, _, err = ledger.cli(capsys, "approve", run_id)
    assert status == 2 and f"{run_id}: cannot go from rejected to approved (allowed from rejected: none (final state))" in err
    status, _, err = ledger.cli(capsys, "approve", "ALLOC-9999")
    assert status == 2 and "no allocation run ALLOC-9999" in err
    # A rejected run no longer holds the document's balance.
    assert ledger.cli(capsys, "submit", ledger.file("t.csv", SLACK), "--source-document", "EE-BILL000527")[0] == 0
    status, out, _ = ledger.cli(capsys, "runs", "--status", "rejected")
    assert run_id in out and "ALLOC-0002" not in out
    status, out, _ = ledger.cli(capsys, "show", run_id)
    assert re.search(r"calculated\s+rejected\s+\S+ \S+\s+bob\s+numbers look wrong", out), out


def _race(url, action):
    """Run `action(conn)` in two threads on two connections at once; return their outcomes."""
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def work(slot):
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                barrier.wait(timeout=30)
                outcomes[slot] = ("ok", action(conn))
        except Exception as exc:  # the loser may see a lifecycle error or a serialization conflict
            outcomes[slot] = ("error", exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_writers_posting_the_same_run_make_exactly_one_entry(ledger, capsys):
    status, out, _ = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", "EE-BILL000527", "--by", "alice")
    run_id = out.split()[0]
    assert ledger.cli(capsys, "approve", run_id)[0] == 0
    outcomes = _race(ledger.url, lambda conn: ledger_store.post_run(conn, run_id, "racer"))
    assert sorted(o[0] for o in outcomes) == ["error", "ok"], outcomes
    assert ledger.count("journal_entries") == 1
    assert ledger.count("journal_lines") == 4
    assert ledger.query("SELECT COUNT(*) AS n FROM allocation_run_history WHERE to_status = 'posted'")["n"].iloc[0] == 1
    assert ledger.status(run_id) == "posted"


def test_two_writers_approving_the_same_run_approve_it_once(ledger, capsys):
    status, out, _ = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", "EE-BILL000527")
    run_id = out.split()[0]
    outcomes = _race(ledger.url, lambda conn: ledger_store.approve_run(conn, run_id, "racer"))
    assert sorted(o[0] for o in outcomes) == ["error", "ok"], outcomes
    assert ledger.query("SELECT COUNT(*) AS n FROM allocation_run_history WHERE to_status = 'approved'")["n"].iloc[0] == 1


def test_concurrent_submissions_get_distinct_run_ids(ledger):
    from allocation_pipeline.core.allocation.allocate import RunDraft
    from allocation_pipeline.core.ledger.submission import read_submission

    lines = read_submission(ledger.file("s.csv", SLACK)).lines
    accounts = ledger.query("SELECT account, active FROM dim_accounts")

    def submit(conn):
        draft = RunDraft("", "EE", "2026-10", "cost_allocation", "submitted", "EUR", 12000, lines)
        return ledger_store.submit_run(conn, draft, accounts, "racer", "s.csv").run_id

    outcomes = _race(ledger.url, submit)
    ok = [o[1] for o in outcomes if o[0] == "ok"]
    assert len(set(ok)) == len(ok) >= 1
    assert sorted(ledger.query("SELECT run_id FROM allocation_runs")["run_id"]) == sorted(ok)


def test_a_crash_while_voiding_leaves_the_ledger_as_it_was(ledger, capsys, monkeypatch):
    run_id, _ = ledger.submit_approve_post(capsys, ledger.file("s.csv", SLACK), "EE-BILL000527")
    before = {t: ledger.count(t) for t in ("journal_entries", "journal_lines", "document_links", "allocation_run_history")}

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the reversing entry")

    monkeypatch.setattr(ledger_store, "link", crash)
    with pytest.raises(RuntimeError):
        engine = make_engine(ledger.url)
        try:
            with engine.begin() as conn:
                ledger_store.void_run(conn, run_id, "carol", "test")
        finally:
            engine.dispose()
    assert {t: ledger.count(t) for t in before} == before
    assert ledger.status(run_id) == "posted"


def test_voiding_into_a_closed_period_is_refused(ledger, capsys):
    run_id, _ = ledger.submit_approve_post(capsys, ledger.file("s.csv", SLACK), "EE-BILL000527")
    status, _, err = ledger.cli(capsys, "void", run_id, "--reason", "late", "--period", "2026-08")
    assert status == 2
    assert f"{run_id}: fiscal period 2026-08 of entity EE is closed; give an open period for the reversing entry (--period YYYY-MM); nothing voided" in err
    assert ledger.status(run_id) == "posted"


def test_dagster_jobs_approve_reject_and_void_with_run_config(ledger, capsys):
    resources = {"warehouse": WarehouseResource(url=ledger.url)}
    first = ledger.cli(capsys, "submit", ledger.file("a.csv", SLACK.replace("120.00", "60.00").replace("60.00,0", "30.00,0").replace("36.00", "18.00").replace("24.00", "12.00")), "--source-document", "EE-BILL000527", "--by", "alice")[1].split()[0]
    second = ledger.cli(capsys, "submit", ledger.file("b.csv", SLACK.replace("120.00", "60.00").replace("60.00,0", "30.00,0").replace("36.00", "18.00").replace("24.00", "12.00")), "--source-document", "EE-BILL000527", "--by", "alice")[1].split()[0]
    approved = approve_run_job.execute_in_process(run_config={"ops": {"approve_allocation_run": {"config": {"run_id": first, "by": "ui-user"}}}}, resources=resources)
    assert approved.success and ledger.status(first) == "approved"
    rejected = reject_run_job.execute_in_process(
        run_config={"ops": {"reject_allocation_run": {"config": {"run_id": second, "by": "ui-user", "reason": "duplicate"}}}}, resources=resources
    )
    assert rejected.success and ledger.status(second) == "rejected"
    refused = reject_run_job.execute_in_process(
        run_config={"ops": {"reject_allocation_run": {"config": {"run_id": second, "by": "ui-user", "reason": "again"}}}}, resources=resources, raise_on_error=False
    )
    assert not refused.success
    assert ledger.cli(capsys, "post", first)[0] == 0
    voided = void_run_job.execute_in_process(
        run_config={"ops": {"void_allocation_run": {"config": {"run_id": first, "by": "ui-user", "reason": "test"}}}}, resources=resources
    )
    assert voided.success and ledger.status(first) == "voided"


def test_the_sensor_requests_posting_for_months_with_approved_runs(ledger, capsys):
    resources = {"warehouse": WarehouseResource(url=ledger.url)}
    with dg.build_sensor_context(resources=resources) as context:
        assert list(approved_runs_sensor(context)) == []
    run_id = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", "EE-BILL000527", "--by", "alice")[1].split()[0]
    ledger.cli(capsys, "approve", run_id)
    with dg.build_sensor_context(resources=resources) as context:
        (request,) = list(approved_runs_sensor(context))
    assert request.partition_key == "2026-10-01"
    assert request.run_key == f"2026-10:{run_id}:{run_id}:1"


def test_the_rounding_cent_never_lands_on_a_source_line(ledger, capsys):
    full = "role,account,cost_center,debit,credit\nsource,61000,EE-SAL,0,350.00\ntarget,61000,EE-ENG,175.01,0\ntarget,61000,EE-PRD,175.00,0\n"
    status, out, err = ledger.cli(capsys, "submit", ledger.file("r.csv", full), "--source-document", "EE-BILL000528")
    assert status == 0, err
    assert "settled on line 2" in out
    lines = ledger.query("SELECT line_no, CAST(debit * 100 AS BIGINT) AS d, CAST(credit * 100 AS BIGINT) AS c FROM allocation_lines ORDER BY line_no")
    assert lines.values.tolist() == [[1, 0, 35000], [2, 17500, 0], [3, 17500, 0]]


@pytest.mark.parametrize(
    ("argv", "document", "message"),
    [
        (["--entity", "US"], "EE-BILL000527", "Source document EE-BILL000527 belongs to entity EE, not US."),
        (["--type", "cost_allocation", "--period", "2099-99"], "EE-BILL000527", "Period '2099-99' is not a fiscal month YYYY-MM."),
    ],
)
def test_run_fields_of_a_submission_are_checked(ledger, capsys, argv, document, message):
    status, _, err = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", document, *argv)
    assert status == 1 and message in err
    assert ledger.count("allocation_runs") == 0


def test_an_unknown_run_type_in_a_json_submission_is_refused(ledger, capsys):
    document = '{"entity": "EE", "period": "2026-10", "type": "bogus", "lines": [{"role": "source", "account": "60002", "cost_center": "EE-ENG", "debit": 0, "credit": 1}, {"role": "target", "account": "60002", "cost_center": "EE-PRD", "debit": 1, "credit": 0}]}'
    status, _, err = ledger.cli(capsys, "submit", ledger.file("t.json", document))
    assert status == 1 and "Run type 'bogus' is not one of cost_allocation, revenue_allocation, intercompany_charge." in err


def test_four_eyes_whoever_submitted_a_run_cannot_approve_or_post_it(ledger, capsys):
    run_id = ledger.cli(capsys, "submit", ledger.file("s.csv", SLACK), "--source-document", "EE-BILL000527", "--by", "alice")[1].split()[0]
    status, _, err = ledger.cli(capsys, "approve", run_id, "--by", "Alice")
    assert status == 2 and f"{run_id}: Alice prepared this run and cannot approve it too (four-eyes rule)" in err
    assert ledger.status(run_id) == "calculated"
    status, _, err = ledger.cli(capsys, "approve", run_id, "--by", "policy:auto")
    assert status == 2 and "reserved for the pipeline" in err
    assert ledger.cli(capsys, "approve", run_id, "--by", "bob")[0] == 0
    status, _, err = ledger.cli(capsys, "post", run_id, "--by", "alice")
    assert status == 2 and f"{run_id}: alice prepared this run and cannot post it too (four-eyes rule)" in err
    assert ledger.status(run_id) == "approved" and ledger.count("journal_entries") == 0
    assert ledger.cli(capsys, "post", run_id, "--by", "bob")[0] == 0
    history = ledger.query("SELECT to_status, changed_by FROM allocation_run_history WHERE run_id = :r ORDER BY seq", r=run_id)
    assert history.values.tolist() == [["draft", "alice"], ["calculated", "alice"], ["approved", "bob"], ["posted", "bob"]]


def test_run_ids_are_read_in_any_case_and_a_misspelled_one_gets_a_suggestion(ledger, capsys):
    run_id, entry = ledger.submit_approve_post(capsys, ledger.file("slack.csv", SLACK), "EE-BILL000527")
    status, out, err = ledger.cli(capsys, "show", run_id.lower())
    assert status == 0, err
    assert out.startswith(f"{run_id}  POSTED")
    status, out, err = ledger.cli(capsys, "chain", entry.lower())
    assert status == 0 and f"{run_id} (allocation run) -> posted as -> {entry} (journal entry)" in out
    status, _, err = ledger.cli(capsys, "void", "alloc-0001", "--by", "bob", "--reason", "wrong split")
    assert status == 0, err
    assert ledger.status(run_id) == "voided"
    status, out, err = ledger.cli(capsys, "show", "ALLOC-001")
    assert status == 2 and out == ""
    assert err.strip() == "allocation show: no allocation run ALLOC-001 (did you mean ALLOC-0001?)"
    assert "Traceback" not in err


def test_the_chain_of_a_document_that_does_not_exist_fails(ledger, capsys):
    status, out, err = ledger.cli(capsys, "chain", "NOPE-123")
    assert status == 2 and out == ""
    assert "document NOPE-123 does not exist in the warehouse" in err
    # A GL document nothing has allocated yet exists: its chain is empty, and that is said.
    status, out, err = ledger.cli(capsys, "chain", "ee-bill000527")
    assert status == 0, err
    assert out.strip() == "EE-BILL000527: no linked documents"


def test_the_rounding_cent_lands_on_the_largest_target_line_whichever_side_is_lighter(ledger, capsys):
    # Debits short by 0.01 (the target side is lighter) and debits over by 0.01 (the source side is
    # lighter): either way the source line keeps the amount taken from the pool and the largest
    # target line absorbs the cent, so the entry balances.
    cases = {
        "short.csv": ("role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,10.00\ntarget,60002,EE-PRD,4.00,0\ntarget,60002,EE-SAL,5.99,0\n", [[1, 0, 1000], [2, 400, 0], [3, 600, 0]]),
        "over.csv": ("role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,10.00\ntarget,60002,EE-PRD,4.00,0\ntarget,60002,EE-SAL,6.01,0\n", [[1, 0, 1000], [2, 400, 0], [3, 600, 0]]),
    }
    for name, (text, expected) in cases.items():
        status, out, err = ledger.cli(capsys, "submit", ledger.file(name, text), "--entity", "EE", "--period", "2026-10")
        assert status == 0, err
        assert "note: rounding difference of 0.01 settled on line 3" in out
        run_id = out.split()[0]
        lines = ledger.query(
            "SELECT line_no, CAST(debit * 100 AS BIGINT) AS d, CAST(credit * 100 AS BIGINT) AS c FROM allocation_lines WHERE run_id = :r ORDER BY line_no", r=run_id
        )
        assert lines.values.tolist() == expected, name

