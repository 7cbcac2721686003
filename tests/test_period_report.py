"""The HTML period report: its numbers against the posted tables (read both, on DuckDB and
PostgreSQL), the Sankey against the posted runs, the offline check, the `period_report` asset's
metadata, `allocation report`, a period without runs or insights, the pure flow computation, and
the page in a real headless Chromium (Sankey, tables, filters, run -> journal entry, drill-down,
a screenshot kept in test-artifacts/).

The world: the sample company's 2026-10 materialized end to end (a copy of the session's posted
month, tests/conftest.py), then through the CLI a document-linked run posted and voided (entry and
reversal in the month), the same bill allocated again and posted, and one run left calculated;
then `period_report` materialized on its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from allocation_pipeline import cli
from allocation_pipeline.core.report.model import ReportData, anchor, sankey_flows
from allocation_pipeline.core.report.sankey import layout
from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.defs.reporting.assets import REPORT_INPUTS
from allocation_pipeline.reporting import run_failures
from allocation_pipeline.settings import PROJECT_ROOT
from tests.conftest import SAMPLE_PARTITION, SAMPLE_PERIOD, copy_postgres_schema, pipeline_resources, postgres_schema
from tests.test_pipeline import query

ASSETS = list(build_definitions().assets)
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SLACK = "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,120.00\ntarget,60002,EE-ENG,60.00,0\ntarget,60002,EE-PRD,36.00,0\ntarget,60002,EE-SAL,24.00,0\n"
SLACK_AGAIN = SLACK.replace("60.00", "40.00").replace("36.00", "56.00")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
]


@dataclass
class World:
    url: str
    reports: Path
    materialization: dg.AssetMaterialization
    pipeline: dg.ExecuteInProcessResult

    def report(self, entity: str = "EE") -> Path:
        return self.reports / SAMPLE_PERIOD / f"{entity}.html"

    def page(self, entity: str = "EE") -> "ReportPage":
        return ReportPage(self.report(entity).read_text(encoding="utf-8"))

    def query(self, sql: str, **params) -> pd.DataFrame:
        return query(self.url, sql, **params)


def _cli(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    assert status == 0, (argv, err.getvalue())
    return out.getvalue()


def build_world(company: Path, url: str, folder: Path, result: dg.ExecuteInProcessResult) -> World:
    """From a copy of the posted month (the session's, `result` its materialization) at `url`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALLOCATION_WAREHOUSE_URL", url)
        patch.setenv("ALLOCATION_REPORTS_DIR", str(folder / "reports"))
        (folder / "slack.csv").write_text(SLACK)
        (folder / "again.csv").write_text(SLACK_AGAIN)
        voided = _cli("submit", str(folder / "slack.csv"), "--source-document", "EE-BILL000527", "--by", "alice").split()[0]
        _cli("approve", voided, "--by", "bob")
        _cli("post", voided, "--by", "bob")
        _cli("void", voided, "--by", "carol", "--reason", "wrong percentages")
        posted = _cli("submit", str(folder / "again.csv"), "--source-document", "EE-BILL000527", "--by", "alice").split()[0]
        _cli("approve", posted, "--by", "bob")
        _cli("post", posted, "--by", "bob")
        _cli("submit", str(folder / "again.csv"), "--entity", "EE", "--period", SAMPLE_PERIOD, "--by", "dave")  # left calculated
        report = dg.materialize(
            ASSETS, partition_key=SAMPLE_PARTITION, resources=pipeline_resources(company, url), selection=["period_report"], raise_on_error=False
        )
    assert report.success, run_failures(report)
    (materialization,) = report.asset_materializations_for_node("period_report")
    return World(url, folder / "reports", materialization, result)


@pytest.fixture(scope="module")
def duckdb_world(sample_company_template, posted_duckdb_month, tmp_path_factory) -> World:
    folder = tmp_path_factory.mktemp("report_duckdb")
    company = folder / "company"
    shutil.copytree(sample_company_template, company)
    shutil.copy(sa.engine.make_url(posted_duckdb_month.url).database, folder / "warehouse.duckdb")
    return build_world(company, f"duckdb:///{folder / 'warehouse.duckdb'}", folder, posted_duckdb_month.result)


@pytest.fixture(scope="module")
def postgres_world(sample_company_template, posted_postgres_month, tmp_path_factory):
    with postgres_schema() as url:
        copy_postgres_schema(posted_postgres_month.url, url)
        folder = tmp_path_factory.mktemp("report_postgres")
        company = folder / "company"
        shutil.copytree(sample_company_template, company)
        yield build_world(company, url, folder, posted_postgres_month.result)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request) -> World:
    return request.getfixturevalue(f"{request.param}_world")


