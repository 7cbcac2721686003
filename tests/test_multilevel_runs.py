"""The pure core of multi-level runs, on literal frames: the rules file's `multilevel:` section
(parsing, and errors naming the entry and field), own costs after other runs, matrix checks that
name the file row, the balanced run a solve becomes (exact cents, explanations, a fingerprint
stable across identical re-runs), the origin table, and closed cycles refused by name.

Does not touch Dagster or a warehouse (tests/test_multilevel_pipeline.py does), nor the solver's
own arithmetic (tests/test_multilevel.py).
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocation_pipeline.core.allocation.allocate import gl_balances
from allocation_pipeline.core.multilevel.config import MultilevelConfigError, parse_multilevel
from allocation_pipeline.core.multilevel.runs import (
    MultilevelRunError,
    allocate_multilevel,
    balances_after_runs,
    origin_table,
)
from allocation_pipeline.core.ledger.validation import RunToValidate, validate_run

PERIOD = "2026-10"
ENTRY = {
    "id": "ee_services",
    "entity": "EE",
    "method": "reciprocal",
    "source": {"accounts": ["50000-69500"]},
    "accounts": {"credit": "69600", "debit": "69000"},
    "approval": {"mode": "auto", "max_amount": "1000000.00"},
}
ENTITIES = pd.DataFrame({"entity": ["EE", "US"], "currency": ["EUR", "USD"]})
COST_CENTERS = pd.DataFrame(
    {
        "cost_center": ["EE-IT", "EE-HR", "EE-MGT", "EE-ENG", "EE-SAL", "EE-OLD", "US-BU1"],
        "entity": ["EE", "EE", "EE", "EE", "EE", "EE", "US"],
        "active": [True, True, True, True, True, False, True],
    }
)
ACCOUNTS = pd.DataFrame({"account": ["50000", "62000", "69000", "69600"], "active": [True, True, True, True]})


def config(*entries, rules=()):
    return parse_multilevel({"rules": list(rules), "multilevel": list(entries)}, "rules.yaml")


def gl(rows):
    """GL lines (entity, account, cost_center, debit_cents) as the cleaned extract has them."""
    frame = pd.DataFrame(rows, columns=["entity", "account", "cost_center", "debit_cents"])
    frame["credit_cents"] = 0
    frame["product"] = None
    frame["region"] = None
    frame["currency"] = frame["entity"].map({"EE": "EUR", "US": "USD"})
    return frame


def matrix(rows):
    frame = pd.DataFrame(rows, columns=["source", "target", "percent"])
    frame.insert(0, "entity", "EE")
    frame.insert(0, "period", PERIOD)
    frame["source_file"] = "allocation_matrix.csv"
    frame["row_number"] = range(1, len(frame) + 1)
    return frame


BALANCES = gl_balances(
    gl([("EE", "50000", "EE-IT", 100_000), ("EE", "50000", "EE-HR", 50_000), ("EE", "62000", "EE-MGT", 30_000), ("EE", "50000", "EE-ENG", 999_999)])
)
MATRIX = matrix(
    [
        ("EE-IT", "EE-HR", 20), ("EE-IT", "EE-ENG", 50), ("EE-IT", "EE-SAL", 30),
        ("EE-HR", "EE-IT", 10), ("EE-HR", "EE-ENG", 90),
        ("EE-MGT", "EE-MGT", 10), ("EE-MGT", "EE-SAL", 90),
    ]
)


def allocate(entry=ENTRY, balances=BALANCES, frame=MATRIX, **kwargs):
    return allocate_multilevel(PERIOD, list(config(entry).specs), balances, frame, COST_CENTERS, ENTITIES, **kwargs)


# --- configuration ---------------------------------------------------------------------------


def test_a_file_without_the_section_has_no_multilevel_allocations():
    assert parse_multilevel({"rules": []}).specs == ()


def test_an_entry_is_parsed_with_the_solver_method_and_policy():
    (spec,) = config({**ENTRY, "method": "step_down", "order": ["EE-HR", "EE-IT"], "effective": {"from": "2026-01"}}).specs
    assert (spec.id, spec.entity, spec.method, spec.method_name, spec.order) == ("ee_services", "EE", "step-down", "step_down", ("EE-HR", "EE-IT"))
    assert (spec.credit_account, spec.debit_account) == ("69600", "69000")
    assert spec.approval.auto_approves(100_000_000) and not spec.approval.auto_approves(100_000_001)
    assert [(r.low, r.high) for r in spec.source.accounts] == [("50000", "69500")]
    assert spec.effective_in("2026-10") and not spec.effective_in("2025-12")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "iterative"}, "multilevel 'ee_services': method: 'iterative' is not one of reciprocal, step_down, direct"),
        ({"order": ["EE-IT"]}, "multilevel 'ee_services': order: applies only to method step_down"),
        ({"source": {"accounts": ["69999-50000"]}}, "multilevel 'ee_services': source.accounts: '69999-50000' is not an account or an ascending range"),
        ({"accounts": {"debit": "69000"}}, "multilevel 'ee_services': accounts.credit: required account is missing"),
        ({"entity": ""}, "multilevel 'ee_services': entity: required text is missing"),
        ({"approval": {"mode": "sometimes"}}, "multilevel 'ee_services': approval.mode: 'sometimes' is not one of auto, manual"),
        ({"condition_limit": "big"}, "multilevel 'ee_services': condition_limit: 'big' is not a number above 1"),
        ({"colour": "red"}, "multilevel 'ee_services': unknown field(s) colour"),
        ({"id": None}, "multilevel #1: id: required text is missing"),
    ],
)
def test_configuration_errors_name_the_entry_and_the_field(change, message):
    with pytest.raises(MultilevelConfigError) as error:
        config({**ENTRY, **change})
    assert str(error.value).startswith("rules.yaml: ")
    assert message in str(error.value)


def test_two_allocations_of_one_entity_in_the_same_months_are_refused():
    second = {**ENTRY, "id": "ee_again", "effective": {"from": "2026-06"}}
    with pytest.raises(MultilevelConfigError, match="'ee_again': entity: EE already has multi-level allocation 'ee_services'"):
        config(ENTRY, second)
    first = {**ENTRY, "effective": {"to": "2026-05"}}
    assert [s.id for s in config(first, second).for_period("2026-10")] == ["ee_again"]


def test_an_id_shared_with_a_rule_is_refused():
    with pytest.raises(MultilevelConfigError, match="'ee_services': id: a rule has this id too"):
        config(ENTRY, rules=[{"id": "ee_services"}])


# --- own costs, runs and origins -------------------------------------------------------------


def test_own_cost_is_the_balance_after_the_other_runs():
    rule_lines = pd.DataFrame(
        {
            "entity": ["EE", "EE"], "currency": ["EUR", "EUR"], "account": ["69100", "69000"], "cost_center": ["EE-IT", "EE-ENG"],
            "product": [None, None], "region": [None, None], "debit_cents": [0, 40_000], "credit_cents": [40_000, 0],
        }
    )
    after = balances_after_runs(BALANCES, rule_lines)
    outcome = allocate(balances=after)
    (solved,) = outcome.solves
    # Operating centers are not sources: their own cost (EE-ENG's 9,999.99) stays out of the solve.
    assert solved.result.own_cents.to_dict() == {"EE-HR": 50_000, "EE-IT": 60_000, "EE-MGT": 30_000, "EE-ENG": 0, "EE-SAL": 0}


def test_a_solve_becomes_a_balanced_run_with_credits_and_debits():
    (solved,) = allocate().solves
    draft = solved.draft
    lines = draft.lines
    assert draft.total_debit_cents == draft.total_credit_cents
    assert validate_run(RunToValidate("ml", lines, ACCOUNTS)) == []
    sources = lines[lines["role"] == "source"].set_index("cost_center")
    targets = lines[lines["role"] == "target"].set_index("cost_center")
    assert set(sources["account"]) == {"69600"} and set(targets["account"]) == {"69000"}
    # IT and HR pass on everything; management keeps 10% of its 300.00.
    assert sources["credit_cents"].to_dict() == {"EE-HR": 50_000, "EE-IT": 100_000, "EE-MGT": 27_000}
    assert targets["debit_cents"].sum() == 177_000
    final = solved.result.final_cents
    own = solved.result.own_cents
    for center, row in targets.iterrows():
        assert row["debit_cents"] == final[center] - own[center]
    assert targets["share"].sum() == pytest.approx(1.0)
    assert "from EE-IT" in targets.loc["EE-ENG", "explanation"] and "from EE-HR" in targets.loc["EE-ENG", "explanation"]
    assert "keeps 30.00 (10.00% of its total 300.00)" in sources.loc["EE-MGT", "explanation"]
    assert (draft.rule_id, draft.method, draft.pool_cents, draft.currency) == ("ee_services", "multilevel_reciprocal", 180_000, "EUR")


def test_the_fingerprint_is_stable_across_identical_reruns_and_moves_with_the_matrix():
    first = allocate().drafts[0]
    again = allocate(frame=MATRIX.sample(frac=1.0, random_state=3)).drafts[0]
    assert first.fingerprint == again.fingerprint
    changed = MATRIX.copy()
    changed.loc[(changed["source"] == "EE-MGT") & (changed["target"] == "EE-MGT"), "percent"] = 20
    changed.loc[(changed["source"] == "EE-MGT") & (changed["target"] == "EE-SAL"), "percent"] = 80
    assert allocate(frame=changed).drafts[0].fingerprint != first.fingerprint


def test_the_origin_table_splits_each_final_by_where_it_started():
    outcome = allocate()
    table = origin_table(PERIOD, outcome.solves, {"ee_services@EE": "ALLOC-0042"})
    assert set(table["run_id"]) == {"ALLOC-0042"} and set(table["period"]) == {PERIOD}
    finals = outcome.solves[0].result.final_cents
    sums = table.groupby("cost_center")["amount_cents"].sum()
    assert sums.to_dict() == {c: v for c, v in finals.items() if v}
    # Every origin's cost is accounted for, to the cent of rounding per holder.
    by_origin = table.groupby("origin")["amount_cents"].sum()
    own = outcome.solves[0].result.own_cents
    assert all(abs(by_origin[o] - own[o]) <= len(table) for o in own[own != 0].index)


def test_an_entity_without_matrix_rows_makes_no_run():
    outcome = allocate(frame=MATRIX.iloc[0:0])
    assert outcome.drafts == []
    assert outcome.notes == ["multilevel ee_services (EE, 2026-10): the allocation matrix has no rows for EE; no run"]


def test_a_closed_cycle_is_refused_naming_its_cost_centers():
    closed = matrix([("EE-IT", "EE-HR", 100), ("EE-HR", "EE-IT", 100), ("EE-MGT", "EE-SAL", 100)])
    with pytest.raises(MultilevelRunError) as error:
        allocate(frame=closed)
    assert "multilevel ee_services (EE, 2026-10): closed cycle: 'EE-HR', 'EE-IT' pass all of their cost among themselves" in str(error.value)
    assert str(error.value).endswith("nothing stored")
    assert error.value.cycles == (("EE-HR", "EE-IT"),)


def test_matrix_problems_name_the_file_row():
    bad = matrix(
        [
            ("EE-IT", "US-BU1", 50), ("EE-IT", "EE-OLD", 10), ("EE-HR", "EE-ENG", 70), ("EE-HR", "EE-SAL", 40),
        ]
    )
    with pytest.raises(MultilevelRunError) as error:
        allocate(frame=bad)
    message = str(error.value)
    assert "allocation_matrix.csv row 1: target US-BU1 belongs to entity US, not EE" in message
    assert "allocation_matrix.csv row 2: target EE-OLD is inactive" in message
    assert "source EE-HR sends 110 percent, more than 100 (allocation_matrix.csv rows 3, 4)" in message


def test_a_matrix_with_quarantined_rows_is_refused():
    quarantine = pd.DataFrame({"source_file": ["allocation_matrix.csv"], "row_number": [7], "reason": ["unknown cost center 'EE-NOPE'"]})
    with pytest.raises(MultilevelRunError, match=r"quarantined rows \(allocation_matrix.csv row 7: unknown cost center 'EE-NOPE'\)"):
        allocate(matrix_quarantine=quarantine)


def test_an_ill_conditioned_cycle_is_reported_with_its_condition_estimate():
    nearly_closed = matrix([("EE-IT", "EE-HR", 100), ("EE-HR", "EE-IT", 99.9999), ("EE-HR", "EE-ENG", 0.0001)])
    (solved,) = allocate(frame=nearly_closed).solves
    (cycle,) = solved.ill_conditioned.itertuples(index=False)
    assert cycle.size == 2 and cycle.members == "EE-HR, EE-IT" and cycle.condition > 1e6
    assert any("ill-conditioned cycle" in w for w in solved.draft.notes)
    assert solved.draft.total_debit_cents == solved.draft.total_credit_cents


@pytest.mark.parametrize(
    ("method", "extra"), [("reciprocal", {}), ("step_down", {"order": ["EE-HR", "EE-IT"]}), ("step_down", {}), ("direct", {})]
)
def test_every_method_gives_a_balanced_valid_run(method, extra):
    (solved,) = allocate({**ENTRY, "method": method, **extra}).solves
    draft = solved.draft
    assert draft.method == f"multilevel_{method}"
    assert validate_run(RunToValidate("ml", draft.lines, ACCOUNTS)) == []
    assert draft.lines["explanation"].str.startswith(f"multi-level {method.replace('_', '-')}").all()
    finals = solved.result.final_cents
    assert int(finals.sum()) == 180_000
    if method == "direct":
        # Transfers between service centers are ignored: IT's 20% to HR goes to IT's other targets.
        assert finals["EE-ENG"] == 100_000 * 50 // 80 + 50_000
