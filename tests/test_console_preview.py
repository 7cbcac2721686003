"""The console's preview page: a preparer picks a rule and a period and sees the lines the rule
would create, through the same function as `allocation preview` (same figures), with the same
messages for bad input; viewers may not; nothing is written to the extracts, the rules file or
the ledger; a rule's hostile description is shown as text. The preview arithmetic itself is
covered in test_preview.py and test_methods.py.
"""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from allocation_pipeline.commands.preview import preview_rule
from allocation_pipeline.console.app import Settings, create_app
from allocation_pipeline.warehouse.engine import make_engine
from tests.conftest import SAMPLE_PERIOD
from tests.test_console import SCRIPT, client, sign_in, warehouse  # noqa: F401 (the fixture)
from tests.test_preview import snapshot

LEDGER_TABLES = ("allocation_runs", "allocation_lines", "allocation_run_history", "journal_entries", "journal_lines", "document_links")


@pytest.fixture
def company(sample_company: Path) -> Path:
    """The sample company with a rule whose description holds markup."""
    path = sample_company / "rules.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["rules"][0]["description"] = SCRIPT
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return sample_company


@pytest.fixture
def app(warehouse, company, tmp_path):  # noqa: F811
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(sa.engine.make_url(warehouse).database, copy)
    application = create_app(
        Settings(f"duckdb:///{copy}", rules_file=str(company / "rules.yaml"), extracts_dir=str(company / "extracts")), secret_key="k"
    )
    yield application
    application.state.engine.dispose()


def ledger_counts(app) -> dict[str, int]:
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in LEDGER_TABLES}  # fixed names
    engine.dispose()
    return counts


def preview_rows(page_html: str) -> list[list[str]]:
    body = page_html.split('id="preview-lines"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [[unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_a_preparer_previews_a_rule_and_sees_what_allocation_preview_computes_with_nothing_written(app, company):
    pat = sign_in(app, "pat")
    assert 'href="/preview"' in pat.get("/runs").text
    form = pat.get("/preview")
    assert form.status_code == 200 and '<option value="it_overhead_split">' in form.text
    before_files, before_ledger = snapshot(company), ledger_counts(app)
    page = pat.get("/preview", params={"rule": "ee_facilities_by_floor_area", "period": SAMPLE_PERIOD})
    assert page.status_code == 200, page.text
    expected = preview_rule("ee_facilities_by_floor_area", SAMPLE_PERIOD, str(company / "rules.yaml"), str(company / "extracts"))
    rows = preview_rows(page.text)
    lines = expected.run.lines
    assert [r[:4] for r in rows] == [[str(n), role, account, cc] for n, role, account, cc in lines[["line_no", "role", "account", "cost_center"]].itertuples(index=False)]
    cents = [int(c) for c in re.findall(r'data-cents="(\d+)"', page.text.split('id="preview-lines"')[1].split("<tfoot>")[0])]
    assert cents == [int(v) for pair in zip(lines["debit_cents"], lines["credit_cents"]) for v in pair]
    assert {r[8] for r in rows if r[1] == "target"} == {"floor_area"} and all(r[10].endswith("%") for r in rows if r[1] == "target")
    assert f'id="preview-earlier">it_overhead_split<' in page.text  # earlier rules run first, as on the command line
    assert f'data-cents="{expected.run.pool_cents}"' in page.text
    assert snapshot(company) == before_files and ledger_counts(app) == before_ledger


def test_viewers_may_not_preview(app):
    vic = sign_in(app, "vic")
    response = vic.get("/preview", params={"rule": "it_overhead_split", "period": SAMPLE_PERIOD})
    assert response.status_code == 403 and "vic (viewer) may not preview" in unescape(response.text)
    assert 'href="/preview"' not in vic.get("/runs").text
    assert client(app).get("/preview").status_code == 303  # signed out: to the login page


@pytest.mark.parametrize(
    "query, message",
    [
        ({"rule": "no_such_rule", "period": SAMPLE_PERIOD}, "no rule 'no_such_rule' (rules: it_overhead_split, ee_facilities_by_floor_area, us_facilities_by_floor_area)"),
        ({"rule": "it_overhead_split", "period": "2026-13"}, "period '2026-13' is not a fiscal month YYYY-MM"),
        ({"rule": "it_overhead_split", "period": "2025-10"}, "no file for period 2025-10 (found periods 2026-08, 2026-09, 2026-10)"),
        ({"rule": "it_overhead_split"}, "choose a rule and a period (YYYY-MM) to preview"),
    ],
)
def test_bad_input_gets_the_commands_message(app, query, message):
    response = sign_in(app, "pat").get("/preview", params=query)
    assert response.status_code == 422
    errors = response.text.split('id="preview-errors"')[1].split("</ul>")[0]
    assert message in unescape(errors) and "Traceback" not in response.text


def test_a_rules_hostile_description_is_only_text(app):
    page = sign_in(app, "pat").get("/preview", params={"rule": "it_overhead_split", "period": SAMPLE_PERIOD})
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