class ReportPage(HTMLParser):
    """The parts of the report a test reads: tables by id (rows with their cells' text and
    attributes), and every element's tag and attributes."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.text = text
        self.tables: dict[str, list] = {}
        self.elements: list[tuple[str, dict]] = []
        self._table = self._section = self._row = self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr" and self._table:
            self._row = (self._section, attributes, [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ["", attributes]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[2].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def rows(self, table_id: str, section: str = "tbody") -> list[tuple[dict, list]]:
        return [(attrs, cells) for part, attrs, cells in self.tables[table_id] if part == section]

    def figures(self) -> dict[str, int]:
        return {a["data-figure"]: int(a.get("data-cents") or a["data-count"]) for tag, a in self.elements if "data-figure" in a}

    def all(self, tag: str, css_class: str) -> list[dict]:
        return [a for t, a in self.elements if t == tag and css_class in a.get("class", "").split()]


def _cents(cell) -> int:
    return int(cell[1]["data-cents"])


# --- the numbers against the posted tables ------------------------------------------------------


def test_the_report_reconciles_with_the_posted_tables(world):
    page = world.page("EE")
    period = {"p": SAMPLE_PERIOD}
    runs = world.query("SELECT run_id, status, CAST(ROUND(total_debit * 100) AS BIGINT) AS cents, journal_entry_id FROM allocation_runs "
                       "WHERE entity = 'EE' AND period = :p ORDER BY run_number", **period)
    assert set(runs["status"]) == {"posted", "voided", "calculated"}  # the world has every kind
    entries = world.query("SELECT e.entry_id, e.reverses_entry_id, CAST(ROUND(SUM(l.debit) * 100) AS BIGINT) AS debit "
                          "FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.entry_id WHERE e.entity = 'EE' AND e.period = :p "
                          "GROUP BY e.entry_id, e.reverses_entry_id", **period)
    direct = world.query("SELECT g.cost_center, CAST(ROUND(SUM(g.debit - g.credit) * 100) AS BIGINT) AS cents FROM gl_lines g "
                         "JOIN dim_accounts a ON a.account = g.account WHERE a.type = 'expense' AND g.entity = 'EE' AND g.period = :p "
                         "GROUP BY g.cost_center", **period)
    posted = world.query("SELECT l.cost_center, CAST(ROUND(SUM(l.debit - l.credit) * 100) AS BIGINT) AS cents FROM journal_lines l "
                         "JOIN journal_entries e ON e.entry_id = l.entry_id JOIN dim_accounts a ON a.account = l.account "
                         "WHERE a.type = 'expense' AND e.entity = 'EE' AND e.period = :p GROUP BY l.cost_center", **period)
    posted_runs = runs[runs["status"] == "posted"]
    allocated = world.query("SELECT CAST(ROUND(SUM(l.debit) * 100) AS BIGINT) AS cents FROM journal_lines l JOIN allocation_runs r "
                            "ON r.journal_entry_id = l.entry_id WHERE r.status = 'posted' AND r.entity = 'EE' AND r.period = :p", **period)

    figures = page.figures()
    assert figures["runs"] == len(runs) and figures["runs_posted"] == len(posted_runs)
    assert figures["allocated_cents"] == int(allocated["cents"].iloc[0]) == int(posted_runs["cents"].sum())
    assert figures["entries"] == len(entries) and figures["reversals"] == int(entries["reverses_entry_id"].notna().sum()) == 1
    assert figures["entries_debit_cents"] == int(entries["debit"].sum())
    assert figures["direct_cost_cents"] == int(direct["cents"].sum())
    assert figures["cost_after_cents"] == int(direct["cents"].sum()) + int(posted["cents"].sum())

    expected = pd.merge(direct, posted, on="cost_center", how="outer", suffixes=("_direct", "_allocated")).fillna(0)
    expected = {r.cost_center: (int(r.cents_direct), int(r.cents_allocated), int(r.cents_direct + r.cents_allocated)) for r in expected.itertuples()}
    shown = {attrs["data-cost-object"]: (_cents(c[3]), _cents(c[4]), _cents(c[5])) for attrs, c in page.rows("cost-objects-table")}
    assert shown == expected

    listed = {attrs["data-run"]: (attrs["data-status"], _cents(cells[7]), cells[10][0]) for attrs, cells in page.rows("runs-table")
              if attrs["data-period"] == SAMPLE_PERIOD}
    assert listed == {r.run_id: (r.status, int(r.cents), r.journal_entry_id if isinstance(r.journal_entry_id, str) else "") for r in runs.itertuples()}

    for entry in entries["entry_id"]:
        lines = world.query("SELECT CAST(ROUND(debit * 100) AS BIGINT) AS d, CAST(ROUND(credit * 100) AS BIGINT) AS c, cost_center "
                            "FROM journal_lines WHERE entry_id = :e ORDER BY line_no", e=entry)
        shown = [(_cents(c[5]), _cents(c[6]), c[2][0].split()[0]) for _, c in page.rows(f"lines-{anchor('je', entry)}")]
        assert shown == [(int(r.d), int(r.c), r.cost_center) for r in lines.itertuples()]

    profitability = world.query("SELECT cost_center, CAST(ROUND(margin * 100) AS BIGINT) AS margin FROM profitability "
                                "WHERE entity = 'EE' AND period = :p", **period)
    shown = {a["data-cost-object"]: _cents(c[5]) for a, c in page.rows("profitability-table")}
    assert shown == dict(zip(profitability["cost_center"], profitability["margin"].astype(int)))


def test_the_sankey_reconciles_with_the_posted_runs(world):
    page = world.page("EE")
    links = page.all("path", "link")
    targets = world.query(
        "SELECT r.run_id, l.cost_center, CAST(ROUND(SUM(l.debit - l.credit) * 100) AS BIGINT) AS cents FROM allocation_runs r "
        "JOIN journal_lines l ON l.entry_id = r.journal_entry_id JOIN allocation_lines a ON a.run_id = r.run_id AND a.line_no = l.line_no "
        "WHERE r.status = 'posted' AND r.entity = 'EE' AND r.period = :p AND a.role = 'target' GROUP BY r.run_id, l.cost_center",
        p=SAMPLE_PERIOD,
    )
    by_run: dict[str, int] = {}
    into: dict[str, int] = {}
    for link in links:
        by_run[link["data-run"]] = by_run.get(link["data-run"], 0) + int(link["data-cents"]) * (not link["data-target"].startswith("service:"))
        if link["data-target"].startswith("final:"):
            into[link["data-target"][6:]] = into.get(link["data-target"][6:], 0) + int(link["data-cents"])
    assert by_run == targets.groupby("run_id")["cents"].sum().astype(int).to_dict()
    assert into == targets.groupby("cost_center")["cents"].sum().astype(int).to_dict()
    # The multi-level run goes through the service cost centers: ten of them in EE.
    services = {a["data-node"] for a in page.all("rect", "node") if a["data-layer"] == "1"}
    assert len(services) >= 5 and all(s.startswith("service:EE-") for s in services)
    pools = {a["data-node"]: int(a["data-cents"]) for a in page.all("rect", "node") if a["data-layer"] == "0"}
    totals = world.query("SELECT run_id, CAST(ROUND(total_debit * 100) AS BIGINT) AS cents FROM allocation_runs "
                         "WHERE status = 'posted' AND entity = 'EE' AND period = :p", p=SAMPLE_PERIOD)
    assert pools == {f"pool:{r.run_id}": int(r.cents) for r in totals.itertuples()}


# --- offline, metadata, command line, empty periods ----------------------------------------------


def test_the_report_opens_offline(duckdb_world):
    for entity in ("EE", "US"):
        text = duckdb_world.report(entity).read_text(encoding="utf-8")
        page = ReportPage(text)
        assert "http://" not in text and "https://" not in text
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        external = [(t, a) for t, a in page.elements if t in ("script", "img", "iframe", "link", "object", "embed", "source") and ("src" in a or "href" in a)]
        assert external == []
        assert not [a for t, a in page.elements if t == "a" and not a.get("href", "#").startswith("#")]
        assert "fetch(" not in text and "XMLHttpRequest" not in text and "@import" not in text and "url(" not in text


def test_the_asset_metadata_shows_key_figures_and_links_to_reports_and_runs(duckdb_world):
    metadata = duckdb_world.materialization.metadata
    assert metadata["reports"].value == 2
    for entity in ("EE", "US"):
        path = Path(metadata[f"report_{entity}"].value)
        assert path == duckdb_world.report(entity).resolve() and path.is_file()
        assert metadata[f"report_{entity}_link"].value == path.as_uri()
    runs = duckdb_world.query("SELECT run_id FROM allocation_runs WHERE period = :p", p=SAMPLE_PERIOD)["run_id"]
    assert metadata["runs_in_period"].value == len(runs)
    text = metadata["runs"].value
    for run_id in runs:
        assert f"#{anchor('run', run_id)})" in text
    summary = metadata["summary"].value
    ee = next(line for line in summary.splitlines() if line.startswith("| EE "))
    posted = duckdb_world.query("SELECT CAST(ROUND(SUM(total_debit) * 100) AS BIGINT) AS c FROM allocation_runs "
                                "WHERE status = 'posted' AND entity = 'EE' AND period = :p", p=SAMPLE_PERIOD)["c"].iloc[0]
    from allocation_pipeline.core.money import format_money

    assert f"| {format_money(int(posted))} |" in ee


def test_the_ledger_assets_show_row_counts_and_totals(duckdb_world):
    entries = duckdb_world.pipeline.asset_materializations_for_node("journal_entries")[0].metadata
    runs = duckdb_world.pipeline.asset_materializations_for_node("allocation_runs")[0].metadata
    # As the pipeline left the month, before the CLI's runs of the world.
    posted = duckdb_world.query(
        "SELECT currency, CAST(ROUND(SUM(total_debit) * 100) AS BIGINT) AS c, COUNT(*) AS n FROM journal_entries "
        "WHERE period = :p AND dagster_run_id = :r GROUP BY currency ORDER BY currency", p=SAMPLE_PERIOD, r=duckdb_world.pipeline.run_id,
    )
    from allocation_pipeline.core.money import format_money

    assert entries["dagster/row_count"].value == int(posted["n"].sum()) == 5
    assert entries["total_by_currency"].value == "; ".join(f"{r.currency} {format_money(int(r.c))}" for r in posted.itertuples())
    assert entries["reversals_in_period"].value == 0
    rules = duckdb_world.query(
        "SELECT currency, CAST(ROUND(SUM(total_debit) * 100) AS BIGINT) AS c, COUNT(*) AS n FROM allocation_runs "
        "WHERE period = :p AND origin = 'pipeline' GROUP BY currency ORDER BY currency", p=SAMPLE_PERIOD,
    )
    assert runs["dagster/row_count"].value == int(rules["n"].sum()) == 3
    assert runs["total_by_currency"].value == "; ".join(f"{r.currency} {format_money(int(r.c))}" for r in rules.itertuples())


def test_allocation_report_writes_one_file_per_entity_and_prints_the_paths(duckdb_world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", duckdb_world.url)
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str((tmp_path / "out" / f"{e}.html").resolve()) for e in ("EE", "US")]
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--entity", "US", "--out", str(tmp_path / "us")]) == 0
    assert capsys.readouterr().out.split() == [str((tmp_path / "us" / "US.html").resolve())]
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--entity", "XX", "--out", str(tmp_path / "xx")]) == 2
    assert "unknown entity XX (entities in the warehouse: EE, US)" in capsys.readouterr().err
    monkeypatch.setenv("ALLOCATION_REPORTS_DIR", str(tmp_path / "default"))
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--entity", "EE"]) == 0
    assert capsys.readouterr().out.split() == [str((tmp_path / "default" / SAMPLE_PERIOD / "EE.html").resolve())]


def test_a_period_without_runs_or_insights_still_gets_a_report(duckdb_world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", duckdb_world.url)
    assert cli.main(["report", "--period", "2026-09", "--entity", "EE", "--out", str(tmp_path)]) == 0
    page = ReportPage((tmp_path / "EE.html").read_text(encoding="utf-8"))
    figures = page.figures()
    assert figures["runs"] == 0 and figures["allocated_cents"] == 0 and figures["direct_cost_cents"] == 0
    assert "No posted allocations in this period." in page.text and "No driver analysis for this period." in page.text


def test_the_report_depends_on_every_table_it_reads():
    defs = build_definitions()
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert set(REPORT_INPUTS) <= keys
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key.to_user_string() == "period_report")
    assert {d.asset_key.to_user_string() for d in spec.deps} == set(REPORT_INPUTS)
    assert spec.group_name == "reporting"


# --- the flow computation on literal frames -------------------------------------------------------


def _report_data(allocations: pd.DataFrame, origins: pd.DataFrame) -> ReportData:
    empty = pd.DataFrame()
    return ReportData(
        period="2026-10", entity="EE", entity_name="EE", currency="EUR", period_status="open", first_period="2025-11",
        runs=empty, run_lines=empty, history=empty, entries=empty, entry_lines=empty, links=empty, source_documents=empty,
        allocations=allocations, origins=origins, cost_objects=empty, source_transactions=empty, narratives=empty,
        flags=empty, driver_analysis=empty, profitability=empty, quarantine=empty,
    )


def test_flows_run_from_pools_through_service_centers_to_cost_objects():
    columns = ["run_id", "pool", "source_cost_center", "cost_center", "product", "region", "amount_cents"]
    allocations = pd.DataFrame(
        [
            ("ALLOC-0001", "it_split", "IT", "ENG", None, None, 600),
            ("ALLOC-0001", "it_split", "IT", "HR", None, None, 400),  # a rule feeding a service center
            ("ALLOC-0002", "services", None, "ENG", None, None, 700),
            ("ALLOC-0002", "services", None, "SAL", None, None, 301),  # one cent not explained by origins
        ],
        columns=columns,
    )
    origins = pd.DataFrame(
        [("ALLOC-0002", "ENG", "HR", 500), ("ALLOC-0002", "ENG", "FAC", 200), ("ALLOC-0002", "SAL", "HR", 300)],
        columns=["run_id", "cost_center", "origin", "amount_cents"],
    )
    nodes, links = sankey_flows(_report_data(allocations, origins))
    got = {(l.source, l.target): l.cents for l in links.itertuples()}
    assert got == {
        ("pool:ALLOC-0001", "final:ENG"): 600,
        ("pool:ALLOC-0001", "service:HR"): 400,
        ("service:HR", "final:ENG"): 500,
        ("service:FAC", "final:ENG"): 200,
        ("service:HR", "final:SAL"): 300,
        ("pool:ALLOC-0002", "final:SAL"): 1,
        ("pool:ALLOC-0002", "service:HR"): 400,  # HR passes on 800, of which the rule brought 400
        ("pool:ALLOC-0002", "service:FAC"): 200,
    }
    assert dict(zip(nodes["key"], nodes["layer"])) == {
        "pool:ALLOC-0001": 0, "pool:ALLOC-0002": 0, "service:HR": 1, "service:FAC": 1, "final:ENG": 2, "final:SAL": 2,
    }
    placed, bands, _ = layout(nodes, links)
    # Every service center passes on exactly what flows into it, so its node is as tall both ways.
    assert placed["service:HR"].cents == 800 and placed["final:ENG"].cents == 1300
    for node in placed.values():
        out = sum(b[4] for b in bands if b[1].key == node.key)
        assert out <= node.height + 1e-6


# --- the page in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"headless Chromium is not available (missing {', '.join(missing)}); scripts/test installs Debian chromium and chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (under CI a missing browser is a failure)")
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def click(browser, element) -> None:
    """Click as a reader does: with the element scrolled to the middle, clear of the sticky section bar."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_the_report_renders_and_navigates_in_headless_chromium(duckdb_world, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    world = duckdb_world
    browser.get(world.report("EE").as_uri())
    assert browser.title == f"Period report {SAMPLE_PERIOD} · EE"

    # The Sankey: drawn, with the posted runs' amounts on its pool nodes and a visible band per link.
    sankey = browser.find_element(By.ID, "sankey")
    assert sankey.is_displayed() and sankey.size["width"] > 500 and sankey.size["height"] > 200
    totals = world.query("SELECT run_id, CAST(ROUND(total_debit * 100) AS BIGINT) AS cents FROM allocation_runs "
                         "WHERE status = 'posted' AND entity = 'EE' AND period = :p", p=SAMPLE_PERIOD)
    pools = {e.get_attribute("data-node"): int(e.get_attribute("data-cents")) for e in sankey.find_elements(By.CSS_SELECTOR, "rect.node[data-layer='0']")}
    assert pools == {f"pool:{r.run_id}": int(r.cents) for r in totals.itertuples()}
    bands = sankey.find_elements(By.CSS_SELECTOR, "path.link")
    assert bands and all(b.size["height"] > 0 for b in bands[:20])
    label = sankey.find_element(By.XPATH, ".//*[local-name()='text'][contains(., 'it_overhead_split')]")
    assert "10,000.00" in label.text

    # The runs list opens on the period; its rows and amounts are the warehouse's.
    runs = world.query("SELECT run_id, status, CAST(ROUND(total_debit * 100) AS BIGINT) AS cents FROM allocation_runs "
                       "WHERE entity = 'EE' AND period = :p ORDER BY run_number", p=SAMPLE_PERIOD)
    visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if r.is_displayed()]
    shown = [(r.get_attribute("data-run"), r.get_attribute("data-status"), r.find_elements(By.TAG_NAME, "td")[7].text) for r in visible]
    from allocation_pipeline.core.money import format_money

    assert shown == [(r.run_id, r.status, format_money(int(r.cents))) for r in runs.itertuples()]
    assert browser.find_element(By.ID, "runs-count").text == f"{len(runs)} of {len(runs)} runs shown"

    # Filters: status voided leaves the voided run; type and entity narrow with it; clearing shows all.
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("voided")
    visible = [r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if r.is_displayed()]
    voided = runs[runs["status"] == "voided"]["run_id"].tolist()
    assert visible == voided and len(voided) == 1
    Select(browser.find_element(By.ID, "filter-type")).select_by_value("cost_allocation")
    Select(browser.find_element(By.ID, "filter-entity")).select_by_value("EE")
    assert [r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if r.is_displayed()] == voided
    click(browser, browser.find_element(By.ID, "clear-filters"))
    assert len([r for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if r.is_displayed()]) == len(
        world.query("SELECT run_id FROM allocation_runs WHERE entity = 'EE'")
    )
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("voided")

    # Click the voided run, then its journal entry: the entry's lines are the warehouse's.
    run_id = voided[0]
    click(browser, browser.find_element(By.CSS_SELECTOR, f"#runs-table a[href='#{anchor('run', run_id)}']"))
    detail = browser.find_element(By.ID, anchor("run", run_id))
    assert detail.is_displayed()
    chain = [li.text.split("\n") for li in detail.find_elements(By.CSS_SELECTOR, "ol.chain li")]
    header = world.query("SELECT journal_entry_id, reversal_entry_id FROM allocation_runs WHERE run_id = :r", r=run_id).iloc[0]
    assert [c[-1] for c in chain] == ["EE-BILL000527", run_id, header.journal_entry_id, header.reversal_entry_id]
    click(browser, detail.find_element(By.CSS_SELECTOR, f"ol.chain a[href='#{anchor('je', header.journal_entry_id)}']"))
    entry = browser.find_element(By.ID, anchor("je", header.journal_entry_id))
    assert entry.is_displayed() and not detail.is_displayed()
    lines = world.query("SELECT cost_center, CAST(ROUND(debit * 100) AS BIGINT) AS d, CAST(ROUND(credit * 100) AS BIGINT) AS c "
                        "FROM journal_lines WHERE entry_id = :e ORDER BY line_no", e=header.journal_entry_id)
    rows = entry.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [(r.find_elements(By.TAG_NAME, "td")[2].text.split()[0], r.find_elements(By.TAG_NAME, "td")[5].text, r.find_elements(By.TAG_NAME, "td")[6].text)
            for r in rows] == [(l.cost_center, format_money(int(l.d)), format_money(int(l.c))) for l in lines.itertuples()]
    # ... and on to its reversal, which points back.
    click(browser, entry.find_element(By.CSS_SELECTOR, f"a[href='#{anchor('je', header.reversal_entry_id)}']"))
    reversal = browser.find_element(By.ID, anchor("je", header.reversal_entry_id))
    assert reversal.is_displayed() and f"Reverses {header.journal_entry_id}" in reversal.text

    # Drill-down: a cost object's allocated cost by run and origin, then the source transactions.
    click(browser, browser.find_element(By.CSS_SELECTOR, f"#cost-objects-table a[href='#{anchor('co', 'EE-ENG')}']"))
    cost_object = browser.find_element(By.ID, anchor("co", "EE-ENG"))
    assert cost_object.is_displayed() and "ALLOC-0001" in cost_object.text
    click(browser, cost_object.find_element(By.CSS_SELECTOR, f"ul a[href='#{anchor('src', 'EE-IT')}']"))
    sources = browser.find_element(By.ID, anchor("src", "EE-IT"))
    assert sources.is_displayed() and "EE-ITMS-" in sources.text and "64000" in sources.text

    # Back to the flow for the picture; nothing on the page tried to reach the network.
    browser.get("about:blank")
    browser.get(world.report("EE").as_uri() + "#flow")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "period_report_EE_flow.png"
    shot.unlink(missing_ok=True)
    assert browser.save_screenshot(str(shot))
    assert shot.is_file() and shot.stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


