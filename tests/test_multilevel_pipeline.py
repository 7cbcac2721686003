"""The multi-level allocation in the dataflow, with `dg.materialize` against a real warehouse: the
sample period posts one balanced multi-level run per entity after the rules' runs (also on
PostgreSQL); `multilevel_origins` parts sum to each cost center's final and reconcile with the
posted lines and an own cost recomputed in SQL from the GL and the rules' lines; re-materializing
changes nothing; a closed cycle fails naming it and posts nothing; an ill-conditioned cycle is a
warning check with its condition estimate; a changed matrix after posting is refused until the run
is voided; a quarantined matrix row is refused by its file row.

Uses the generated sample company (tests/conftest.py) and edits its `allocation_matrix.csv`; the
solver's arithmetic and the core's parsing are covered in test_multilevel.py and test_multilevel_runs.py.
The posted sample period is the session's shared one (tests/conftest.py); tests that change it take a
copy, and tests about the posting path materialize only it (test_pipeline.POSTING); those that change
only the matrix start from a copy holding the month's GL lines and do not load them again.
"""

from decimal import Decimal

import pandas as pd
import dagster as dg

from allocation_pipeline.reporting import run_failures
from allocation_pipeline.warehouse import ledger_store
from allocation_pipeline.warehouse.engine import make_engine
from tests.conftest import SAMPLE_PERIOD
from tests.conftest import materialize
from tests.test_pipeline import POSTING, POSTING_ON_LOADED_GL, ledger_state, query

OWN_COST_ACCOUNTS = (50000, 69500)  # the sample rules' multilevel source accounts


def cents(value) -> int:
    return int(Decimal(str(value)).scaleb(2))


def rewrite_matrix(company, entity: str, rows: dict[str, list[tuple[str, str]]]) -> None:
    """Replace the SAMPLE_PERIOD rows of `entity` whose source is a key of `rows` with the given
    (target, percent) rows."""
    path = company / "extracts" / "allocation_matrix.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    drop = (frame["period"] == SAMPLE_PERIOD) & (frame["entity"] == entity) & frame["source"].isin(list(rows))
    added = pd.DataFrame(
        [(SAMPLE_PERIOD, entity, source, target, percent) for source, targets in rows.items() for target, percent in targets],
        columns=frame.columns,
    )
    pd.concat([frame[~drop], added], ignore_index=True).to_csv(path, index=False)


def multilevel_runs(url) -> pd.DataFrame:
    return query(url, "SELECT run_id, rule_id, entity, status, journal_entry_id FROM allocation_runs WHERE origin = 'multilevel' ORDER BY run_id")


