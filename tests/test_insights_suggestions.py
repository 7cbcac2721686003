"""Cost-center suggestions learned from history (`core.insights.suggestions`, `warehouse.suggestion_store`,
`allocation suggestions`).

Covered: planted truth (AP lines whose vendor and description decide the cost center, 10% label
noise in the history): among high-confidence suggestions at least 95% right, top-1 at least 85%, a
vendor never seen gets low confidence; the same inputs give the same suggestions; candidates are
exactly the lines quarantined only for their cost center, suspense lines and AP lines without one;
decisions feed the next training (an accepted correction changes the next suggestion; a rejected
cost center is not offered again); decisions are recorded once, with who and when, and bad ones
are refused with a clear message; accepted corrections come back in the extract's column layout
with provenance, ready to re-enter the month; the CLI end to end on the sample company with a
DuckDB warehouse under tmp_path. Not covered here: the ingestion merge itself (test_suggestions_reentry).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from allocation_pipeline import cli
from allocation_pipeline.benchmarks.insights import planted_ap_lines
from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.insights.config import SuggestionSettings
from allocation_pipeline.core.insights.suggestions import (
    SUGGESTION_COLUMNS, SuggestionError, candidates_from_extract, examples_from_lines, features_of, suggest, suggestions_for_period, train,
)
from allocation_pipeline.warehouse import suggestion_store as store
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

SETTINGS = SuggestionSettings()


def _candidates(lines: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"suggestion_id": [f"S{i}" for i in range(len(lines))]}), features_of(lines, "ap_invoices")], axis=1)


@pytest.fixture(scope="module")
def model():
    history, _ = planted_ap_lines(seed=1, lines=12_000)
    return train(examples_from_lines(history, "ap_invoices"), SETTINGS)


def test_planted_truth_high_confidence_is_right_and_top_one_is_accurate(model):
    fresh, truth = planted_ap_lines(seed=2, lines=1_500)
    scored = suggest(model, _candidates(fresh), SETTINGS)
    right = scored["suggested_cost_center"].to_numpy() == truth
    high = scored["label"].to_numpy() == "high"
    assert right.mean() >= 0.85
    assert high.sum() >= 0.5 * len(scored) and right[high].mean() >= 0.95
    assert (scored["confidence"] >= SETTINGS.high_confidence).to_numpy()[high].all()
    # The numbers behind each suggestion: the history and the runner-up, in one sentence.
    row = scored.iloc[0]
    assert row["sentence"].startswith(f"Suggested {row['suggested_cost_center']} ({row['confidence']:.0%}, {row['label']} confidence)")
    assert f"trained on {model.trained_lines:,} clean lines" in row["sentence"] and row["runner_up"] in row["sentence"]
    assert 0 < row["support_lines"] <= row["support_share"] * 1e9


def test_a_vendor_never_seen_gets_low_confidence(model):
    unseen, _ = planted_ap_lines(seed=3, lines=40, vendor_offset=5_000)
    scored = suggest(model, _candidates(unseen), SETTINGS)
    assert (scored["label"] == "low").all()
    assert (scored["confidence"] < SETTINGS.medium_confidence).all()
    assert scored["sentence"].str.contains("has never been seen in the history, so the confidence is low").all()


def test_the_same_inputs_give_the_same_suggestions():
    history, _ = planted_ap_lines(seed=4, lines=3_000)
    fresh, _ = planted_ap_lines(seed=5, lines=200)
    first = suggest(train(examples_from_lines(history, "ap_invoices"), SETTINGS), _candidates(fresh), SETTINGS)
    again = suggest(train(examples_from_lines(history, "ap_invoices"), SETTINGS), _candidates(fresh), SETTINGS)
    pd.testing.assert_frame_equal(first, again)


def test_too_few_cost_centers_in_the_history_is_said_plainly():
    history, _ = planted_ap_lines(seed=4, lines=50)
    with pytest.raises(SuggestionError, match="1 cost center.* needs at least 2"):
        train(examples_from_lines(history.assign(cost_center="CC01"), "ap_invoices"), SETTINGS)


def _raw_gl() -> RawExtract:
    rows = [
        ("US", "D1", "JOURNAL", "1", "2026-10-03", "64200", "", "", "", "100.00", "0.00", "USD", "Cloud hosting 4411"),  # missing cc
        ("US", "D1", "JOURNAL", "2", "2026-10-03", "64200", "NOPE", "", "", "50.00", "0.00", "USD", "Cloud hosting"),  # unknown cc
        ("US", "D1", "JOURNAL", "3", "2026-10-03", "99999", "", "", "", "0.00", "150.00", "USD", "Bad account too"),  # two problems
        ("US", "D2", "JOURNAL", "1", "2026-10-04", "64200", "SUSP", "", "", "70.00", "0.00", "USD", "Parked"),  # suspense
        ("US", "D2", "JOURNAL", "2", "2026-10-04", "64200", "IT", "", "", "0.00", "70.00", "USD", "Fine"),
    ]
    columns = ["entity", "document_id", "document_type", "line", "posting_date", "account", "cost_center", "product", "region",
               "debit", "credit", "currency", "description"]
    frame = pd.DataFrame(rows, columns=columns).assign(source_file="gl_lines/2026-10.csv", row_number=range(1, 6))
    return RawExtract("gl_lines", frame, ["gl_lines/2026-10.csv"])


def test_candidates_are_the_lines_quarantined_only_for_their_cost_center_and_suspense_lines():
    raw = _raw_gl()
    references = {"entity": ["US"], "account": ["64200"], "cost center": ["IT", "SUSP", "BU1"]}
    result = clean_extract(raw, EXTRACT_SPECS["gl_lines"], references, period="2026-10")
    found = candidates_from_extract("gl_lines", "2026-10", raw.frame, result.quarantine, result.kept, ("SUSP",), references)
    assert found["row_number"].tolist() == [1, 2, 4]
    assert found["problem"].tolist() == ["cost center missing", "unknown cost center 'NOPE'", "booked on suspense cost center 'SUSP'"]
    assert found["amount_cents"].tolist() == [10000, 5000, 7000]
    assert json.loads(found["raw_row"].iloc[0])["description"] == "Cloud hosting 4411"
    assert found["suggestion_id"].is_unique and found["suggestion_id"].str.startswith("GL-2026-10-").all()
    # Without a suspense list the parked line is fine as it is; without references the line with
    # an unknown account behind its missing cost center cannot be told apart.
    assert candidates_from_extract("gl_lines", "2026-10", raw.frame, result.quarantine, result.kept)["row_number"].tolist() == [1, 2, 3]


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


def _stored(engine, history, fresh, decisions=None, rejected=None, settled=frozenset()):
    rows = fresh.assign(
        suggestion_id=[f"AP-2026-10-{i:04d}" for i in range(len(fresh))], period="2026-10", extract="ap_invoices",
        original_cost_center=None, problem="cost center missing",
        raw_row=[json.dumps({"entity": "US", "document_id": d, "line": "1", "vendor": v, "invoice_date": "2026-10-15", "account": a,
                             "cost_center": None, "amount": f"{c / 100:.2f}", "currency": "USD", "description": t})
                 for d, v, a, c, t in zip(fresh["document_id"], fresh["vendor"], fresh["account"], fresh["amount_cents"], fresh["description"])],
    )
    candidates = rows[["suggestion_id", "period", "extract", "source_file", "row_number", "entity", "document_id", "line",
                       "account", "vendor", "description", "amount_cents", "original_cost_center", "problem", "raw_row"]].assign(document_type="AP_INVOICE")
    made = suggestions_for_period(candidates, examples_from_lines(history, "ap_invoices"), SETTINGS, decisions, rejected, settled)
    with engine.begin() as conn:
        store.store_suggestions(conn, "2026-10", made)
    return made


def test_decisions_are_recorded_once_and_feed_the_next_training(engine):
    history, _ = planted_ap_lines(seed=6, lines=3_000)
    fresh, _ = planted_ap_lines(seed=7, lines=6)
    made = _stored(engine, history, fresh)
    assert list(made.columns) == SUGGESTION_COLUMNS and len(made) == 6
    first, second, third = made["suggestion_id"].iloc[:3]
    other = sorted({"CC01", "CC02"} - {made["suggested_cost_center"].iloc[0]})[0]
    with engine.begin() as conn:
        accepted = store.decide(conn, first, store.ACCEPTED, "ana", cost_center=other, note="moved", known_cost_centers={"CC01", "CC02"})
        store.decide(conn, second, store.REJECTED, "bob")
        store.decide(conn, third, store.ACCEPTED, "ana")
    assert accepted["decided_cost_center"] == other and accepted["decided_by"] == "ana" and accepted["decided_at"] is not None
    with engine.begin() as conn:
        with pytest.raises(store.SuggestionDecisionError, match=f"suggestion {first} is already accepted \\(by ana at"):
            store.decide(conn, first, store.REJECTED, "bob")
        with pytest.raises(store.SuggestionDecisionError, match="no suggestion XX-1"):
            store.decide(conn, "XX-1", store.ACCEPTED, "bob")
        with pytest.raises(store.SuggestionDecisionError, match="cost center CC99 is not in the cost centers extract"):
            store.decide(conn, made["suggestion_id"].iloc[3], store.ACCEPTED, "bob", cost_center="CC99", known_cost_centers={"CC01"})
        with pytest.raises(store.SuggestionDecisionError, match="name who decides"):
            store.decide(conn, made["suggestion_id"].iloc[3], store.ACCEPTED, " ")
        decided = store.decided_suggestions(conn)
    assert sorted(decided["status"]) == ["accepted", "accepted", "rejected"]
    decisions, rejected = store.training_decisions(decided)
    assert len(decisions) == 2 and other in set(decisions["cost_center"])
    assert rejected == {second: {made["suggested_cost_center"].iloc[1]}}
    settled = {store.line_id(s) for s in decided.loc[decided["status"] == "accepted", "suggestion_id"]}
    again = _stored(engine, history, fresh, decisions, rejected, settled)
    # Accepted lines are settled; the rejected one comes back under a new id, without the refused cost center.
    assert first not in set(again["suggestion_id"]) and third not in set(again["suggestion_id"])
    redo = again[again["suggestion_id"] == f"{second}-r1"].iloc[0]
    assert redo["suggested_cost_center"] != made["suggested_cost_center"].iloc[1]
    assert "rejected for this line before are not offered again" in redo["sentence"]
    assert "and 2 analyst decision(s)" in redo["sentence"]
    with engine.connect() as conn:
        statuses = store.period_suggestions(conn, "2026-10")["status"].value_counts().to_dict()
    assert statuses == {"open": 4, "accepted": 2, "rejected": 1}


def test_a_decision_teaches_the_model():
    history, _ = planted_ap_lines(seed=8, lines=2_000)
    line = history.iloc[[0]]
    before = suggest(train(examples_from_lines(history, "ap_invoices"), SETTINGS), _candidates(line), SETTINGS)
    target = "CC14" if before["suggested_cost_center"].iloc[0] != "CC14" else "CC13"
    decisions = examples_from_lines(pd.concat([line] * 40).assign(cost_center=target), "ap_invoices")
    after = suggest(train(examples_from_lines(history, "ap_invoices"), SETTINGS, decisions), _candidates(line), SETTINGS)
    assert after["suggested_cost_center"].iloc[0] == target


def test_accepted_corrections_come_back_in_the_extracts_layout_with_provenance(engine):
    history, _ = planted_ap_lines(seed=6, lines=2_000)
    fresh, _ = planted_ap_lines(seed=9, lines=3)
    made = _stored(engine, history, fresh)
    with engine.begin() as conn:
        store.decide(conn, made["suggestion_id"].iloc[1], store.ACCEPTED, "ana", cost_center="CC05")
        store.decide(conn, made["suggestion_id"].iloc[2], store.REJECTED, "ana")
        corrections = store.accepted_corrections(conn, "ap_invoices", "2026-10")
        assert store.accepted_corrections(conn, "gl_lines", "2026-10").empty
        assert store.accepted_corrections(conn, "ap_invoices", "2026-09").empty
    required, optional = EXTRACT_SPECS["ap_invoices"].file_columns()
    assert list(corrections.columns) == [*required, *optional, *store.PROVENANCE_COLUMNS]
    (row,) = corrections.to_dict("records")
    assert row["cost_center"] == "CC05" and row["vendor"] == fresh["vendor"].iloc[1] and row["amount"] == f"{fresh['amount_cents'].iloc[1] / 100:.2f}"
    assert row["row_number"] == fresh["row_number"].iloc[1] and row["source_file"] == "ap_invoices.csv"
    assert row["corrected_by"] == "ana" and row["correction"] == "accepted suggestion" and row["original_cost_center"] is None
    # The rows pass cleaning as they are: they can replace the quarantined rows of the raw extract.
    raw = RawExtract("ap_invoices", corrections[[*required, *optional, "source_file", "row_number"]], ["ap_invoices.csv"])
    cleaned = clean_extract(raw, EXTRACT_SPECS["ap_invoices"], {"cost center": ["CC05"], "entity": ["US"], "account": list(corrections["account"])}, "2026-10")
    assert cleaned.quarantine.empty and cleaned.kept["cost_center"].tolist() == ["CC05"]
    with pytest.raises(ValueError, match="not headcount"):
        with engine.connect() as conn:
            store.accepted_corrections(conn, "headcount", "2026-10")


def test_the_cli_suggests_stores_and_records_decisions(sample_company, tmp_path, monkeypatch, capsys):
    path = sample_company / "extracts" / "gl_lines" / "2026-10.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    expense = frame.index[frame["account"].str.startswith("6")][:6]
    frame.loc[expense[:3], "cost_center"] = ""
    frame.loc[expense[3:], "cost_center"] = "XX-NOPE"
    frame.to_csv(path, index=False)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    monkeypatch.setenv("ALLOCATION_EXTRACTS_DIR", str(sample_company / "extracts"))
    monkeypatch.setenv("ALLOCATION_RULES_FILE", str(sample_company / "rules.yaml"))
    assert cli.main(["suggestions", "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "Suggestions for 2026-10: 6 line(s) need a cost center" in out and "Nothing is applied until someone accepts" in out
    assert out.count("[open]") == 6 and "unknown cost center 'XX-NOPE'" in out and "cost center missing" in out
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = store.period_suggestions(conn, "2026-10")
    engine.dispose()
    assert len(stored) == 6 and set(stored["status"]) == {"open"}
    sid = stored["suggestion_id"].iloc[0]
    assert cli.main(["suggestions", "accept", sid, "--by", "ana", "--cost-center", "NOT-A-CC"]) == 2
    assert "cost center NOT-A-CC is not in the cost centers extract" in capsys.readouterr().err
    assert cli.main(["suggestions", "accept", sid, "--by", "ana"]) == 0
    assert f"{sid}: accepted {stored['suggested_cost_center'].iloc[0]}" in capsys.readouterr().out
    assert cli.main(["suggestions", "reject", sid, "--by", "bob"]) == 2
    assert "already accepted" in capsys.readouterr().err
    assert cli.main(["suggestions"]) == 2
    assert "give --period" in capsys.readouterr().err
    assert cli.main(["suggestions", "--period", "2026-10", "--limit", "0"]) == 0
    assert "5 line(s) need a cost center" in capsys.readouterr().out
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        corrections = store.accepted_corrections(conn, "gl_lines", "2026-10")
    engine.dispose()
    assert len(corrections) == 1 and corrections["cost_center"].iloc[0] == stored["suggested_cost_center"].iloc[0]
    assert np.isin(corrections["row_number"], stored["row_number"]).all()