# --- the report agrees with itself (issue 11) ----------------------------------------------------


def test_the_narrative_numbers_are_the_entitys_own_tiles(duckdb_world):
    from allocation_pipeline.core.money import format_money

    for entity in ("EE", "US"):
        page = duckdb_world.page(entity)
        figures = page.figures()
        opening = re.search(r'<div class="narrative"><p>(.*?)</p>', page.text).group(1)
        shown = {format_money(v) for k, v in figures.items() if k.endswith("_cents")} | {f"{v:,}" for k, v in figures.items() if not k.endswith("_cents")}
        numbers = re.findall(r"(?<![\w-])-?\d[\d,]*(?:\.\d\d)?(?![\w-])", opening.replace(SAMPLE_PERIOD, ""))
        assert numbers and all(n in shown for n in numbers), (entity, opening, numbers)
        assert f"of {entity} " in opening
        # Each tile says what it counts, and the two allocation totals say how they differ.
        explains = re.findall(r'<div class="explain">(.*?)</div>', page.text)
        assert len(explains) == len(figures) and all(explains)
        assert "each run counted once" in page.text and "net per cost center" in page.text


def test_sankey_labels_never_overlap_and_no_section_is_an_empty_placeholder(duckdb_world):
    for entity in ("EE", "US"):
        page = duckdb_world.page(entity)
        boxes = [tuple(map(float, a["data-box"].split())) for t, a in page.elements if t == "text" and "data-box" in a]
        assert len(boxes) >= 3
        for i, (x, y, w, h) in enumerate(boxes):
            for x2, y2, w2, h2 in boxes[i + 1:]:
                assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, ((x, y, w, h), (x2, y2, w2, h2))
        assert "<h2>Details</h2>" not in page.text


