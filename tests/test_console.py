"""The console in-process (Starlette's TestClient on the FastAPI app): sign-in and throttling,
roles, the four-eyes rule, CSRF, escaping of hostile master data, SQL in filters, actions through
the ledger functions and their refusals, pages for runs, documents, periods and quarantine, and
the trusted-header mode. On DuckDB (the ledger's PostgreSQL paths are covered in test_ledger.py
and test_people.py). The real-browser walk is in test_console_browser.py.
"""

from __future__ import annotations

import re
import shutil
from html import unescape

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from allocation_pipeline.console.app import Settings, create_app
from allocation_pipeline.core.report.html import render_report
from allocation_pipeline.warehouse import people_store
from allocation_pipeline.warehouse.engine import make_engine
from allocation_pipeline.warehouse.report_store import read_report_data
from tests.conftest import SAMPLE_PERIOD

SLACK = "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,120.00\ntarget,60002,EE-ENG,60.00,0\ntarget,60002,EE-PRD,36.00,0\ntarget,60002,EE-SAL,24.00,0\n"
PASSWORD = "a long enough password"
SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
USERS = {"vic": "viewer", "pat": "preparer", "ann": "approver", "bob": "approver", "ada": "admin"}


@pytest.fixture(scope="module")
def warehouse(reference_duckdb_template, tmp_path_factory) -> str:
    """A DuckDB ledger with the sample company's master data and 2026-10 GL lines, four users,
    and hostile text in a cost center's name and a bill's description."""
    folder = tmp_path_factory.mktemp("console")
    shutil.copy(reference_duckdb_template, folder / "warehouse.duckdb")
    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        for name, role in USERS.items():
            people_store.create_user(conn, name, role, PASSWORD, created_by="test")
        conn.execute(sa.text("UPDATE dim_cost_centers SET name = :n WHERE cost_center = 'EE-PRD'"), {"n": SCRIPT})
        conn.execute(sa.text("UPDATE gl_lines SET description = :d WHERE document_id = 'EE-BILL000527'"), {"d": IMG})
    engine.dispose()
    return url


@pytest.fixture
def app(warehouse, tmp_path):
    """A fresh copy of the warehouse per test, so runs and throttling never leak between tests."""
    source = sa.engine.make_url(warehouse).database
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(source, copy)
    application = create_app(Settings(f"duckdb:///{copy}"), secret_key="test-secret")
    yield application
    application.state.engine.dispose()


def client(app) -> TestClient:
    return TestClient(app, base_url="http://console.test", follow_redirects=False)


def token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def try_sign_in(app, name: str, password: str = PASSWORD):
    """A fresh browser's sign-in: the client and the login response."""
    browser = client(app)
    form = browser.get("/login")
    return browser, browser.post("/login", data={"name": name, "password": password, "next": "/runs", "csrf_token": token(form.text)})


def sign_in(app, name: str, password: str = PASSWORD) -> TestClient:
    browser, response = try_sign_in(app, name, password)
    assert response.status_code == 303, response.text
    return browser


def post_form(browser: TestClient, page: str, action: str, **fields):
    return browser.post(action, data={"csrf_token": token(browser.get(page).text), **fields})


def submit(browser: TestClient, text: str, name: str = "lines.csv", **fields):
    form = browser.get("/submit")
    return browser.post(
        "/submit", data={"csrf_token": token(form.text), **fields}, files={"file": (name, text.encode(), "text/csv")}
    )


OFFICE = "role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,120.00\ntarget,60002,EE-PRD,120.00,0\n"


def submitted_run(browser: TestClient, text: str = SLACK, document: str = "EE-BILL000527") -> str:
    response = submit(browser, text, source_document=document)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def approve_and_post(app, run_id: str) -> TestClient:
    """bob (an approver who did not prepare it) approves and posts the run; his client."""
    bob = sign_in(app, "bob")
    post_form(bob, f"/runs/{run_id}", f"/runs/{run_id}/approve")
    post_form(bob, f"/runs/{run_id}", f"/runs/{run_id}/post")
    return bob


