"""Accepted cost-center suggestions re-entering their month (issue 13, item 3): end to end on the small
sample company with a DuckDB warehouse (materialize the GL, `allocation suggestions`, accept and
reject, materialize again); and `apply_corrections` on literal rows in DuckDB: a correction applies
only to the row it was made for, never to a row that changed or is gone.

Not covered here: how suggestions are made and decided (test_insights_suggestions)."""

from __future__ import annotations

import dagster as dg
import ibis
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from allocation_pipeline import cli
from allocation_pipeline.core.ingestion.corrections import APPLIED, KEPT, ROW_CHANGED, ROW_GONE, apply_corrections, settle
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.reporting import run_failures
from allocation_pipeline.warehouse import suggestion_store as store
from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import make_engine
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, pipeline_resources
from tests.conftest import query_frame as _query

ASSETS = list(build_definitions().assets)


def _materialize(company, url: str):
    result = dg.materialize(
        ASSETS, partition_key=SAMPLE_PARTITION, resources=pipeline_resources(company, url),
        selection=dg.AssetSelection.assets("gl_lines").upstream(), raise_on_error=False,
    )
    assert result.success, run_failures(result)
    (materialization,) = result.asset_materializations_for_node("gl_lines")
    return materialization.metadata


def _suggestions(url: str) -> pd.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return store.period_suggestions(conn, SAMPLE_PERIOD)
    finally:
        engine.dispose()


def test_an_accepted_suggestion_re_enters_the_month_and_a_rejected_one_stays_quarantined(sample_company, tmp_path, monkeypatch, capsys):
    path = sample_company / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    planted = frame.index[frame["account"].str.startswith("6")][:3]
    frame.loc[planted, "cost_center"] = "XX-NOPE"
    frame.to_csv(path, index=False)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    monkeypatch.setenv("ALLOCATION_EXTRACTS_DIR", str(sample_company / "extracts"))
    monkeypatch.setenv("ALLOCATION_RULES_FILE", str(sample_company / "rules.yaml"))
    quarantined = "SELECT row_number, bad_value FROM quarantine WHERE extract = 'gl_lines' AND partition_key = :p ORDER BY row_number"

    first = _materialize(sample_company, url)
    rows = [int(i) + 1 for i in planted]
    assert _query(url, quarantined, p=SAMPLE_PERIOD)["row_number"].tolist() == rows
    assert "rows_corrected_by_suggestions" not in first

    assert cli.main(["suggestions", "--period", SAMPLE_PERIOD]) == 0
    made = _suggestions(url).set_index("row_number")
    assert sorted(made.index) == rows
    accepted, chosen, rejected = (made.loc[r, "suggestion_id"] for r in rows)
    other = next(cc for cc in _query(url, "SELECT cost_center FROM dim_cost_centers WHERE entity = :e", e=frame.loc[planted[1], "entity"])["cost_center"]
                 if cc != made.loc[rows[1], "suggested_cost_center"])
    assert cli.main(["suggestions", "accept", accepted, "--by", "ana"]) == 0
    assert cli.main(["suggestions", "accept", chosen, "--by", "ana", "--cost-center", other]) == 0
    assert cli.main(["suggestions", "reject", rejected, "--by", "bob"]) == 0
    capsys.readouterr()

    second = _materialize(sample_company, url)
    # The rejected line alone stays quarantined; the accepted ones are kept, in their place, with the accepted cost center.
    assert _query(url, quarantined, p=SAMPLE_PERIOD).to_dict("records") == [{"row_number": rows[2], "bad_value": "XX-NOPE"}]
    kept = _query(url, "SELECT source_file, row_number, cost_center, debit, credit FROM gl_lines WHERE period = :p AND row_number IN (:a, :b, :c)",
                  p=SAMPLE_PERIOD, a=rows[0], b=rows[1], c=rows[2]).set_index("row_number")
    assert sorted(kept.index) == rows[:2] and set(kept["source_file"]) == {f"gl_lines/{SAMPLE_PERIOD}.csv"}
    assert kept.loc[rows[0], "cost_center"] == made.loc[rows[0], "suggested_cost_center"] and kept.loc[rows[1], "cost_center"] == other
    assert second["rows_corrected_by_suggestions"].value == 2
    assert second["rows_in"].value == first["rows_in"].value and second["rows_kept"].value == first["rows_kept"].value + 2
    # What became of each decision is shown with the suggestions.
    shown = _suggestions(url).set_index("suggestion_id")
    assert shown.loc[accepted, "applied_outcome"] == KEPT and shown.loc[chosen, "applied_outcome"] == KEPT
    assert pd.isna(shown.loc[rejected, "applied_outcome"])
    assert shown.loc[accepted, "applied_run_id"] and shown.loc[accepted, "applied_at"] is not None
    assert cli.main(["suggestions", "--period", SAMPLE_PERIOD]) == 0
    out = capsys.readouterr().out
    assert f"-> accepted {other} by ana" in out and f"; {KEPT} in {SAMPLE_PERIOD} since run {shown.loc[chosen, 'applied_run_id'][:8]}" in out


