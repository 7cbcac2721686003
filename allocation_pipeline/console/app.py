"""The finance console: a FastAPI application on the ledger, rendered from the project's Jinja2
templates (the period page and the static period report share theirs).

Views are thin: parse the request, call the same store function the CLI calls inside one
transaction, render a template. Permissions and CSRF are checked by `auth.requires` alone. A
request uses one connection (`auth.connection`) for the permission check and the view.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import duckdb
import sqlalchemy as sa
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from allocation_pipeline.console.auth import (
    Refused,
    Settings,
    SignInNeeded,
    csrf_token,
    current_user,
    login_url,
    requires,
    safe_next,
    check_csrf,
    connection,
    transaction,
)
from allocation_pipeline.console.cells import shown_rows
from allocation_pipeline.core.ledger.lifecycle import LifecycleError
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.ledger.people import ROLES, allowed
from allocation_pipeline.core.report.rendering import render, rows
from allocation_pipeline.core.allocation.rules import RUN_TYPES
from allocation_pipeline.core.ledger.submission import SubmissionError, read_submission
from allocation_pipeline.warehouse import console_store, ledger_store, people_store
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

SESSION_COOKIE = "allocation_session"
SESSION_MAX_AGE = 8 * 3600
# A run's line columns that may be missing (shown blank).
LINE_TEXT_COLUMNS = ["account_name", "cost_center", "cost_center_name", "product", "region", "driver", "explanation"]
PREVIEW_TEXT_COLUMNS = ["cost_center", "product", "region", "driver", "explanation"]
# Scripts only from this site (the period page's filters, /report.js), never inline: markup that
# slipped through escaping still could not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
)
# After a write conflict (another request wrote the same run first) an action is tried again after
# these pauses; the other request's transaction is a few milliseconds long.
CONFLICT_RETRY_SECONDS = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
# Upload names are used only for messages; keep them to plain characters.
_UPLOAD_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def write_conflict(exc: sa.exc.DBAPIError) -> bool:
    """Another transaction wrote the same rows first: DuckDB's optimistic write conflict, or a
    PostgreSQL serialization failure or deadlock (SQLSTATE 40001, 40P01). Worth trying again."""
    return isinstance(exc.orig, duckdb.TransactionException) or getattr(exc.orig, "sqlstate", None) in ("40001", "40P01")


def create_app(settings: Settings, secret_key: str | None = None) -> FastAPI:
    """The console on `settings.warehouse_url`. `secret_key` signs the session cookie (a fresh
    random one when None: sessions then end when the process does). The engine is
    `app.state.engine`; whoever creates the app disposes of it."""
    engine = make_engine(settings.warehouse_url, hold_open=False)
    ensure_schema(engine)
    app = FastAPI(title="Allocation console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.secure_cookie,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            CONTENT_SECURITY_POLICY,
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(SignInNeeded)
    async def to_login(request: Request, exc: SignInNeeded):
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return page(request, "console/refused.html", {"message": exc.message}, status_code=exc.status)

    def page(request: Request, template: str, context: dict, status_code: int = 200, user=None) -> HTMLResponse:
        user = user if user is not None else current_user(request)
        flashes = request.session.pop("flash", [])
        html = render(
            template, request=request, user=user, csrf=csrf_token(request), flashes=flashes, can=lambda action: user is not None and allowed(user.role, action),
            trusted_header=settings.trusted_header, **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def flash(request: Request, kind: str, message: str) -> None:
        request.session["flash"] = request.session.get("flash", []) + [{"kind": kind, "message": message}]

    # --- signing in ------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/runs"):
        return page(request, "console/login.html", {"next": safe_next(next), "error": None, "name": ""}, user=None)

    @app.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/runs"), conn: sa.Connection = Depends(connection),
    ):
        await check_csrf(request)
        if settings.trusted_header:
            raise Refused(403, f"Sign-in is through single sign-on here (header {settings.trusted_header}).")
        with transaction(conn):
            outcome = people_store.authenticate(conn, name.strip(), password)
        if outcome.user is None:
            return page(request, "console/login.html", {"next": safe_next(next), "error": outcome.refusal, "name": name}, status_code=401, user=None)
        request.session.clear()
        request.session["user"] = outcome.user.name
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        await check_csrf(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- reading ---------------------------------------------------------------------------------

    @app.get("/")
    def home(user=Depends(requires("view"))):
        return RedirectResponse("/runs", status_code=303)

    @app.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request, entity: str = "", status: str = "", type: str = "", period: str = "", rule: str = "",
        sort: str = "run", dir: str = "desc", page_number: int = 1, user=Depends(requires("view")), conn: sa.Connection = Depends(connection),
    ):
        filters = {"entity": entity, "status": status, "type": type, "period": period, "rule": rule}
        listing = console_store.runs_page(conn, filters, sort=sort, descending=dir != "asc", page=page_number)
        return page(
            request, "console/runs.html",
            {"listing": listing, "runs": rows(listing.runs), "filters": filters, "sort": sort, "dir": dir, "sorts": list(console_store.SORTS)},
            user=user,
        )

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_detail(
        request: Request, run_id: str, lines_page: int = 1, user=Depends(requires("view")), conn: sa.Connection = Depends(connection),
    ):
        try:
            run = ledger_store.get_run(conn, run_id)
        except ledger_store.RunNotFound as exc:
            raise Refused(404, str(exc)) from None
        lines = console_store.run_lines_page(conn, run_id, page=lines_page)
        history = ledger_store.run_history(conn, run_id)
        preparer = people_store.preparer_of_run(conn, run_id)
        context = {
            "run": run, "lines": lines, "line_rows": shown_rows(lines.lines, texts=LINE_TEXT_COLUMNS, numbers=["driver_value"], shares=["share"]),
            "history": rows(history), "preparer": preparer,
        }
        return page(request, "console/run.html", context, user=user)

    @app.get("/documents/{document_id}", response_class=HTMLResponse)
    def document(request: Request, document_id: str, user=Depends(requires("view")), conn: sa.Connection = Depends(connection)):
        entry = console_store.journal_entry(conn, document_id)
        if entry is not None:
            lines = console_store.journal_lines(conn, document_id)
            reversal = conn.execute(
                sa.select(sa.column("entry_id")).select_from(sa.table("journal_entries")).where(
                    sa.column("reverses_entry_id") == sa.bindparam("entry_id", document_id)
                )
            ).scalar_one_or_none()
            return page(request, "console/entry.html", {"entry": entry, "lines": rows(lines), "reversal": reversal}, user=user)
        gl = console_store.document_lines(conn, document_id)
        ap = console_store.ap_invoice_lines(conn, document_id)
        if gl.empty and ap.empty:
            raise Refused(404, f"no GL document, AP invoice or journal entry {document_id} in the warehouse")
        runs_of = console_store.runs_of_document(conn, document_id)
        context = ledger_store.document_context(conn, document_id)
        balances = []
        if context is not None:
            for account, amount in sorted(context.amounts.items()):
                taken, run_ids = context.allocated(account)
                balances.append({"account": account, "amount_cents": amount, "allocated_cents": taken, "remaining_cents": amount - taken, "runs": run_ids})
        return page(
            request, "console/document.html",
            {"document_id": document_id, "gl": rows(gl), "ap": rows(ap), "runs": rows(runs_of), "balances": balances},
            user=user,
        )

    @app.get("/periods", response_class=HTMLResponse)
    def periods(request: Request, user=Depends(requires("view")), conn: sa.Connection = Depends(connection)):
        listing = console_store.periods(conn)
        return page(request, "console/periods.html", {"periods": rows(listing)}, user=user)

    @app.get("/periods/{period}/{entity}", response_class=HTMLResponse)
    def period_page(request: Request, period: str, entity: str, user=Depends(requires("view")), conn: sa.Connection = Depends(connection)):
        from allocation_pipeline.core.report.html import report_context
        from allocation_pipeline.warehouse.report_store import read_report_data

        try:
            data = read_report_data(conn, period, entity)
        except LookupError as exc:
            raise Refused(404, str(exc)) from None
        return page(request, "console/period.html", {**report_context(data, links="console")}, user=user)

    @app.get("/periods/{period}/{entity}/suggestions", response_class=HTMLResponse)
    def suggestions_page(request: Request, period: str, entity: str, user=Depends(requires("view")), conn: sa.Connection = Depends(connection)):
        """The period's cost-center suggestions of one entity to review: each line with its suggested
        cost center, confidence and sentence; preparers and approvers accept or reject each."""
        from allocation_pipeline.warehouse.report_store import entity_suggestions, report_entities

        entities = report_entities(conn, period)
        if entity not in set(entities["entity"]):
            raise Refused(404, f"no entity {entity} in dim_entities (entities: {', '.join(entities['entity']) or 'none'})")
        frame = entity_suggestions(conn, period, entity)
        counts = frame["status"].value_counts().to_dict() if not frame.empty else {}
        return page(
            request, "console/suggestions.html",
            {"period": period, "entity": entity, "suggestions": rows(frame), "counts": {k: int(counts.get(k, 0)) for k in ("open", "accepted", "rejected")}},
            user=user,
        )

    def decide(request: Request, conn: sa.Connection, suggestion_id: str, action: str, user, cost_center: str, note: str, period: str, entity: str):
        """Accept or reject through `allocation suggestions`' own function, in one transaction; the
        signed-in user is who decided. A refusal is a message on the review page."""
        from allocation_pipeline.commands.suggestions import decide_suggestion
        from allocation_pipeline.warehouse.suggestion_store import SuggestionDecisionError

        try:
            with transaction(conn):
                flash(request, "ok", decide_suggestion(conn, suggestion_id, action, user.name, cost_center, note, str(settings.extracts_path())))
        except SuggestionDecisionError as exc:
            flash(request, "error", str(exc))
        except sa.exc.DBAPIError as exc:
            why = "someone else decided it at the same moment" if write_conflict(exc) else "the warehouse refused the change"
            flash(request, "error", f"{suggestion_id}: {why}; nothing recorded. This page shows it as it is now.")
        back = f"/periods/{quote(period, safe='')}/{quote(entity, safe='')}/suggestions" if period and entity else "/periods"
        return RedirectResponse(back, status_code=303)

    @app.post("/suggestions/{suggestion_id}/accept")
    def accept_suggestion(
        request: Request, suggestion_id: str, cost_center: str = Form(""), note: str = Form(""), period: str = Form(""), entity: str = Form(""),
        user=Depends(requires("decide_suggestions")), conn: sa.Connection = Depends(connection),
    ):
        return decide(request, conn, suggestion_id, "accept", user, cost_center, note, period, entity)

    @app.post("/suggestions/{suggestion_id}/reject")
    def reject_suggestion(
        request: Request, suggestion_id: str, note: str = Form(""), period: str = Form(""), entity: str = Form(""),
        user=Depends(requires("decide_suggestions")), conn: sa.Connection = Depends(connection),
    ):
        return decide(request, conn, suggestion_id, "reject", user, "", note, period, entity)

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine(request: Request, extract: str = "", period: str = "", user=Depends(requires("view")), conn: sa.Connection = Depends(connection)):
        extracts = console_store.quarantine_extracts(conn)
        chosen = console_store.quarantine_rows(conn, extract, period) if extract else None
        return page(
            request, "console/quarantine.html",
            {"extracts": rows(extracts), "extract": extract, "period": period, "rows": rows(chosen) if chosen is not None else None},
            user=user,
        )

    # --- acting ----------------------------------------------------------------------------------

    def act(request: Request, conn: sa.Connection, run_id: str, work) -> RedirectResponse:
        """One transaction through the ledger function; a refusal becomes a message on the run's page.

        Two people acting on one run at once: on PostgreSQL the second waits for the first and
        finds the run moved on (a lifecycle refusal). DuckDB's transactions are optimistic: the
        second fails with a write conflict while the first is still writing, and is tried again
        a moment later on the run as it is then, which gives the same refusal. Never a stack trace."""
        for delay in (*CONFLICT_RETRY_SECONDS, None):
            try:
                with transaction(conn):
                    message = work(conn)
                flash(request, "ok", message)
            except (LifecycleError, ledger_store.PostingError, ledger_store.RunNotFound) as exc:
                flash(request, "error", str(exc))
            except sa.exc.DBAPIError as exc:
                if not write_conflict(exc):
                    first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
                    flash(request, "error", f"{run_id}: the warehouse refused the change ({first_line}); nothing done")
                elif delay is not None and not conn.invalidated:
                    time.sleep(delay)
                    continue
                else:
                    flash(request, "error", f"{run_id}: someone else changed this run at the same moment; nothing done. This page shows its state now.")
            break
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    @app.post("/runs/{run_id}/approve")
    def approve(request: Request, run_id: str, reason: str = Form(""), user=Depends(requires("approve")), conn: sa.Connection = Depends(connection)):
        def work(conn):
            ledger_store.approve_run(conn, run_id, user.name, reason.strip() or None)
            return f"{run_id} approved by {user.name}"

        return act(request, conn, run_id, work)

    @app.post("/runs/{run_id}/reject")
    def reject(request: Request, run_id: str, reason: str = Form(""), user=Depends(requires("reject")), conn: sa.Connection = Depends(connection)):
        def work(conn):
            ledger_store.reject_run(conn, run_id, user.name, reason.strip())
            return f"{run_id} rejected by {user.name}"

        return act(request, conn, run_id, work)

    @app.post("/runs/{run_id}/post")
    def post(request: Request, run_id: str, user=Depends(requires("post")), conn: sa.Connection = Depends(connection)):
        def work(conn):
            posted = ledger_store.post_run(conn, run_id, user.name)
            return f"{run_id} posted as {posted.entry_id}"

        return act(request, conn, run_id, work)

    @app.post("/runs/{run_id}/void")
    def void(request: Request, run_id: str, reason: str = Form(""), period: str = Form(""), user=Depends(requires("void")), conn: sa.Connection = Depends(connection)):
        def work(conn):
            reversal = ledger_store.void_run(conn, run_id, user.name, reason.strip(), period=period.strip() or None)
            return f"{run_id} voided; reversing entry {reversal}"

        return act(request, conn, run_id, work)

    @app.get("/submit", response_class=HTMLResponse)
    def submit_form(request: Request, user=Depends(requires("submit"))):
        return page(request, "console/submit.html", {"errors": [], "values": {}, "run_types": RUN_TYPES}, user=user)

    @app.post("/submit", response_class=HTMLResponse)
    async def submit(
        request: Request, file: UploadFile = File(...), entity: str = Form(""), period: str = Form(""),
        source_document: str = Form(""), run_type: str = Form(""), user=Depends(requires("submit")),
        conn: sa.Connection = Depends(connection),
    ):
        values = {"entity": entity, "period": period, "source_document": source_document, "run_type": run_type}
        name = _UPLOAD_NAME.sub("_", Path(file.filename or "upload.csv").name) or "upload.csv"
        content = await file.read()
        errors: list[str] = []
        result = None
        with tempfile.TemporaryDirectory(prefix="submission-") as folder:
            path = Path(folder) / name
            path.write_bytes(content)
            try:
                submission = read_submission(path)
            except SubmissionError as exc:
                errors = list(exc.problems)
            else:
                try:
                    with transaction(conn):
                        result = ledger_store.submit_submission(
                            conn, submission, submitted_by=user.name, source_name=name, entity=entity.strip() or None,
                            period=period.strip() or None, source_document=source_document.strip() or None, run_type=run_type or None,
                        )
                except SubmissionError as exc:
                    errors = list(exc.problems)
                except (ledger_store.PostingError, LifecycleError) as exc:
                    errors = [str(exc)]
        if result is not None and result.errors:
            errors = [e.message for e in result.errors]
        if errors:
            return page(
                request, "console/submit.html", {"errors": errors, "values": values, "run_types": RUN_TYPES, "file_name": name},
                status_code=422, user=user,
            )
        draft = result.draft
        total = draft.total_debit_cents
        flash(request, "ok", f"{result.run_id} calculated from {name}: {len(draft.lines)} lines, {format_money(total)} {draft.currency}. "
              "Another person must approve it (four-eyes rule).")
        for note in result.notes:
            flash(request, "ok", f"note: {note}")
        return RedirectResponse(f"/runs/{result.run_id}", status_code=303)

    @app.get("/preview", response_class=HTMLResponse)
    def preview(request: Request, rule: str = "", period: str = "", user=Depends(requires("preview"))):
        """The lines a rule would create in a period, through `allocation preview`'s own function:
        read from the extracts and the rules file, written nowhere."""
        from allocation_pipeline.commands.preview import PreviewError, preview_rule
        from allocation_pipeline.core.allocation.methods import MethodError
        from allocation_pipeline.core.allocation.rules import RulesError, load_rules

        errors, choices, result = [], [], None
        try:
            choices = list(load_rules(settings.rules_path()).rules)
        except (RulesError, MethodError) as exc:
            errors.append(str(exc))
        rule, period = rule.strip(), period.strip()
        if rule and period and not errors:
            try:
                result = preview_rule(rule, period, str(settings.rules_path()), str(settings.extracts_path()))
            except PreviewError as exc:
                errors.append(str(exc))
        elif (rule or period) and not errors:
            errors.append("choose a rule and a period (YYYY-MM) to preview")
        context = {
            "rules": choices, "rule": rule, "period": period, "errors": errors, "result": result,
            "line_rows": shown_rows(result.run.lines, texts=PREVIEW_TEXT_COLUMNS, numbers=["driver_value"], shares=["share"]) if result and result.run else [],
        }
        return page(request, "console/preview.html", context, status_code=422 if errors else 200, user=user)

    # --- people (admins) ---------------------------------------------------------------------------

    def users_page(request: Request, conn: sa.Connection, user, status_code: int = 200, errors=(), values=None) -> HTMLResponse:
        return page(
            request, "console/users.html",
            {"users": rows(people_store.list_users(conn)), "roles": ROLES, "errors": list(errors), "values": values or {}, "min_password": people_store.MIN_PASSWORD_LENGTH},
            status_code=status_code, user=user,
        )

    @app.get("/users", response_class=HTMLResponse)
    def users(request: Request, user=Depends(requires("manage_users")), conn: sa.Connection = Depends(connection)):
        return users_page(request, conn, user)

    @app.post("/users", response_class=HTMLResponse)
    def add_user(
        request: Request, name: str = Form(""), role: str = Form(""), password: str = Form(""),
        user=Depends(requires("manage_users")), conn: sa.Connection = Depends(connection),
    ):
        name = name.strip()
        # Behind a single sign-on proxy people sign in through it: accounts have no password.
        sso = settings.trusted_header is not None
        try:
            with transaction(conn):
                people_store.create_user(conn, name, role, None if sso else password, created_by=user.name)
        except people_store.UserError as exc:
            return users_page(request, conn, user, status_code=422, errors=[str(exc)], values={"name": name, "role": role})
        how = f"through single sign-on ({settings.trusted_header})" if sso else "with the password you gave them"
        flash(request, "ok", f"user {name} added with role {role}; they sign in {how}")
        return RedirectResponse("/users", status_code=303)

    def change_user(request: Request, conn: sa.Connection, change, message: str) -> RedirectResponse:
        """One change through the people store (the same functions as `allocation users`)."""
        try:
            with transaction(conn):
                change()
            flash(request, "ok", message)
        except people_store.UserError as exc:
            flash(request, "error", str(exc))
        return RedirectResponse("/users", status_code=303)

    def not_yourself(user, name: str, what: str) -> None:
        # An admin cannot lock themselves out here; another admin (or `allocation users`) can do it.
        if name.casefold() == user.name.casefold():
            raise Refused(409, f"{user.name}: you cannot {what} yourself in the console; another admin can, or `allocation users` on the server")

    @app.post("/users/{name}/role")
    def set_user_role(
        request: Request, name: str, role: str = Form(""), user=Depends(requires("manage_users")), conn: sa.Connection = Depends(connection),
    ):
        not_yourself(user, name, "change the role of")
        return change_user(request, conn, lambda: people_store.set_role(conn, name, role), f"user {name} now has role {role}")

    @app.post("/users/{name}/active")
    def set_user_active(
        request: Request, name: str, active: str = Form(""), user=Depends(requires("manage_users")), conn: sa.Connection = Depends(connection),
    ):
        activate = active == "1"
        if not activate:
            not_yourself(user, name, "deactivate")
        return change_user(
            request, conn, lambda: people_store.set_active(conn, name, activate),
            f"user {name} {'activated' if activate else 'deactivated: they can no longer sign in'}",
        )

    @app.post("/users/{name}/password")
    def reset_user_password(
        request: Request, name: str, password: str = Form(""), user=Depends(requires("manage_users")), conn: sa.Connection = Depends(connection),
    ):
        return change_user(
            request, conn, lambda: people_store.set_password(conn, name, password),
            f"password of {name} reset (and any sign-in throttling lifted); give it to them by a safe channel",
        )

    def packaged(package: str, name: str, media_type: str) -> Response:
        text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
        return Response(text, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    @app.get("/console.css")
    def stylesheet():
        return packaged("allocation_pipeline", "templates/console/console.css", "text/css")

    @app.get("/report.js")
    def report_script():
        """The static report's own script (the runs filters of the period page), served as a file
        so the console's policy allows scripts from this site only, never inline ones."""
        return packaged("allocation_pipeline.core.report", "report.js", "text/javascript")

    return app