def flashes(page_html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="flash (?:ok|error)" role="status">(.*?)</p>', page_html)]


def test_unauthenticated_requests_go_to_the_login_page(app):
    browser = client(app)
    for path in ("/runs", "/runs/ALLOC-0001", "/documents/EE-BILL000527", f"/periods/{SAMPLE_PERIOD}/EE", "/quarantine", "/submit"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2F"), path
    assert browser.post("/runs/ALLOC-0001/approve", data={}).status_code == 303
    # The login page never sends anyone to another site afterwards.
    form = browser.get("/login?next=https://evil.example/")
    assert 'name="next" value="/runs"' in form.text


def test_sign_in_sets_a_signed_http_only_same_site_cookie_and_a_wrong_password_says_so(app):
    browser = client(app)
    form = browser.get("/login")
    wrong = browser.post("/login", data={"name": "ann", "password": "nope", "csrf_token": token(form.text)})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    right = browser.post("/login", data={"name": "ann", "password": PASSWORD, "next": "/periods", "csrf_token": token(form.text)})
    assert right.status_code == 303 and right.headers["location"] == "/periods"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert browser.get("/runs").status_code == 200
    # A forged cookie is not a session.
    forged = client(app)
    forged.cookies.set("allocation_session", right.cookies.get("allocation_session")[:-4] + "AAAA")
    assert forged.get("/runs").status_code == 303


def test_five_wrong_passwords_in_a_row_are_throttled(app):
    browser = client(app)
    csrf = token(browser.get("/login").text)
    for attempt in range(5):
        response = browser.post("/login", data={"name": "bob", "password": f"guess {attempt}", "csrf_token": csrf})
        assert response.status_code == 401
    assert "too many wrong passwords in a row for bob" in unescape(response.text)
    response = browser.post("/login", data={"name": "bob", "password": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 401 and "try again in 5 minute(s)" in unescape(response.text)


def test_a_viewer_may_read_but_every_post_is_refused_with_403(app):
    approver = sign_in(app, "ann")
    run_id = submitted_run(approver)
    viewer = sign_in(app, "vic")
    page = viewer.get(f"/runs/{run_id}")
    assert page.status_code == 200 and 'id="approve"' not in page.text
    for action, fields in (("approve", {}), ("reject", {"reason": "no"}), ("post", {}), ("void", {"reason": "no"})):
        response = post_form(viewer, f"/runs/{run_id}", f"/runs/{run_id}/{action}", **fields)
        assert response.status_code == 403 and "vic (viewer) may not" in unescape(response.text), action
    assert viewer.get("/submit").status_code == 403
    assert "calculated" in viewer.get(f"/runs/{run_id}").text


def test_four_eyes_in_the_console(app):
    preparer = sign_in(app, "pat")
    run_id = submitted_run(preparer)
    # A preparer cannot approve at all; an approver who submitted cannot approve their own run.
    response = post_form(preparer, f"/runs/{run_id}", f"/runs/{run_id}/approve")
    assert response.status_code == 403 and "pat (preparer) may not approve" in unescape(response.text)
    ann = sign_in(app, "ann")
    own = submitted_run(ann, OFFICE, "EE-BILL000528")
    response = post_form(ann, f"/runs/{own}", f"/runs/{own}/approve")
    assert response.status_code == 303
    page = ann.get(f"/runs/{own}").text
    assert f"{own}: ann prepared this run and cannot approve it too (four-eyes rule)" in flashes(page)[0]
    assert 'id="preparer">ann<' in page
    # Another approver approves; the preparer still cannot post.
    bob = sign_in(app, "bob")
    post_form(bob, f"/runs/{own}", f"/runs/{own}/approve", reason="checked against the bill")
    post_form(ann, f"/runs/{own}", f"/runs/{own}/post")
    assert "cannot post it too (four-eyes rule)" in flashes(ann.get(f"/runs/{own}").text)[0]
    post_form(bob, f"/runs/{own}", f"/runs/{own}/post")
    page = bob.get(f"/runs/{own}").text
    assert re.search(rf"{own} posted as EE-CAL\d+", flashes(page)[0])
    # Every history row names the signed-in person.
    who = re.findall(r'<span class="by">([^<]+)</span>', page)
    assert who == ["ann", "ann", "bob", "bob"]


def test_a_post_without_a_valid_csrf_token_is_refused(app):
    ann = sign_in(app, "pat")
    run_id = submitted_run(ann)
    bob = sign_in(app, "bob")
    for data in ({}, {"csrf_token": "forged"}):
        response = bob.post(f"/runs/{run_id}/approve", data=data)
        assert response.status_code == 403 and "CSRF check failed" in response.text
    # The login form and sign-out are protected too.
    assert client(app).post("/login", data={"name": "bob", "password": PASSWORD}).status_code == 403
    assert bob.post("/logout").status_code == 403
    assert "calculated" in bob.get(f"/runs/{run_id}").text


def test_hostile_text_in_master_data_and_descriptions_is_escaped_everywhere(app):
    ann = sign_in(app, "pat")
    run_id = submitted_run(ann)
    bob = approve_and_post(app, run_id)
    entry = re.search(r"EE-CAL\d+", bob.get(f"/runs/{run_id}").text).group(0)
    pages = {
        "run": bob.get(f"/runs/{run_id}").text,
        "document": bob.get("/documents/EE-BILL000527").text,
        "entry": bob.get(f"/documents/{entry}").text,
        "period": bob.get(f"/periods/{SAMPLE_PERIOD}/EE").text,
    }
    assert SCRIPT not in pages["run"] and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in pages["run"]
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages["document"]
    for name, text in pages.items():
        assert SCRIPT not in text and IMG not in text and "<img" not in text, name
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.connect() as conn:
        static = render_report(read_report_data(conn, SAMPLE_PERIOD, "EE"))
    engine.dispose()
    assert SCRIPT not in static and "<img" not in static


@pytest.mark.parametrize(
    "query",
    [
        {"entity": "EE' OR '1'='1"}, {"status": "posted'; DROP TABLE allocation_runs; --"}, {"period": "2026-10' UNION SELECT 1 --"},
        {"sort": "run_id; DROP TABLE allocation_runs", "dir": "asc"}, {"rule": "x\") OR 1=1 --"},
    ],
)
def test_sql_in_filter_values_is_only_a_value(app, query):
    ann = sign_in(app, "pat")
    submitted_run(ann)
    response = ann.get("/runs", params=query)
    assert response.status_code == 200
    expected = "1 runs match" if set(query) <= {"sort", "dir"} else "0 runs match"
    assert expected in response.text
    assert "1 runs match" in ann.get("/runs").text  # the table is still there


def test_a_runs_lines_are_paged_and_the_totals_are_over_all_lines(app, monkeypatch):
    from allocation_pipeline.warehouse import console_store

    pat = sign_in(app, "pat")
    run_id = submitted_run(pat)
    monkeypatch.setattr(console_store, "LINES_PAGE_SIZE", 3)

    def shown(page_html):
        table = page_html.split('id="lines-table"')[1].split("</tbody>")[0]
        return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", table)]

    def totals(page_html):
        footer = page_html.split('id="lines-table"')[1].split("<tfoot>")[1].split("</tfoot>")[0]
        return re.findall(r'data-cents="(\d+)"', footer)

    first = pat.get(f"/runs/{run_id}").text
    assert shown(first) == [1, 2, 3] and "Lines 1–3 of 4 (page 1 of 2); totals over all lines." in first
    assert totals(first) == ["12000", "12000"] and 'href="?lines_page=2#lines"' in first
    second = pat.get(f"/runs/{run_id}", params={"lines_page": 2}).text
    assert shown(second) == [4] and totals(second) == ["12000", "12000"] and 'href="?lines_page=1#lines"' in second
    # A page past the end shows the last one; a run that fits one page has no paging.
    assert shown(pat.get(f"/runs/{run_id}", params={"lines_page": 99}).text) == [4]
    monkeypatch.setattr(console_store, "LINES_PAGE_SIZE", 1000)
    whole = pat.get(f"/runs/{run_id}").text
    assert shown(whole) == [1, 2, 3, 4] and "4 lines." in whole and "lines_page" not in whole


def test_a_request_opens_the_ledger_once_for_the_user_and_the_page(app):
    opened = []
    sa.event.listen(app.state.engine, "connect", lambda *args: opened.append(1))
    pat = sign_in(app, "pat")
    run_id = submitted_run(pat)
    bob = sign_in(app, "bob")
    for path in (f"/runs/{run_id}", "/runs", f"/periods/{SAMPLE_PERIOD}/EE", "/documents/EE-BILL000527"):
        opened.clear()
        assert bob.get(path).status_code == 200
        assert len(opened) == 1, path
    form = bob.get(f"/runs/{run_id}").text
    opened.clear()
    assert bob.post(f"/runs/{run_id}/approve", data={"csrf_token": token(form)}).status_code == 303
    assert len(opened) == 1
    assert "approved" in bob.get(f"/runs/{run_id}").text


def test_a_run_voided_from_two_tabs_is_voided_once_and_the_second_tab_is_told(app):
    pat = sign_in(app, "pat")
    run_id = submitted_run(pat)
    bob = approve_and_post(app, run_id)
    form = bob.get(f"/runs/{run_id}").text  # both tabs show the same page and token
    first = bob.post(f"/runs/{run_id}/void", data={"csrf_token": token(form), "reason": "wrong split"})
    second = bob.post(f"/runs/{run_id}/void", data={"csrf_token": token(form), "reason": "wrong split"})
    assert first.status_code == second.status_code == 303
    messages = flashes(bob.get(f"/runs/{run_id}").text)
    assert re.match(rf"{run_id} voided; reversing entry EE-CAL\d+", messages[0])
    assert messages[1] == f"{run_id}: cannot go from voided to voided (allowed from voided: none (final state))"
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM journal_entries")).scalar_one() == 2
    engine.dispose()


def test_a_warehouse_error_during_an_action_is_a_message_and_is_not_retried(app, monkeypatch):
    from allocation_pipeline.warehouse import ledger_store

    run_id = submitted_run(sign_in(app, "pat"))
    bob = sign_in(app, "bob")
    form = bob.get(f"/runs/{run_id}").text
    calls = []

    def full_disk(conn, run_id, by, reason=None):
        calls.append(run_id)
        raise sa.exc.OperationalError("UPDATE allocation_runs", {}, OSError("No space left on device"))

    monkeypatch.setattr(ledger_store, "approve_run", full_disk)
    response = bob.post(f"/runs/{run_id}/approve", data={"csrf_token": token(form)})
    assert response.status_code == 303 and calls == [run_id]  # only write conflicts are tried again
    page = bob.get(f"/runs/{run_id}").text
    assert flashes(page) == [f"{run_id}: the warehouse refused the change (No space left on device); nothing done"]
    assert "calculated" in page


def test_a_submission_lists_every_problem_and_writes_nothing_then_the_fixed_file_goes_in(app):
    pat = sign_in(app, "pat")
    bad = "role,account,cost_center,debit,credit\nsource,99999,EE-ENG,0,120.00\ntarget,60002,EE-NOPE,60.00,0\nbogus,60002,EE-SAL,abc,0\n"
    response = submit(pat, bad, name="bad lines.csv", entity="EE", period=SAMPLE_PERIOD)
    assert response.status_code == 422
    problems = re.findall(r"<li>(.*?)</li>", response.text.split('id="submit-errors"')[1].split("</ul>")[0])
    assert len(problems) >= 2 and all("bad_lines.csv" in unescape(p) for p in problems)
    response = submit(pat, SLACK.replace("60.00,0", "61.00,0"), source_document="EE-BILL000527")
    assert response.status_code == 422 and "Submission refused; nothing was written" in response.text
    assert "0 runs match" in pat.get("/runs").text
    response = submit(pat, SLACK, source_document="EE-BILL000527")
    assert response.status_code == 303
    page = pat.get(response.headers["location"]).text
    assert "calculated from lines.csv: 4 lines, 120.00 EUR" in flashes(page)[0]


def test_document_pages_show_their_badges_and_remaining_balances(app):
    pat = sign_in(app, "pat")
    run_id = submit(pat, SLACK.replace("120.00", "100.00").replace("60.00,0", "40.00,0"), source_document="EE-BILL000527").headers["location"].rsplit("/", 1)[-1]
    bob = approve_and_post(app, run_id)
    document = bob.get("/documents/EE-BILL000527").text
    assert f'data-run="{run_id}">Allocated by <a href="/runs/{run_id}">' in document
    row = re.search(r'<tr data-account="60002">(.*?)</tr>', document).group(1)
    assert re.findall(r'data-cents="(-?\d+)"', row) == ["12000", "10000", "2000"]
    entry = re.search(r'<a href="/documents/(EE-CAL\d+)">', bob.get(f"/runs/{run_id}").text).group(1)
    page = bob.get(f"/documents/{entry}").text
    assert f'Created by allocation <a href="/runs/{run_id}">{run_id}</a>' in page
    assert bob.get("/documents/NOPE-1").status_code == 404


def test_the_period_page_and_the_static_report_show_the_same_figures(app):
    pat = sign_in(app, "pat")
    run_id = submitted_run(pat)
    bob = approve_and_post(app, run_id)
    page = bob.get(f"/periods/{SAMPLE_PERIOD}/EE").text
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.connect() as conn:
        static = render_report(read_report_data(conn, SAMPLE_PERIOD, "EE"))
    engine.dispose()

    def figures(text):
        return re.findall(r'data-figure="(\w+)" data-(?:cents|count)="(-?\d+)"', text)

    assert figures(page) == figures(static) and ("allocated_cents", "12000") in figures(page)
    assert f'href="/runs/{run_id}"' in page and f'href="#run-{run_id}"' in static
    assert bob.get(f"/periods/{SAMPLE_PERIOD}/XX").status_code == 404


def test_the_period_page_loads_the_reports_filter_script_which_the_policy_allows(app):
    from importlib import resources

    submitted_run(sign_in(app, "pat"))
    vic = sign_in(app, "vic")
    page = vic.get(f"/periods/{SAMPLE_PERIOD}/EE")
    assert '<script src="/report.js" defer></script>' in page.text and "<script>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    script = vic.get("/report.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.text == resources.files("allocation_pipeline.core.report").joinpath("report.js").read_text(encoding="utf-8")
    assert 'select[data-filter]' in script.text and 'data-filter="status"' in page.text


def test_quarantine_review_per_extract_and_period(app):
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO quarantine (extract, partition_key, source_file, row_number, column_name, bad_value, reason, quarantined_at) "
            "VALUES ('gl_lines', :p, 'gl_lines/2026-10.csv', 7, 'debit', :v, 'not a number', CURRENT_TIMESTAMP)"
        ), {"p": SAMPLE_PERIOD, "v": SCRIPT})
    engine.dispose()
    vic = sign_in(app, "vic")
    listing = vic.get("/quarantine").text
    assert f'/quarantine?extract=gl_lines&amp;period={SAMPLE_PERIOD}' in listing
    rows = vic.get("/quarantine", params={"extract": "gl_lines", "period": SAMPLE_PERIOD}).text
    assert "not a number" in rows and SCRIPT not in rows


def test_trusted_header_mode_takes_the_user_from_the_proxy_header(warehouse, tmp_path):
    import shutil

    copy = tmp_path / "w.duckdb"
    shutil.copy(sa.engine.make_url(warehouse).database, copy)
    app = create_app(Settings(f"duckdb:///{copy}", trusted_header="X-Forwarded-User"), secret_key="k")
    try:
        browser = client(app)
        assert browser.get("/runs").status_code == 303
        assert browser.get("/runs", headers={"X-Forwarded-User": "stranger"}).status_code == 303
        page = browser.get("/runs", headers={"X-Forwarded-User": "vic"})
        assert page.status_code == 200 and "vic · viewer" in page.text
        csrf = token(browser.get("/login").text)
        assert browser.post("/login", data={"name": "vic", "password": PASSWORD, "csrf_token": csrf}).status_code == 403
        # An admin adds people without a password: they sign in through the proxy.
        ada = {"X-Forwarded-User": "ada"}
        users = browser.get("/users", headers=ada).text
        assert 'id="new-password"' not in users and "reset-password" not in users
        response = browser.post("/users", headers=ada, data={"csrf_token": token(users), "name": "sam", "role": "preparer"})
        assert response.status_code == 303
        assert "sam · preparer" in browser.get("/submit", headers={"X-Forwarded-User": "sam"}).text
    finally:
        app.state.engine.dispose()


def user_row(page_html: str, name: str) -> str:
    return re.search(rf'<tr data-user="{re.escape(name)}">(.*?)</tr>', page_html, re.S).group(1)


def test_only_an_admin_manages_users(app):
    for name in ("vic", "pat", "ann"):
        browser = sign_in(app, name)
        assert browser.get("/users").status_code == 403
        assert 'href="/users"' not in browser.get("/runs").text
        response = post_form(browser, "/runs", "/users", name="intruder", role="admin", password=PASSWORD)
        assert response.status_code == 403 and f"{name} ({USERS[name]}) may not manage users" in unescape(response.text)
        for action, fields in (("role", {"role": "admin"}), ("active", {"active": "0"}), ("password", {"password": PASSWORD + "!"})):
            response = post_form(browser, "/runs", f"/users/ada/{action}", **fields)
            assert response.status_code == 403, (name, action)
    ada = sign_in(app, "ada")
    assert 'href="/users"' in ada.get("/runs").text
    # Without a valid CSRF token even an admin is refused.
    assert ada.post("/users", data={"name": "x.y", "role": "viewer", "password": PASSWORD}).status_code == 403
    assert "intruder" not in ada.get("/users").text
    assert sign_in(app, "vic").get("/runs").status_code == 200  # nothing changed for the others


def test_an_admin_adds_a_user_who_can_then_sign_in_and_manages_their_role_state_and_password(app):
    ada = sign_in(app, "ada")
    response = post_form(ada, "/users", "/users", name="nina", role="approver", password="nina's first password")
    assert response.status_code == 303
    listing = ada.get("/users").text
    assert "user nina added with role approver" in flashes(listing)[0]
    assert '<td class="role">approver</td>' in user_row(listing, "nina") and "<td>ada</td>" in user_row(listing, "nina")
    nina = sign_in(app, "nina", "nina's first password")
    assert "nina · approver" in nina.get("/runs").text
    # The same store functions as `allocation users`: the CLI's rules and messages apply.
    response = post_form(ada, "/users", "/users", name="nina", role="viewer", password=PASSWORD)
    assert response.status_code == 422 and "user nina exists already" in unescape(response.text)
    response = post_form(ada, "/users", "/users", name="short", role="viewer", password="short")
    assert response.status_code == 422 and "a password needs at least 10 characters" in response.text
    # Role: nina becomes a viewer and loses the approver's actions at once.
    post_form(ada, "/users", "/users/nina/role", role="viewer")
    assert "user nina now has role viewer" in flashes(ada.get("/users").text)[0]
    assert "nina · viewer" in nina.get("/runs").text and nina.get("/submit").status_code == 403
    post_form(ada, "/users", "/users/nina/role", role="overlord")
    assert "role 'overlord' is not one of viewer, preparer, approver, admin" in unescape(flashes(ada.get("/users").text)[0])
    # Deactivated: the open session ends and signing in is refused; activated again: back in.
    post_form(ada, "/users", "/users/nina/active", active="0")
    assert "deactivated" in user_row(ada.get("/users").text, "nina")
    assert nina.get("/runs").status_code == 303
    assert try_sign_in(app, "nina", "nina's first password")[1].status_code == 401
    post_form(ada, "/users", "/users/nina/active", active="1")
    sign_in(app, "nina", "nina's first password")
    # A password reset: the old one stops working, the new one works, a short one is refused.
    post_form(ada, "/users", "/users/nina/password", password="short")
    assert "a password needs at least 10 characters" in flashes(ada.get("/users").text)[0]
    post_form(ada, "/users", "/users/nina/password", password="nina's second password")
    assert try_sign_in(app, "nina", "nina's first password")[1].status_code == 401
    sign_in(app, "nina", "nina's second password")
    post_form(ada, "/users", "/users/nobody/role", role="viewer")
    assert "no user nobody" in flashes(ada.get("/users").text)[0]


def test_an_admin_cannot_lock_themselves_out_in_the_console(app):
    ada = sign_in(app, "ada")
    assert "you (another admin changes your own account)" in user_row(ada.get("/users").text, "ada")
    for action, fields in (("role", {"role": "viewer"}), ("active", {"active": "0"})):
        response = post_form(ada, "/users", f"/users/ada/{action}", **fields)
        assert response.status_code == 409 and "you cannot" in response.text, action
    assert "ada · admin" in ada.get("/users").text


def test_user_names_are_escaped_on_the_users_page(app):
    ada = sign_in(app, "ada")
    response = post_form(ada, "/users", "/users", name=SCRIPT, role="viewer", password=PASSWORD)
    assert response.status_code == 422 and SCRIPT not in response.text
    assert "user name &#39;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#39; must be 1-64 letters" in response.text
    # A name that reached the table some other way (an older version, a hand edit) is still only text.
    engine = make_engine(app.state.settings.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET created_by = :by WHERE user_name = 'vic'"), {"by": IMG})
    engine.dispose()
    listing = ada.get("/users").text
    assert IMG not in listing and "<img" not in listing and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in listing