def test_dagster_metadata_links_to_the_console_when_its_url_is_set(monkeypatch):
    from allocation_pipeline.defs.metadata import console_links

    monkeypatch.delenv("ALLOCATION_CONSOLE_URL", raising=False)
    assert console_links("/runs?period=2026-10", {"ALLOC-0001": "/runs/ALLOC-0001"}) == {}
    monkeypatch.setenv("ALLOCATION_CONSOLE_URL", "http://finance.example:8040/")
    links = console_links("/runs?period=2026-10", {"ALLOC-0001": "/runs/ALLOC-0001"})
    assert links["console"].value == "http://finance.example:8040/runs?period=2026-10"
    assert "[ALLOC-0001](http://finance.example:8040/runs/ALLOC-0001)" in links["console_documents"].value


def test_a_row_with_two_problems_counts_once_among_the_quarantined_rows(posted_duckdb_url):
    """The summary's quarantined rows count each held-back row once; the quarantine table beside it
    has a row per problem (extract, file, column, reason)."""
    from allocation_pipeline.core.report.model import summary_figures
    from allocation_pipeline.warehouse.engine import make_engine
    from allocation_pipeline.warehouse.report_store import read_report_data

    engine = make_engine(posted_duckdb_url)
    try:
        with engine.begin() as conn:
            before = summary_figures(read_report_data(conn, SAMPLE_PERIOD, "EE"))["quarantined_rows"]
            insert = sa.text(
                "INSERT INTO quarantine (extract, partition_key, source_file, row_number, column_name, bad_value, reason, quarantined_at) "
                "VALUES ('gl_lines', :period, '2026-10.csv', :row, :column, 'x', :reason, CURRENT_TIMESTAMP)"
            )
            for row, column, reason in [(7, "debit", "not an amount"), (7, "cost_center", "unknown cost center 'x'"), (9, "debit", "not an amount")]:
                conn.execute(insert, {"period": SAMPLE_PERIOD, "row": row, "column": column, "reason": reason})
            data = read_report_data(conn, SAMPLE_PERIOD, "EE")
    finally:
        engine.dispose()
    assert summary_figures(data)["quarantined_rows"] == before + 2
    assert int(data.quarantine["problems"].sum()) >= 3
