"""The issue 13 insights in the period report and the console (in-process, on the console's DuckDB
ledger of tests/test_console.py): driver confidence, forecasts and cost-center suggestions shown
with their sentence and numbers in the static file and on the period page, empty sections saying
why; the suggestions review page, where preparers and approvers accept or reject through
`allocation suggestions`' own function (the signed-in user recorded as who decided), a viewer is
refused, a POST without the CSRF token is refused, and hostile text is escaped.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.insights.driver_analysis import CONFIDENCE_COLUMNS
from allocation_pipeline.core.insights.suggestions import SUGGESTION_COLUMNS
from allocation_pipeline.core.report.html import render_report
from allocation_pipeline.warehouse import insights_store, suggestion_store
from allocation_pipeline.warehouse.engine import make_engine
from allocation_pipeline.warehouse.report_store import read_report_data
from tests.conftest import SAMPLE_PERIOD
from tests.test_console import IMG, SCRIPT, app, client, post_form, sign_in, token, warehouse  # noqa: F401 (fixtures)

REVIEW = f"/periods/{SAMPLE_PERIOD}/EE/suggestions"
IDS = ["gl_lines-2026-10-a", "gl_lines-2026-10-b", "ap_invoices-2026-10-c"]


def _suggestion(i: int, suggestion_id: str) -> dict:
    return {
        "suggestion_id": suggestion_id, "period": SAMPLE_PERIOD, "extract": suggestion_id.split("-")[0], "source_file": "gl_lines/2026-10.csv",
        "row_number": 10 + i, "entity": "EE", "document_id": f"EE-DOC{i}", "line": 1, "account": "60002", "vendor": IMG if i == 0 else f"Vendor {i}",
        "document_type": "bill", "description": SCRIPT if i == 0 else f"line {i}", "amount_cents": 12_345 + i, "original_cost_center": None,
        "problem": "missing cost center", "suggested_cost_center": "EE-PRD", "confidence": 0.97 - 0.3 * i, "label": "high" if i == 0 else "low",
        "runner_up": "EE-SAL", "runner_up_confidence": 0.02, "support_lines": 40, "support_share": 0.9, "trained_lines": 2_000,
        "sentence": f"{SCRIPT} vendor usually books on EE-PRD" if i == 0 else "few lines like this one", "raw_row": json.dumps({"row": i}),
    }


def _store_insights(url: str) -> None:
    """Two suggestions of EE and one of US, a confidence row with hostile text, a pool forecast."""
    suggestions = pd.DataFrame([_suggestion(i, sid) for i, sid in enumerate(IDS)])[SUGGESTION_COLUMNS]
    suggestions.loc[2, "entity"] = "US"
    confidence = pd.DataFrame([{
        "period": SAMPLE_PERIOD, "pool_id": "us_corporate_it", "label": "weak", "p_value": 0.2346, "permutations": 199, "seed": 7, "oos_r2": 0.12,
        "oos_error_points": 3.1, "null_r2": 0.05, "units_tested": 8, "all_units_r2": 0.31, "all_units_error_points": 2.0, "kept_r2": 0.45,
        "units_left_out": "US-BU2", "proposed": False, "sentence": f"weak evidence {SCRIPT}: nothing proposed",
    }])[CONFIDENCE_COLUMNS]
    forecast = pd.DataFrame([{
        "made_after": SAMPLE_PERIOD, "kind": "pool", "series": "ee_rent", "entity": "EE", "currency": "EUR", "period": month, "mean": mean,
        "lower": mean - 1_000.4, "upper": mean + 1_000.6, "level": 0.8, "model": "ETS(A,N,N)", "history_periods": 12, "backtest_periods": 3,
        "backtest_mape": 4.25, "backtest_mae": 900.0, "backtest_inside": 2, "sentence": "rent stays near 1,234.57 a month",
    } for month, mean in (("2026-11", 123_456.6), ("2026-12", 123_500.2))])
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            suggestion_store.store_suggestions(conn, SAMPLE_PERIOD, suggestions)
            insights_store.replace_period(conn, "driver_confidence", confidence, SAMPLE_PERIOD)
            insights_store.store_forecasts(conn, SAMPLE_PERIOD, forecast)
    finally:
        engine.dispose()


def _static(url: str, entity: str = "EE") -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return render_report(read_report_data(conn, SAMPLE_PERIOD, entity))
    finally:
        engine.dispose()


def _section(text: str, ident: str) -> str:
    return re.search(rf'<section id="{ident}">.*?</section>', text, re.S).group(0)


def _decisions(url: str) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT suggestion_id, status, decided_cost_center, decided_by FROM cost_center_suggestions")).all()
    finally:
        engine.dispose()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_empty_insight_sections_say_why_in_the_file_and_on_the_period_page(app):
    url = app.state.settings.warehouse_url
    page = sign_in(app, "vic").get(f"/periods/{SAMPLE_PERIOD}/EE").text
    for text in (_static(url), page):
        assert "No driver confidence stored for 2026-10" in _section(text, "confidence")
        assert "run `allocation forecast --last 2026-10`" in _section(text, "forecasts")
        assert "`allocation suggestions --period 2026-10` has not been run" in _section(text, "suggestions")
        assert "<table" not in _section(text, "forecasts") + _section(text, "suggestions") + _section(text, "confidence")


def test_confidence_forecasts_and_suggestions_in_the_file_and_on_the_period_page(app):
    url = app.state.settings.warehouse_url
    _store_insights(url)
    static = _static(url)
    page = sign_in(app, "vic").get(f"/periods/{SAMPLE_PERIOD}/EE").text
    for text in (static, page):
        confidence = _section(text, "confidence")
        assert 'data-pool="us_corporate_it" data-label="weak"' in confidence and "0.235" in confidence and "US-BU2" in confidence
        assert "0 strong, 0 moderate, 1 weak, 0 with no evidence; 0 with a key proposed" in confidence
        forecasts = _section(text, "forecasts")
        cents = re.findall(r'data-period="(2026-1\d)"><td rowspan="2">pool</td>.*?data-cents="(\d+)"', forecasts) + re.findall(
            r'data-period="2026-12"><td>2026-12</td><td class="num" data-cents="(\d+)"', forecasts
        )
        assert cents == [("2026-11", "123457"), "123500"]
        assert "4.2%" in forecasts and "2 of 3" in forecasts and "rent stays near" in forecasts
        suggestions = _section(text, "suggestions")
        assert [m for m in re.findall(r'data-suggestion="([^"]+)"', suggestions)] == IDS[:2]  # EE's only
        assert 'data-cents="12345"' in suggestions and "97%" in suggestions and "2 open, 0 accepted, 0 rejected; 1 of high confidence" in suggestions
        # Hostile text is shown as text, never as markup.
        assert SCRIPT not in text and IMG not in text and "&lt;script&gt;alert" in text
    assert f'href="{REVIEW}"' in page
    assert not [h for h in re.findall(r'<a href="([^"]*)"', static) if not h.startswith("#")]  # the file stays offline
    assert "us_corporate_it" not in _section(_static(url, "US"), "suggestions") and IDS[2] in _static(url, "US")


def test_preparers_and_approvers_accept_or_reject_and_are_recorded_as_who_decided(app):
    url = app.state.settings.warehouse_url
    _store_insights(url)
    pat = sign_in(app, "pat")
    review = pat.get(REVIEW)
    assert review.status_code == 200 and review.text.count('class="accept"') == 2 and "2 open, 0 accepted, 0 rejected" in review.text
    accepted = post_form(pat, REVIEW, f"/suggestions/{IDS[0]}/accept", cost_center="EE-ENG", note="moved", period=SAMPLE_PERIOD, entity="EE")
    assert accepted.status_code == 303 and accepted.headers["location"] == REVIEW
    shown = unescape(pat.get(REVIEW).text)
    assert f"{IDS[0]}: accepted EE-ENG (instead of the suggested EE-PRD)" in shown and "by pat at" in shown
    ann = sign_in(app, "ann")
    assert post_form(ann, REVIEW, f"/suggestions/{IDS[1]}/reject", note="not ours", period=SAMPLE_PERIOD, entity="EE").status_code == 303
    assert f"{IDS[1]}: rejected EE-PRD by ann" in unescape(ann.get(REVIEW).text)
    assert _decisions(url) == {IDS[0]: ("accepted", "EE-ENG", "pat"), IDS[1]: ("rejected", None, "ann"), IDS[2]: ("open", None, None)}
    # The same refusals as the CLI: a decision is recorded once; an unknown cost center is refused.
    again = post_form(ann, REVIEW, f"/suggestions/{IDS[0]}/reject", period=SAMPLE_PERIOD, entity="EE")
    assert again.status_code == 303 and f"suggestion {IDS[0]} is already accepted (by pat" in unescape(ann.get(REVIEW).text)
    post_form(ann, f"/periods/{SAMPLE_PERIOD}/US/suggestions", f"/suggestions/{IDS[2]}/accept", cost_center="NOPE-1", period=SAMPLE_PERIOD, entity="US")
    assert "cost center NOPE-1 is not in the cost centers extract" in unescape(ann.get(f"/periods/{SAMPLE_PERIOD}/US/suggestions").text)
    assert _decisions(url)[IDS[2]] == ("open", None, None)
    page = ann.get(REVIEW).text
    assert "0 open, 1 accepted, 1 rejected" in page and 'class="accept"' not in page
    # The period page and the file show the decisions too.
    assert 'data-suggestion="%s" data-status="accepted"' % IDS[0] in _static(url)
    # An accepted line waits for the month's next run, then shows what that run did with it.
    assert f'<span class="muted applied">re-enters {SAMPLE_PERIOD} on its next run</span>' in page
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            outcome = pd.DataFrame({"suggestion_id": [IDS[0]], "source_file": ["gl.csv"], "row_number": [4], "outcome": ["kept"]})
            suggestion_store.record_corrections(conn, "gl_lines", SAMPLE_PERIOD, outcome, "0123456789abcdef")
    finally:
        engine.dispose()
    page = ann.get(REVIEW).text
    assert '<span class="muted applied">kept (run 01234567, ' in page and '"muted applied">re-enters' not in page


def test_a_viewer_sees_the_suggestions_but_cannot_decide_and_a_post_needs_the_csrf_token(app):
    url = app.state.settings.warehouse_url
    _store_insights(url)
    vic = sign_in(app, "vic")
    review = vic.get(REVIEW)
    assert review.status_code == 200 and IDS[0] in review.text and 'class="accept"' not in review.text
    refused = post_form(vic, REVIEW, f"/suggestions/{IDS[0]}/accept", period=SAMPLE_PERIOD, entity="EE")
    assert refused.status_code == 403 and "vic (viewer) may not decide suggestions" in unescape(refused.text)
    pat = sign_in(app, "pat")
    for data in ({"period": SAMPLE_PERIOD, "entity": "EE"}, {"csrf_token": "forged"}):
        response = pat.post(f"/suggestions/{IDS[0]}/accept", data=data)
        assert response.status_code == 403 and "CSRF check failed" in response.text
    assert _decisions(url)[IDS[0]] == ("open", None, None)
    assert client(app).get(REVIEW).status_code == 303  # signed out: to the login page
    assert vic.get(f"/periods/{SAMPLE_PERIOD}/XX/suggestions").status_code == 404


def test_hostile_text_of_a_suggestion_is_escaped_on_the_review_page(app):
    _store_insights(app.state.settings.warehouse_url)
    text = sign_in(app, "pat").get(REVIEW).text
    assert SCRIPT not in text and IMG not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    assert token(text)