def test_the_sample_period_posts_balanced_multilevel_runs_that_reconcile_with_their_origins(posted_month):
    result, warehouse_url = posted_month.result, posted_month.url
    assert result.success, run_failures(result)

    runs = multilevel_runs(warehouse_url)
    assert runs[["run_id", "rule_id", "entity", "status", "journal_entry_id"]].values.tolist() == [
        ["ALLOC-0004", "ee_service_centers", "EE", "posted", "EE-CAL000003"],
        ["ALLOC-0005", "us_service_centers", "US", "posted", "US-CAL000002"],
    ]
    entries = query(
        warehouse_url,
        "SELECT e.entry_id, e.total_debit, e.total_credit, SUM(l.debit) AS d, SUM(l.credit) AS c FROM journal_entries AS e "
        "JOIN journal_lines AS l ON l.entry_id = e.entry_id WHERE e.entry_id IN ('EE-CAL000003', 'US-CAL000002') "
        "GROUP BY e.entry_id, e.total_debit, e.total_credit",
    )
    assert len(entries) == 2
    assert (entries["d"] == entries["c"]).all() and (entries["d"] == entries["total_debit"]).all() and (entries["c"] == entries["total_credit"]).all()

    # Posted net per cost center (debit - credit on the multi-level entries).
    posted = query(
        warehouse_url,
        "SELECT r.entity, l.cost_center, SUM(l.debit) - SUM(l.credit) AS net FROM allocation_runs AS r "
        "JOIN journal_lines AS l ON l.entry_id = r.journal_entry_id WHERE r.origin = 'multilevel' GROUP BY r.entity, l.cost_center",
    )
    posted = {(r.entity, r.cost_center): cents(r.net) for r in posted.itertuples()}
    # Own cost of each service cost center (a source in the month's matrix), recomputed from the
    # GL lines and the rules' run lines in the warehouse.
    own = query(
        warehouse_url,
        "SELECT b.entity, b.cost_center, SUM(b.amount) AS amount FROM ("
        "  SELECT entity, cost_center, account, debit - credit AS amount FROM gl_lines WHERE period = :period"
        "  UNION ALL"
        "  SELECT r.entity, l.cost_center, l.account, l.debit - l.credit FROM allocation_lines AS l"
        "  JOIN allocation_runs AS r ON r.run_id = l.run_id WHERE r.period = :period AND r.origin = 'pipeline'"
        ") AS b WHERE CAST(b.account AS INTEGER) BETWEEN :low AND :high"
        " AND b.cost_center IN (SELECT source FROM allocation_matrix WHERE period = :period)"
        " GROUP BY b.entity, b.cost_center",
        period=SAMPLE_PERIOD, low=OWN_COST_ACCOUNTS[0], high=OWN_COST_ACCOUNTS[1],
    )
    own = {(r.entity, r.cost_center): cents(r.amount) for r in own.itertuples()}
    origins = query(warehouse_url, "SELECT entity, run_id, cost_center, origin, amount FROM multilevel_origins WHERE period = :period", period=SAMPLE_PERIOD)
    assert set(origins["run_id"]) == {"ALLOC-0004", "ALLOC-0005"}
    assert (origins.groupby("entity")["run_id"].nunique() == 1).all()
    finals = origins.assign(cents=origins["amount"].map(cents)).groupby(["entity", "cost_center"])["cents"].sum().to_dict()
    # final = own + posted net, for every cost center the allocation touched, to the cent.
    for key in set(finals) | set(posted) | set(own):
        assert finals.get(key, 0) == own.get(key, 0) + posted.get(key, 0), key
    # Each service cost center's own cost is traced in full to where it ended (cents of rounding aside).
    by_origin = origins.assign(cents=origins["amount"].map(cents)).groupby(["entity", "origin"])["cents"].sum()
    for key, amount in own.items():
        assert abs(by_origin.get(key, 0) - amount) <= 50, key
    # Of the service cost centers only top-level management keeps anything (its 5% retention).
    assert {key for key in finals if key in own} == {("EE", "EE-MGT"), ("US", "US-MGT")}

    metadata = result.asset_materializations_for_node("multilevel_allocation")[0].metadata
    assert metadata["method"].value == "EE reciprocal, US reciprocal"
    assert 0 <= metadata["relative_residual"].value < 1e-12
    assert "EE-IT" in metadata["cycles"].value and "EE-HR" in metadata["cycles"].value
    assert "| US-BU2 |" in metadata["largest_finals"].value
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["multilevel_runs_valid"].passed and checks["multilevel_well_conditioned"].passed
    assert result.asset_materializations_for_node("journal_entries")[0].metadata["posted_now"].value == 5


def test_rematerializing_changes_nothing(sample_company, posted_duckdb_url):
    duckdb_url = posted_duckdb_url
    before = ledger_state(duckdb_url)
    origins = query(duckdb_url, "SELECT * FROM multilevel_origins ORDER BY entity, cost_center, origin").astype(str).to_dict("records")
    again = materialize(sample_company, duckdb_url, selection=POSTING)
    assert again.success, run_failures(again)
    assert ledger_state(duckdb_url) == before
    assert query(duckdb_url, "SELECT * FROM multilevel_origins ORDER BY entity, cost_center, origin").astype(str).to_dict("records") == origins
    metadata = again.asset_materializations_for_node("multilevel_allocation")[0].metadata
    assert metadata["runs_unchanged"].value == "ALLOC-0004, ALLOC-0005"
    assert again.asset_materializations_for_node("journal_entries")[0].metadata["posted_now"].value == 0


