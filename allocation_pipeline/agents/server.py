"""The MCP server: an agent reads runs, the document chain, pools, previews, driver analyses and
what-if scenarios, and submits runs as a named preparer; it can never approve, post or void.

Every tool calls the function the CLI calls (ledger_store, people_store, preview_rule,
AnalysisContext, run_whatif, submit_submission) and turns its frames into the typed models of
`agents.schemas`; user errors come back as tool errors carrying the CLI's message.
"""

from __future__ import annotations

import inspect
import json
import math
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import pandas as pd
import sqlalchemy as sa
import yaml
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from allocation_pipeline import settings
from allocation_pipeline.agents import schemas as s
from allocation_pipeline.core.money import cents_to_decimal, format_money

SERVER_NAME = "allocation-pipeline"
# Recorded as the source of every run the agent submits (the history's reason names it).
SOURCE_NAME = "the MCP server"

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
SUBMITS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)

Period = Annotated[str, Field(pattern=s.PERIOD_PATTERN, description="fiscal month YYYY-MM")]


class LedgerServer(MCPServer):
    """MCPServer whose tool errors read like the CLI's: `tool: message`, as `allocation show: message`,
    and refused arguments as one sentence per field naming it and the value, not pydantic's report."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        # The SDK ignores arguments a tool does not take; a misspelt filter must not pass silently.
        tool = next((t for t in await self.list_tools() if t.name == name), None)
        if tool is not None:
            known = tool.input_schema.get("properties", {})
            unknown = sorted(set(arguments or {}) - set(known))
            if unknown:
                raise ToolError(f"{name}: unknown argument(s) {', '.join(unknown)}; it takes {', '.join(known)}")
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(f"{name}: " + "; ".join(argument_problems(cause))) from cause
            if isinstance(cause, ToolError):
                raise ToolError(f"{name}: {cause}") from cause
            raise


def argument_problems(error: ValidationError) -> list[str]:
    """One short sentence per refused argument."""
    problems = []
    for e in error.errors(include_url=False):
        where = ".".join(str(part) for part in e["loc"])
        if e["type"] == "missing":
            problems.append(f"{where} is required")
        elif e["type"] == "string_pattern_mismatch" and e["loc"][-1] == "period":
            problems.append(f"period {e['input']!r} is not a fiscal month YYYY-MM")
        else:
            value = repr(e["input"])
            value = value if len(value) <= 60 else value[:57] + "..."
            problems.append(f"{where} {value}: {e['msg'][0].lower()}{e['msg'][1:]}")
    return problems


class AgentIdentityError(ValueError):
    """The identity the server would act as is not a usable preparer; the message says how to fix it."""


def check_agent(conn: sa.Connection, name: str) -> None:
    """Refuse unless `name` is an active user with exactly the role preparer: an agent submits
    and previews, and a role that may approve, post or void is refused even though it could submit."""
    from allocation_pipeline.core.ledger.people import PermissionDenied, require
    from allocation_pipeline.warehouse.people_store import get_user

    user = get_user(conn, name)
    if user is None:
        raise AgentIdentityError(f"no user {name}: add the agent's identity with `allocation users add {name} --role preparer --sso`")
    if not user.active:
        raise AgentIdentityError(f"user {name} is deactivated; the agent cannot act as {name}")
    if user.role != "preparer":
        raise AgentIdentityError(
            f"user {name} has the role {user.role}; an agent acts only as a preparer (it never approves, posts or voids): "
            f"give the server a user with the role preparer"
        )
    try:
        require(name, user.role, "submit")
    except PermissionDenied as exc:
        raise AgentIdentityError(str(exc)) from None


class Ledger:
    """The warehouse the tools read and the agent submits to: one engine, one transaction per call."""

    def __init__(self, url: str):
        from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

        self.url = url
        self.engine = make_engine(url, hold_open=False)
        ensure_schema(self.engine)

    @contextmanager
    def transaction(self):
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def user_errors():
    """The exceptions the CLI turns into one clear message become tool errors with that message."""
    from allocation_pipeline.cli import CommandError
    from allocation_pipeline.commands.preview import PreviewError
    from allocation_pipeline.core.insights.whatif import ScenarioError
    from allocation_pipeline.core.ledger.lifecycle import LifecycleError
    from allocation_pipeline.core.ledger.people import PermissionDenied
    from allocation_pipeline.warehouse.engine import WarehouseError
    from allocation_pipeline.warehouse.ledger_store import PostingError, RunNotFound

    try:
        yield
    except (
        CommandError, PreviewError, ScenarioError, LifecycleError, PermissionDenied, PostingError, RunNotFound, WarehouseError, AgentIdentityError,
    ) as exc:
        raise ToolError(str(exc)) from None


def build_server(
    agent: str,
    warehouse_url: str | None = None,
    rules: str | None = None,
    extracts: str | None = None,
) -> MCPServer:
    """The server acting as `agent` (a user with the role preparer, checked now and on every submission)
    on the warehouse, rules file and extracts the CLI would use (settings' defaults when None)."""
    ledger = Ledger(warehouse_url or settings.warehouse_url())
    try:
        with ledger.transaction() as conn:
            check_agent(conn, agent)
    except AgentIdentityError:
        ledger.dispose()
        raise
    @asynccontextmanager
    async def lifespan(_server):
        try:
            yield None
        finally:
            ledger.dispose()  # the engine stays usable: a later session opens a new pool

    server = LedgerServer(
        SERVER_NAME,
        title="Cost allocation ledger",
        instructions=_instructions(agent),
        log_level="WARNING",
        lifespan=lifespan,
    )
    _register_tools(server, ledger, agent, rules, extracts)
    _register_resources(server, rules)
    return server


def _instructions(agent: str) -> str:
    return (
        f"You act as {agent}, a preparer of allocation runs. You can list and read runs and the document chain, read a "
        "pool's GL balances, preview a rule, analyse a pool's drivers, run what-if scenarios and submit a run's lines. "
        "You cannot approve, post or void: a person with the approver role does that in the console or the CLI, and "
        f"never {agent} (four-eyes rule). Amounts are decimal text with two places. Read allocation://submission-format "
        "before submitting and allocation://methods for the methods a rule may use."
    )


def _result(model: Any, text: str, is_error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=model.model_dump(mode="json"), is_error=is_error)


# --- conversions from the store's frames ---------------------------------------------------------


def _amount(cents) -> str:
    return str(cents_to_decimal(int(cents)))


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _page(total: int, offset: int, limit: int) -> int | None:
    return offset + limit if offset + limit < total else None


def _summary(row) -> s.RunSummary:
    return s.RunSummary(
        run_id=row.run_id, entity=row.entity, period=row.period, run_type=row.run_type, status=row.status,
        rule_id=_text(row.rule_id), source_document=_text(row.source_document), amount=_amount(row.total_debit_cents),
        currency=row.currency, journal_entry_id=_text(row.journal_entry_id), reversal_entry_id=_text(row.reversal_entry_id),
    )


def _lines(frame: pd.DataFrame) -> list[s.Line]:
    return [
        s.Line(
            line_no=int(r.line_no), role=r.role, account=str(r.account), cost_center=str(r.cost_center), product=_text(r.product),
            region=_text(r.region), debit=_amount(r.debit_cents), credit=_amount(r.credit_cents), driver=_text(r.driver),
            driver_value=_number(r.driver_value), share=_number(r.share), explanation=_text(r.explanation),
        )
        for r in frame.itertuples(index=False)
    ]


def _links(chain: pd.DataFrame) -> list[s.ChainLink]:
    return [s.ChainLink(**{k: str(v) for k, v in row.items()}) for row in chain.to_dict("records")]


def _plain(value: Any) -> Any:
    """Parameters as JSON-safe values (Decimals and the like as text)."""
    return json.loads(json.dumps(value, default=str))


# --- tools ---------------------------------------------------------------------------------------


def _register_tools(server: MCPServer, ledger: Ledger, agent: str, rules: str | None, extracts: str | None) -> None:
    @server.tool(annotations=READ_ONLY)
    def list_runs(
        entity: Annotated[str | None, Field(description="entity, e.g. EE")] = None,
        status: Annotated[s.Status | None, Field(description="lifecycle status")] = None,
        run_type: Annotated[s.RunType | None, Field(description="run type")] = None,
        period: Annotated[str | None, Field(pattern=s.PERIOD_PATTERN, description="fiscal month YYYY-MM")] = None,
        limit: Annotated[int, Field(ge=1, le=s.MAX_RUNS_PAGE)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Annotated[CallToolResult, s.RunsPage]:
        """List allocation runs, oldest first, filtered as `allocation runs` filters them; one page at a time."""
        from allocation_pipeline.warehouse.ledger_store import list_runs as store_list_runs

        with user_errors(), ledger.transaction() as conn:
            runs = store_list_runs(conn, entity=entity, status=status, run_type=run_type, period=period)
        page = runs.iloc[offset : offset + limit]
        result = s.RunsPage(
            runs=[_summary(r) for r in page.itertuples(index=False)], total=len(runs), offset=offset, limit=limit,
            next_offset=_page(len(runs), offset, limit),
        )
        if runs.empty:
            return _result(result, "no allocation runs match")
        text = f"{len(page)} of {len(runs)} run(s) (from {offset + 1})" + (
            f"; next page: offset {result.next_offset}" if result.next_offset is not None else "")
        return _result(result, text)

    @server.tool(annotations=READ_ONLY)
    def show_run(
        run_id: Annotated[str, Field(min_length=1, max_length=64, description="e.g. ALLOC-0001")],
        lines_limit: Annotated[int, Field(ge=0, le=s.MAX_LINES_PAGE)] = 200,
        lines_offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Annotated[CallToolResult, s.RunDetail]:
        """A run's details, lines (one page), history (who did what and why) and document chain, as `allocation show`."""
        from allocation_pipeline.warehouse.ledger_store import document_chain, get_run, run_history, run_lines

        with user_errors(), ledger.transaction() as conn:
            run = get_run(conn, run_id)
            lines = run_lines(conn, run_id)
            history = run_history(conn, run_id)
            chain = document_chain(conn, run_id)
        page = lines.iloc[lines_offset : lines_offset + lines_limit]
        detail = s.RunDetail(
            run=_summary(run), method=_text(run.method), origin=run.origin, pool=_amount(run.pool_cents),
            total_debit=_amount(run.total_debit_cents), total_credit=_amount(run.total_credit_cents),
            notes=str(run.notes).splitlines() if run.notes else [], dagster_run_id=_text(run.dagster_run_id),
            lines=_lines(page), lines_total=len(lines), lines_offset=lines_offset,
            lines_next_offset=_page(len(lines), lines_offset, lines_limit),
            history=[
                s.HistoryEntry(
                    seq=int(h.seq), from_status=_text(h.from_status), to_status=h.to_status, changed_at=str(h.changed_at),
                    changed_by=h.changed_by, reason=_text(h.reason), reversed=bool(h.reversed),
                )
                for h in history.itertuples(index=False)
            ],
            chain=_links(chain),
        )
        text = (
            f"{run.run_id} {run.status}: {run.entity} {run.period} {run.run_type}, "
            f"{format_money(int(run.total_debit_cents))} {run.currency}, {len(lines)} line(s), prepared by "
            f"{history['changed_by'].iloc[0] if not history.empty else 'unknown'}"
        )
        return _result(detail, text)

    @server.tool(annotations=READ_ONLY)
    def walk_chain(
        document: Annotated[str, Field(min_length=1, max_length=200, description="a source document, run id or journal entry id")],
    ) -> Annotated[CallToolResult, s.Chain]:
        """Every document linked to this one, both directions: source document -> run -> journal entry -> reversal."""
        from allocation_pipeline.warehouse.ledger_store import document_chain

        with user_errors(), ledger.transaction() as conn:
            chain = document_chain(conn, document)
        links = _links(chain)
        documents = list(dict.fromkeys(d for link in links for d in (link.from_document, link.to_document)))
        result = s.Chain(document=document, links=links, documents=documents)
        if not links:
            return _result(result, f"{document}: no linked documents")
        words = {"allocated_by": "allocated by", "posted_as": "posted as", "reversed_by": "reversed by"}
        return _result(result, "\n".join(f"{x.from_document} -> {words.get(x.link_type, x.link_type)} -> {x.to_document}" for x in links))

    @server.tool(annotations=READ_ONLY)
    def pool_balances(
        pool: Annotated[str, Field(min_length=1, max_length=200, description="a rule id, or an insights pool no rule allocates yet")],
        period: Period,
        limit: Annotated[int, Field(ge=1, le=s.MAX_BALANCES_PAGE)] = 100,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Annotated[CallToolResult, s.PoolBalances]:
        """The GL balances of a period that a pool's source filter selects, read from the warehouse
        (the pool before earlier rules of the period add to it)."""
        from allocation_pipeline.commands.insights import rule_of_pool
        from allocation_pipeline.warehouse.insights_store import pool_gl_balances

        with user_errors():
            rule, has_rule = rule_of_pool(pool, rules)
            if rule.source.document:
                raise ToolError(
                    f"rule {rule.id} pools source document {rule.source.document}, not GL balances; walk_chain shows what it allocated"
                )
            with ledger.transaction() as conn:
                balances = pool_gl_balances(conn, rule, period)
        page = balances.iloc[offset : offset + limit]
        total = int(balances["balance_cents"].sum())
        result = s.PoolBalances(
            pool=pool, rule_id=rule.id, has_rule=has_rule, entity=rule.entity, period=period, total=_amount(total),
            balances=[
                s.Balance(**{k: str(getattr(r, k)) for k in ("entity", "account", "cost_center", "product", "region", "currency")}, balance=_amount(r.balance_cents))
                for r in page.itertuples(index=False)
            ],
            rows_total=len(balances), offset=offset, next_offset=_page(len(balances), offset, limit),
        )
        if balances.empty:
            return _result(result, f"pool {pool} ({rule.entity}) has no GL balances in {period} in the warehouse")
        currencies = ", ".join(sorted(set(balances["currency"])))
        return _result(result, f"pool {pool} ({rule.entity}, {period}): {format_money(total)} {currencies} on {len(balances)} balance(s)")

    @server.tool(annotations=READ_ONLY)
    def preview_rule(
        rule: Annotated[str, Field(min_length=1, max_length=200, description="a rule id, or (with a method) an insights pool without a rule")],
        period: Period,
        method: Annotated[str | None, Field(max_length=64, description="preview with this method instead of the rule's own, e.g. a recommended key")] = None,
        parameters: Annotated[dict[str, Any] | None, Field(description="the method's parameters, e.g. {\"weights\": {\"cloud_spend\": 50, ...}}")] = None,
    ) -> Annotated[CallToolResult, s.Preview]:
        """The lines one rule would create in a period (earlier rules of its entity applied first), with
        driver values, shares and explanations, as `allocation preview`; nothing is written. With a method
        and parameters: the rule, or an insights pool's proposed rule, allocated by that key instead."""
        from allocation_pipeline.commands.preview import preview_rule as compute_preview

        with user_errors():
            preview = compute_preview(rule, period, rules, extracts, method, parameters)
        run = preview.run
        result = s.Preview(
            rule_id=preview.rule.id, entity=preview.rule.entity, period=period, method=preview.rule.method,
            parameters=_plain(dict(preview.rule.parameters)),
            description=preview.rule.description, earlier_rules=list(preview.earlier), gl_lines_read=preview.gl_lines_read,
            quarantined_gl_lines=int(preview.quarantined.get("gl_lines", 0)), empty_pool=run is None,
            pool=None if run is None else _amount(run.pool_cents), currency=None if run is None else run.currency,
            lines=[] if run is None else _lines(run.lines),
            total_debit=None if run is None else _amount(run.total_debit_cents),
            total_credit=None if run is None else _amount(run.total_credit_cents),
            balanced=None if run is None else run.total_debit_cents == run.total_credit_cents,
            notes=list(preview.notes) + ([] if run is None else list(run.notes)),
        )
        if run is None:
            return _result(result, f"Pool of rule {rule} is empty in {period}: the rule makes no run.")
        targets = int((run.lines["role"] == "target").sum())
        return _result(
            result, f"Preview of rule {rule} ({preview.rule.entity}, {period}), method {preview.rule.method}: pool "
            f"{format_money(run.pool_cents)} {run.currency} to {targets} target line(s); nothing is written",
        )

    @server.tool(annotations=READ_ONLY)
    def analyze_drivers(
        pool: Annotated[str, Field(min_length=1, max_length=200, description="an insights pool (the rules file's `insights: pools:`)")],
        period: Period,
    ) -> Annotated[CallToolResult, s.Analysis]:
        """Driver analysis of a pool over the months up to `period`: correlation, R^2, out-of-period error and
        weight per candidate driver, the recommended key with its reasons, the period's pool allocated by it
        (and by the rule as it stands), and who over- or under-consumes; as `allocation analyze`. Nothing is written."""
        from allocation_pipeline.commands.insights import AnalysisContext
        from allocation_pipeline.core.insights.changes import method_label

        with user_errors():
            context = AnalysisContext.load(period, rules, extracts, pool)
            report = context.report(context.pool(pool))
        analysis = report.analysis
        charged = report.current or report.proposed
        rec = analysis.recommendation
        result = s.Analysis(
            pool=pool, period=period, status=analysis.status, consumption=analysis.consumption, dimension=analysis.dimension,
            periods=list(analysis.periods), cost_objects=list(analysis.cost_objects),
            drivers=[
                s.DriverFit(driver=d.driver, correlation=d.correlation, r2=d.r2, error_points=d.error_points, weight_percent=d.weight_percent, note=d.note)
                for d in analysis.drivers
            ],
            weighted_r2=analysis.weighted_r2, weighted_error_points=analysis.weighted_error_points,
            recommendation=None if rec is None else s.Recommendation(
                method=rec.method, parameters=_plain(dict(rec.parameters)), label=rec.label, r2=rec.r2, error_points=rec.error_points,
                reasons=list(rec.reasons),
            ),
            has_rule=report.has_rule, rule_method=method_label(report.rule) if report.has_rule else None,
            pool_amount=None if charged is None else _amount(charged.pool_cents), currency=None if charged is None else charged.currency,
            allocation=[_share_row(row) for row in report.table().to_dict("records")] if charged is not None else [],
            flags=[
                s.Flag(kind=f.kind, severity=f.severity, cost_object=f.cost_object, amount=None if f.amount_cents is None else _amount(f.amount_cents), message=f.message)
                for f in report.flags
            ],
            notes=list(analysis.notes) + list(report.notes),
        )
        if rec is None:
            return _result(result, f"pool {pool}, {period}: no recommendation ({analysis.status}); " + " ".join(analysis.notes))
        return _result(result, f"pool {pool}, {period}: recommended {rec.method} ({rec.label}), R2 {rec.r2:.2f}, error {rec.error_points:.2f} points")

    @server.tool(annotations=READ_ONLY)
    def what_if(
        period: Period,
        scenario: Annotated[dict[str, Any], Field(description=(
            "the scenario as in a scenario file: name, description, rules {rule id: changed fields}, add_rules, "
            "remove_rules, drivers [{move|set|scale: driver, ...}], cost_centers"
        ))],
    ) -> Annotated[CallToolResult, s.WhatIf]:
        """Allocate a month with rule or driver changes, side by side with the baseline, as `allocation whatif
        --no-store`: nothing is stored and nothing is posted."""
        from allocation_pipeline.commands.insights import run_whatif
        from allocation_pipeline.core.insights.whatif import parse_scenario

        with user_errors():
            parsed = parse_scenario(scenario, "scenario", default_name="agent-scenario", text=yaml.safe_dump(scenario, sort_keys=False))
            outcome = run_whatif(period, parsed, rules, extracts)
        by_object = outcome.by_cost_object()
        changed = int((by_object["difference_cents"] != 0).sum())
        ordered = by_object.reindex(by_object["difference_cents"].abs().sort_values(ascending=False, kind="stable").index)
        result = s.WhatIf(
            scenario=parsed.name, period=period, changes=list(outcome.changes),
            by_cost_object=[
                s.WhatIfRow(
                    entity=r.entity, cost_center=r.cost_center, currency=r.currency, baseline=_amount(r.baseline_cents),
                    scenario=_amount(r.scenario_cents), difference=_amount(r.difference_cents),
                )
                for r in ordered.head(s.MAX_WHATIF_ROWS).itertuples(index=False)
            ],
            rows_total=len(by_object), objects_changed=changed, notes=list(outcome.notes),
        )
        return _result(result, f"What-if '{parsed.name}' for {period}: {changed} of {len(by_object)} cost object(s) change; nothing is stored or posted")

    @server.tool(annotations=SUBMITS)
    def submit_run(
        lines: Annotated[list[s.SubmittedLine], Field(max_length=s.MAX_SUBMITTED_LINES, description="source and target lines")],
        entity: Annotated[str | None, Field(max_length=64, description="default: the source document's")] = None,
        period: Annotated[str | None, Field(max_length=32, description="fiscal month YYYY-MM; default: the source document's")] = None,
        type: Annotated[str | None, Field(max_length=64, description="cost_allocation (default), revenue_allocation or intercompany_charge")] = None,
        source_document: Annotated[str | None, Field(max_length=200, description="the source document the run allocates, e.g. EE-BILL000527")] = None,
        description: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> Annotated[CallToolResult, s.SubmitOutcome]:
        """Submit a run's lines for approval, validated exactly as `allocation submit`: balance (0.01 tolerance),
        accounts exist and are active, a source and a target line, positive amounts, and for a source document
        its accounts and unallocated balances. Every problem is returned at once and nothing is written; an
        accepted run is `calculated`, recorded in its history as submitted by this server's identity, and
        waits for a human approver (never this identity)."""
        from allocation_pipeline.core.ledger.submission import SubmissionError, parse_submission
        from allocation_pipeline.warehouse.ledger_store import get_run, submit_submission

        document = {
            "lines": [line.model_dump() for line in lines], "entity": entity, "period": period, "type": type,
            "source_document": source_document, "description": description,
        }
        refused = s.SubmitOutcome(
            accepted=False, run_id=None, status=None, submitted_by=agent, entity=entity, period=period, currency=None,
            lines=len(lines), total=None, source_document=source_document, errors=[], notes=[],
        )
        try:
            with user_errors(), ledger.transaction() as conn:
                check_agent(conn, agent)
                submitted = submit_submission(conn, parse_submission(document, "submission"), submitted_by=agent, source_name=SOURCE_NAME)
                status = None if submitted.run_id is None else get_run(conn, submitted.run_id).status
        except SubmissionError as exc:
            problems = [s.Problem(rule="submission", message=p) for p in exc.problems]
            return _refused(refused.model_copy(update={"errors": problems}))
        draft = submitted.draft
        outcome = refused.model_copy(update={
            "entity": draft.entity, "period": draft.period, "currency": draft.currency, "source_document": draft.source_document,
            "total": _amount(draft.total_debit_cents),
        })
        if submitted.errors:
            return _refused(outcome.model_copy(update={"errors": [s.Problem(rule=e.rule, message=e.message) for e in submitted.errors]}))
        accepted = outcome.model_copy(update={"accepted": True, "run_id": submitted.run_id, "status": status, "notes": list(submitted.notes)})
        return _result(
            accepted,
            f"{submitted.run_id} {status}: {len(lines)} lines, {format_money(draft.total_debit_cents)} {draft.currency}, "
            f"{draft.entity} {draft.period}; it waits for an approver other than {agent}",
        )


def _refused(outcome: s.SubmitOutcome) -> CallToolResult:
    text = f"Submission refused; nothing was written. {len(outcome.errors)} problem(s):\n" + "\n".join(f"  - {e.message}" for e in outcome.errors)
    return _result(outcome, text, is_error=True)


def _share_row(row: dict) -> s.CostObjectShare:
    def amount(key):
        value = row.get(key)
        return None if value is None or pd.isna(value) else _amount(value)

    return s.CostObjectShare(
        cost_object=str(row["cost_object"]), consumption=_number(row.get("consumption")), consumption_share=float(row["consumption_share"]),
        recommended=amount("proposed_cents"), recommended_share=_number(row.get("proposed_share")),
        current=amount("current_cents"), current_share=_number(row.get("current_share")),
    )


# --- resources -----------------------------------------------------------------------------------


def _register_resources(server: MCPServer, rules: str | None) -> None:
    @server.resource("allocation://rules", name="rules", mime_type="application/yaml")
    def rules_file() -> str:
        """The allocation rules file in force (YAML): rules, multi-level allocations and insights pools."""
        from pathlib import Path

        path = Path(rules or settings.rules_file())
        if not path.is_file():
            raise ResourceError(f"{path.name}: rules file not found")
        return path.read_text(encoding="utf-8")

    @server.resource("allocation://methods", name="methods", mime_type="application/json")
    def methods() -> str:
        """The allocation methods a rule may name, with their parameters (plugins included)."""
        return json.dumps(method_catalogue(), indent=2)

    @server.resource("allocation://submission-format", name="submission-format", mime_type="text/markdown")
    def submission_format() -> str:
        """How to submit a run's lines: fields, amounts, and the validations with their messages."""
        return submission_format_text()


def _parameter_help(method) -> dict[str, str]:
    """Each parameter of a method and what it means, from the method's own parameters model."""
    model = getattr(method, "parameters_model", None)
    if model is None:
        return {}
    return {name: field.description or "" for name, field in model.model_fields.items()}


def method_catalogue() -> list[dict[str, Any]]:
    """Every allocation method (built-in and plugin) with its parameters, the composition of several
    dimensions, and the multi-level methods."""
    from allocation_pipeline.core.allocation.methods import PRODUCT_OF_SHARES, available_methods
    from allocation_pipeline.core.multilevel.config import METHODS as MULTILEVEL_METHODS

    catalogue = []
    for name, method in available_methods().items():
        doc = inspect.getdoc(type(method)) or ""
        catalogue.append({
            "name": name, "used_in": "rules", "summary": doc.split("\n")[0], "description": doc,
            "parameters": _parameter_help(method),
        })
    catalogue.append({
        "name": PRODUCT_OF_SHARES, "used_in": "rules", "summary": "Several target dimensions: the product of one share per dimension.",
        "description": "A rule whose target has several dimensions (product*region) shares the pool as the product of one share "
        "per dimension, each from its own method.",
        "parameters": {"<dimension>": "for each target dimension, {method: name, parameters: {...}} of the method giving its shares"},
    })
    solved = {"reciprocal": "exact reciprocal solve of services between support cost centers",
              "step_down": "step-down in a given order (optional `order` list)", "direct": "direct to operating cost centers only"}
    for name in MULTILEVEL_METHODS:
        catalogue.append({
            "name": name, "used_in": "multilevel", "summary": solved.get(name, name), "description": solved.get(name, name),
            "parameters": {"order": "list of cost centers (step_down only)"} if name == "step_down" else {},
        })
    return catalogue


def submission_format_text() -> str:
    from allocation_pipeline.core.ledger import submission

    schema = json.dumps(s.SubmittedLine.model_json_schema(), indent=2)
    return f"""# Submitting a run's lines

The tool `submit_run` (and `allocation submit FILE.json`) takes the JSON form:

```json
{{"entity": "EE", "period": "2026-10", "type": "cost_allocation", "source_document": "EE-BILL000527",
  "description": "Slack bill split by seats",
  "lines": [
    {{"role": "source", "account": "60002", "cost_center": "EE-ENG", "debit": "0", "credit": "120.00"}},
    {{"role": "target", "account": "60002", "cost_center": "EE-ENG", "debit": "60.00", "credit": "0"}},
    {{"role": "target", "account": "60002", "cost_center": "EE-PRD", "debit": "36.00", "credit": "0"}},
    {{"role": "target", "account": "60002", "cost_center": "EE-SAL", "debit": "24.00", "credit": "0"}}]}}
```

{inspect.getdoc(submission)}

Entity and period default to the source document's. At most {s.MAX_SUBMITTED_LINES} lines per submission.

## One line

```json
{schema}
```

## Validation (every problem is reported at once; nothing is written when any fails)

- Balance: total debits must equal total credits (tolerance 0.01; a difference within it is settled on the largest target line).
- Accounts: every account must exist and be active.
- Source and target: at least one source line and one target line; at least two lines.
- Positive amounts: each line has an amount greater than zero on one side.
- With a source document: source accounts must appear on the document's GL lines ("Source line accounts do not appear in the
  source transaction's GL lines. Available accounts: ..."); the amount cannot exceed the remaining unallocated balance per
  account ("Source amount 80.00 exceeds remaining unallocated balance of 50.00."; "Account 60002 is already fully allocated
  (120.00 of 120.00) by ALLOC-0007. Void existing allocations first."); each account line may be allocated in part.

An accepted run is `calculated` and waits for approval by a person with the approver role who did not submit it.
"""
