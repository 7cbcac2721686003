"""The console in headless Chromium (Debian's chromium and chromium-driver, as the report test):
a preparer uploads a submission, sees its errors, fixes it and signs out; an approver filters the
runs list, opens the run, approves and posts it, follows the chain to the journal entry and back
to the source document, and voids the run. Screenshots of the runs list, a run detail and a
period page go to test-artifacts/. The console is served by uvicorn on a free port in a thread.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import sqlalchemy as sa
import uvicorn

from allocation_pipeline.console.app import Settings, create_app
from tests.conftest import SAMPLE_PERIOD
from tests.test_console import PASSWORD, SLACK, warehouse  # noqa: F401 (the fixture)
from tests.test_period_report import ARTIFACTS, browser, click  # noqa: F401 (the fixture)


@pytest.fixture
def console_url(warehouse, tmp_path):  # noqa: F811
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(sa.engine.make_url(warehouse).database, copy)
    app = create_app(Settings(f"duckdb:///{copy}"), secret_key="browser-test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def test_preparer_and_approver_walk_a_run_from_upload_to_void(console_url, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.implicitly_wait(5)

    def go(element):
        """Click something that loads a new page, and wait until the old one is gone."""
        click(browser, element)
        WebDriverWait(browser, 15).until(lambda _: gone(element))

    def gone(element) -> bool:
        # While the new page replaces the old one, ChromeDriver may answer about the old element
        # with "Node with given id does not belong to the document" instead of a stale reference.
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    def sign_in(name):
        browser.delete_all_cookies()
        browser.get(console_url + "/runs")
        wait_for_url("/login")
        browser.find_element(By.ID, "name").send_keys(name)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        go(browser.find_element(By.ID, "sign-in"))
        assert f"{name} ·" in browser.find_element(By.CSS_SELECTOR, ".who").text

    def wait_for_url(fragment):
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 10).until(lambda b: fragment in b.current_url)
        return browser.current_url

    def flash():
        return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "p.flash")]

    # The preparer: a file with mistakes is refused with every problem, the fixed one goes in.
    bad = tmp_path / "slack.csv"
    bad.write_text(SLACK.replace("60002,EE-PRD", "99999,EE-PRD").replace("24.00,0", "25.00,0"))
    sign_in("pat")
    browser.get(console_url + "/submit")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.ID, "source_document").send_keys("EE-BILL000527")
    go(browser.find_element(By.ID, "submit"))
    errors = browser.find_element(By.ID, "submit-errors")
    assert "nothing was written" in errors.text and len(errors.find_elements(By.TAG_NAME, "li")) >= 2
    bad.write_text(SLACK)
    browser.find_element(By.ID, "file").send_keys(str(bad))
    go(browser.find_element(By.ID, "submit"))
    run_id = wait_for_url("/runs/ALLOC-").rsplit("/", 1)[-1]
    assert run_id.startswith("ALLOC-") and "calculated from slack.csv" in flash()[0]
    assert not browser.find_elements(By.ID, "approve")  # a preparer has no approve button
    go(browser.find_element(By.ID, "logout"))
    wait_for_url("/login")

    # The approver: filter, open, approve, post.
    sign_in("ann")
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("calculated")
    go(browser.find_element(By.ID, "apply-filters"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    assert [r.get_attribute("data-run") for r in rows] == [run_id]
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "console_runs_list.png"))
    go(rows[0].find_element(By.LINK_TEXT, run_id))
    browser.find_element(By.ID, "approve-reason").send_keys("matches the Slack bill")
    go(browser.find_element(By.ID, "approve"))
    assert flash() == [f"{run_id} approved by ann"]
    go(browser.find_element(By.ID, "post"))
    entry = flash()[0].rsplit(" ", 1)[-1]
    assert entry.startswith("EE-CAL")
    assert browser.save_screenshot(str(ARTIFACTS / "console_run_detail.png"))

    # The chain: run -> journal entry -> back to the run -> the source document.
    go(browser.find_element(By.CSS_SELECTOR, f"#chain a[href='/documents/{entry}']"))
    assert f"Created by allocation {run_id}" in browser.find_element(By.ID, "created-by").text
    go(browser.find_element(By.CSS_SELECTOR, f"#created-by a[href='/runs/{run_id}']"))
    go(browser.find_element(By.CSS_SELECTOR, "#chain a[href='/documents/EE-BILL000527']"))
    badge = browser.find_element(By.CSS_SELECTOR, f".badge.allocated[data-run='{run_id}']")
    assert "Allocated by" in badge.text and "posted" in badge.text
    remaining = browser.find_element(By.CSS_SELECTOR, "#balances tr[data-account='60002']").find_elements(By.TAG_NAME, "td")[3].text
    assert remaining == "0.00"

    # Void it, then the period page.
    go(badge.find_element(By.LINK_TEXT, run_id))
    browser.find_element(By.ID, "void-reason").send_keys("wrong percentages")
    go(browser.find_element(By.ID, "void"))
    assert flash()[0].startswith(f"{run_id} voided; reversing entry EE-CAL")
    assert "voided" in browser.find_element(By.CSS_SELECTOR, "h1 .badge").text
    browser.get(f"{console_url}/periods/{SAMPLE_PERIOD}/EE")
    assert browser.find_element(By.CSS_SELECTOR, "[data-figure='runs']").get_attribute("data-count") == "1"
    assert browser.save_screenshot(str(ARTIFACTS / "console_period_page.png"))
    for name in ("console_runs_list.png", "console_run_detail.png", "console_period_page.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
    # The refused upload answers 422 on purpose; nothing else may fail.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "/submit - " not in e["message"]]
    browser.implicitly_wait(0)
    assert errors == []


def test_the_period_pages_runs_filters_work_in_the_console(console_url, browser, tmp_path):  # noqa: F811
    """The filters come from the static report's script, served under the console's policy."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from allocation_pipeline.core.ledger.submission import read_submission
    from allocation_pipeline.warehouse import ledger_store
    from allocation_pipeline.warehouse.engine import make_engine

    # Two runs of the period, one calculated and one rejected, made by the ledger functions.
    engine = make_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    with engine.begin() as conn:
        run_ids = []
        for document, name in (("EE-BILL000527", "a.csv"), ("EE-BILL000528", "b.csv")):
            path = tmp_path / name
            path.write_text(SLACK)
            result = ledger_store.submit_submission(conn, read_submission(path), "pat", name, source_document=document)
            run_ids.append(result.run_id)
        ledger_store.reject_run(conn, run_ids[1], "ann", "not this month")
    engine.dispose()

    browser.delete_all_cookies()
    browser.get(console_url + "/login")
    browser.find_element(By.ID, "name").send_keys("vic")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click(browser, browser.find_element(By.ID, "sign-in"))
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/runs"))
    browser.get(f"{console_url}/periods/{SAMPLE_PERIOD}/EE")
    count = browser.find_element(By.ID, "runs-count")
    assert count.text == "2 of 2 runs shown"  # written by the script: it ran

    def shown():
        return [r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr") if r.is_displayed()]

    Select(browser.find_element(By.ID, "filter-status")).select_by_value("rejected")
    assert shown() == [run_ids[1]] and count.text == "1 of 2 runs shown"
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("calculated")
    assert shown() == [run_ids[0]]
    click(browser, browser.find_element(By.ID, "clear-filters"))
    assert sorted(shown()) == sorted(run_ids) and count.text == "2 of 2 runs shown"
    violations = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert violations == []  # no script refused by the Content-Security-Policy