LAYOUT = ["entity", "document_id", "line", "cost_center", "debit"]


def _raw(rows: list[tuple]) -> ibis.Table:
    columns = list(zip(*rows))
    arrays = [pa.array(list(c), pa.string()) for c in columns[: len(LAYOUT)]]
    arrays += [pa.array(list(columns[-2]), pa.string()), pa.array(list(columns[-1]), pa.int64())]
    return ibis.memtable(pa.table(arrays, names=[*LAYOUT, "source_file", "row_number"]))


def _corrections(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*LAYOUT, "source_file", "row_number", "suggestion_id", "original_cost_center"])
    return frame.astype({c: "string" for c in LAYOUT})


def test_a_correction_applies_only_to_the_unchanged_row_it_was_made_for():
    con = ibis.duckdb.connect()
    raw = _raw([
        ("EE", "D1", "1", "XX-NOPE", "10.00", "gl.csv", 1),
        ("EE", "D1", "2", "", "5.00", "gl.csv", 2),  # corrected below, but its amount changed since
        ("EE", "D2", "1", "EE-IT", "7.00", "gl.csv", 3),
        ("EE", "D3", "1", None, "1.00", "gl.csv", 4),  # a null cost center (Parquet) is what it was
    ])
    corrections = _corrections([
        ("EE", "D1", "1", "EE-IT", "10.00", "gl.csv", 1, "S1", "XX-NOPE"),
        ("EE", "D1", "2", "EE-HR", "6.00", "gl.csv", 2, "S2", ""),
        ("EE", "D9", "1", "EE-HR", "1.00", "gl.csv", 9, "S3", ""),
        ("EE", "D3", "1", "EE-FIN", "1.00", "gl.csv", 4, "S4", None),
    ])
    done = apply_corrections(raw, corrections, con.execute, ibis.memtable)
    assert dict(zip(done.outcomes["suggestion_id"], done.outcomes["outcome"])) == {"S1": APPLIED, "S2": ROW_CHANGED, "S3": ROW_GONE, "S4": APPLIED}
    assert done.applied == 2
    table = con.execute(done.table).sort_values("row_number", ignore_index=True)
    assert table["row_number"].tolist() == [1, 2, 3, 4] and table["cost_center"].tolist()[:3] == ["EE-IT", "", "EE-IT"]
    assert table["cost_center"].iloc[3] == "EE-FIN" and table["debit"].tolist() == ["10.00", "5.00", "7.00", "1.00"]
    quarantine = pd.DataFrame({"source_file": ["gl.csv"], "row_number": [4], "reason": ["unknown account '1'"]})
    settled = settle(done.outcomes, quarantine)
    assert settled["outcome"].tolist() == [KEPT, ROW_CHANGED, ROW_GONE, "quarantined again: unknown account '1'"]
    untouched = apply_corrections(raw, corrections.iloc[0:0], con.execute, ibis.memtable)
    assert untouched.table is raw and untouched.outcomes.empty


def test_the_outcomes_of_a_month_replace_the_last_runs(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    from allocation_pipeline.warehouse.engine import ensure_schema

    engine = make_engine(url)
    ensure_schema(engine)
    outcomes = pd.DataFrame({"suggestion_id": ["S1"], "source_file": ["f.csv"], "row_number": [3], "outcome": [KEPT]})
    with engine.begin() as conn:
        store.record_corrections(conn, "gl_lines", SAMPLE_PERIOD, outcomes, "run-1")
        store.record_corrections(conn, "gl_lines", SAMPLE_PERIOD, outcomes.assign(outcome=ROW_GONE), "run-2")
        store.record_corrections(conn, "gl_lines", "2026-09", outcomes, "run-0")
    with engine.connect() as conn:
        stored = read_frame(conn, sa.text("SELECT period, outcome, dagster_run_id FROM cost_center_corrections ORDER BY period"))
    engine.dispose()
    assert stored.to_dict("records") == [
        {"period": "2026-09", "outcome": KEPT, "dagster_run_id": "run-0"}, {"period": SAMPLE_PERIOD, "outcome": ROW_GONE, "dagster_run_id": "run-2"}
    ]