def test_a_closed_cycle_fails_naming_it_and_nothing_is_posted(sample_company, reference_duckdb_url):
    duckdb_url = reference_duckdb_url
    rewrite_matrix(sample_company, "EE", {"EE-IT": [("EE-HR", "100")], "EE-HR": [("EE-IT", "100")]})
    result = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert not result.success
    (failure,) = [f for f in run_failures(result) if f.startswith("multilevel_allocation")]
    assert "multilevel ee_service_centers (EE, 2026-10): closed cycle: 'EE-HR', 'EE-IT' pass all of their cost among themselves" in failure
    assert "nothing stored" in failure
    assert "journal_entries" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert multilevel_runs(duckdb_url).empty
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM journal_entries")["n"].iloc[0] == 0
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM multilevel_origins")["n"].iloc[0] == 0


def test_an_ill_conditioned_cycle_is_a_warning_with_its_condition_estimate(sample_company, reference_duckdb_url):
    duckdb_url = reference_duckdb_url
    rewrite_matrix(sample_company, "EE", {"EE-IT": [("EE-HR", "100")], "EE-HR": [("EE-IT", "99.9999"), ("EE-ENG", "0.0001")]})
    result = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert result.success, run_failures(result)
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["multilevel_well_conditioned"]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["ill_conditioned_cycles"].value == 1
    assert check.metadata["largest_condition"].value > 1e6
    assert "EE-HR, EE-IT" in check.metadata["details"].value
    metadata = result.asset_materializations_for_node("multilevel_allocation")[0].metadata
    assert "ill-conditioned cycle (2 cost centers: 'EE-HR', 'EE-IT'): condition estimate" in metadata["warnings"].value
    # Still an exact, balanced run: the warning is about sensitivity, not about the books.
    assert multilevel_runs(duckdb_url)["status"].tolist() == ["posted", "posted"]


def test_a_changed_matrix_after_posting_is_refused_until_the_run_is_voided(sample_company, posted_duckdb_url):
    duckdb_url = posted_duckdb_url
    before = ledger_state(duckdb_url)
    origins_before = query(duckdb_url, "SELECT COUNT(*) AS n FROM multilevel_origins")["n"].iloc[0]
    rewrite_matrix(sample_company, "EE", {"EE-MGT": [("EE-MGT", "10"), ("EE-ENG", "60"), ("EE-SAL", "30")]})
    refused = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert not refused.success
    (failure,) = [f for f in run_failures(refused) if f.startswith("multilevel_allocation")]
    assert "ALLOC-0004 (rule ee_service_centers, EE 2026-10) is posted as EE-CAL000003 and its recomputed lines differ; void it first" in failure
    assert ledger_state(duckdb_url) == before
    assert query(duckdb_url, "SELECT COUNT(*) AS n FROM multilevel_origins")["n"].iloc[0] == origins_before

    engine = make_engine(duckdb_url)
    try:
        with engine.begin() as conn:
            ledger_store.void_run(conn, "ALLOC-0004", by="controller", reason="matrix corrected")
    finally:
        engine.dispose()
    after_void = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert after_void.success, run_failures(after_void)
    runs = multilevel_runs(duckdb_url)
    assert runs[["run_id", "entity", "status"]].values.tolist() == [
        ["ALLOC-0004", "EE", "voided"], ["ALLOC-0005", "US", "posted"], ["ALLOC-0006", "EE", "posted"],
    ]
    assert set(query(duckdb_url, "SELECT run_id FROM multilevel_origins WHERE entity = 'EE'")["run_id"]) == {"ALLOC-0006"}


def test_a_quarantined_matrix_row_is_refused_by_its_file_row(sample_company, reference_duckdb_url):
    duckdb_url = reference_duckdb_url
    path = sample_company / "extracts" / "allocation_matrix.csv"
    rows = path.read_text().splitlines()
    path.write_text("\n".join(rows + [f"{SAMPLE_PERIOD},EE,EE-IT,EE-NOPE,1.5"]) + "\n")
    result = materialize(sample_company, duckdb_url, selection=POSTING_ON_LOADED_GL)
    assert not result.success
    (failure,) = [f for f in run_failures(result) if f.startswith("multilevel_allocation")]
    assert f"allocation_matrix.csv row {len(rows)}: unknown cost center 'EE-NOPE'" in failure
    assert multilevel_runs(duckdb_url).empty
