"""Driver values and allocation runs, with blocking checks that every run balances and validates."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, document_takings
from allocation_pipeline.core.allocation.drivers import compute_driver_values
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.insights.anomalies import flags_for_run
from allocation_pipeline.core.insights.config import InsightsConfigError, load_insights
from allocation_pipeline.core.ledger.validation import DocumentContext, RunToValidate, validate_run
from allocation_pipeline.defs.metadata import console_links, markdown_table, totals_by_currency
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import EngineResource, RulesResource, WarehouseResource
from allocation_pipeline.warehouse.bulk import replace_rows
from allocation_pipeline.warehouse.insights_store import gl_balances_of
from allocation_pipeline.warehouse.ledger_store import PostingError, document_context, document_source, store_pipeline_runs
from allocation_pipeline.warehouse.lines import document_lines, timesheet_hours


@dg.asset(group_name="allocation", partitions_def=fiscal_month_partitions, deps=["timesheets"], kinds={"pandas"})
def driver_values(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    engine: EngineResource,
    headcount: pd.DataFrame,
    usage_metrics: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """Driver values of the fiscal month: one row per driver x cost object (headcount, hours, every usage metric)."""
    period = period_of(context.partition_key)
    timesheets = timesheet_hours(engine.get_lines(), period)
    values = compute_driver_values(period, headcount, timesheets, usage_metrics)
    with warehouse.get_engine().begin() as conn:
        replace_rows(conn, "driver_values", values, {"period": period})
    summary = values.groupby(["driver", "dimension"]).agg(cost_objects=("cost_object", "nunique"), total=("value", "sum")).reset_index()
    return dg.Output(
        values,
        metadata={"rows": dg.MetadataValue.int(len(values)), "drivers": dg.MetadataValue.int(values["driver"].nunique()), "by_driver": markdown_table(summary)},
    )


@dg.asset(
    group_name="allocation",
    partitions_def=fiscal_month_partitions,
    deps=["gl_lines"],
    kinds={"pandas"},
    check_specs=[
        dg.AssetCheckSpec("runs_balance", asset="allocation_runs", blocking=True, description="Every run's debits equal its credits to the cent."),
        dg.AssetCheckSpec("runs_valid", asset="allocation_runs", blocking=True, description="Accounts exist and are active; source and target lines; positive amounts."),
    ],
)
def allocation_runs(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    rules: RulesResource,
    engine: EngineResource,
    driver_values: pd.DataFrame,
    entities: pd.DataFrame,
    accounts: pd.DataFrame,
    cost_centers: pd.DataFrame,
):
    """Allocation runs of the fiscal month, one per rule with a non-empty pool; stored as calculated
    (or approved, where the rule's policy auto-approves). Nothing is stored when a check fails."""
    period = period_of(context.partition_key)
    rule_set = rules.load()
    applicable = rule_set.for_period(period)
    documents, contexts = _document_sources(warehouse, engine, applicable, period)
    try:
        outcome = allocate_period(period, applicable, month_balances(warehouse, period), driver_values, cost_centers, entities, documents=documents)
    except AllocationError as exc:
        raise dg.Failure(description=f"allocation of {period} failed: {exc}") from exc
    unbalanced = [r for r in outcome.runs if r.total_debit_cents != r.total_credit_cents]
    problems = _run_problems(outcome.runs, contexts, accounts)
    flags = _anomaly_flags(rules.path, rule_set, outcome.runs, driver_values)
    stored = None if unbalanced or problems else _store_runs(period, outcome.runs, applicable, flags, warehouse, context.run.run_id)
    summary = _runs_summary(outcome.runs, stored)
    yield dg.Output(summary, metadata=_runs_metadata(period, rules.path, rule_set, applicable, outcome, summary, stored, flags))
    yield from _runs_checks(unbalanced, problems)


def _run_problems(runs: list, contexts: dict, accounts: pd.DataFrame) -> list:
    """Each run's validation errors but balance (runs_balance reports that): accounts, lines, amounts
    and, for a document-linked run, what its document still holds after earlier runs of this batch."""
    return [
        error
        for r, document in zip(runs, _batch_contexts(runs, contexts))
        for error in validate_run(RunToValidate(run=f"rule {r.rule_id} ({r.entity})", lines=r.lines, accounts=accounts, document=document))
        if error.rule != "balance"
    ]


def _store_runs(period: str, runs: list, applicable: list, flags: dict, warehouse: WarehouseResource, dagster_run_id: str):
    """Store the month's runs in one transaction, with each rule's approval policy and owner (a
    run with a blocking flag is not auto-approved); a refused change stores nothing and fails the step."""
    try:
        with warehouse.get_engine().begin() as conn:
            return store_pipeline_runs(
                conn, period, runs, {r.id: r.approval for r in applicable}, dagster_run_id, flags=flags,
                owners={r.id: r.owner for r in applicable if r.owner},
            )
    except PostingError as exc:
        raise dg.Failure(description=f"allocation runs of {period} not stored: {exc}") from exc


def _document_sources(warehouse: WarehouseResource, engine: EngineResource, applicable: list, period: str) -> tuple[dict, dict]:
    """Document-linked rules pool from the document's GL lines and what other runs took from it.
    A document rule runs in the month whose GL holds the document; this month's pipeline runs are
    being recomputed, so only other runs count against the document's balances."""
    linked = [r for r in applicable if r.source.document is not None]
    documents, contexts = {}, {}
    if not linked:
        return documents, contexts
    lines = engine.get_lines()
    with warehouse.get_engine().connect() as conn:
        for rule in linked:
            source = document_source(conn, rule.source.document, period, document_lines(lines, rule.source.document, period))
            if source is not None:
                documents[rule.source.document] = source
                contexts[rule.id] = document_context(conn, rule.source.document, recomputed_period=period)
    return documents, contexts


def _runs_summary(runs: list, stored) -> pd.DataFrame:
    """One row per run: its id (once stored), rule, entity, method, targets, pool and total."""
    return pd.DataFrame(
        [
            {
                "run_id": stored.run_ids.get(f"{r.rule_id}@{r.entity}") if stored else None,
                "rule_id": r.rule_id,
                "entity": r.entity,
                "method": r.method,
                "targets": int((r.lines["role"] == "target").sum()),
                "pool": format_money(r.pool_cents),
                "currency": r.currency,
                "total_debit_cents": r.total_debit_cents,
            }
            for r in runs
        ],
        columns=["run_id", "rule_id", "entity", "method", "targets", "pool", "currency", "total_debit_cents"],
    )


def _runs_metadata(period: str, rules_path: str, rule_set, applicable: list, outcome, summary: pd.DataFrame, stored, flags: dict) -> dict:
    """What the allocation_runs materialization shows: counts, totals, runs by rule, notes, what was
    stored, console links and anomaly flags."""
    metadata = {
        "runs": dg.MetadataValue.int(len(outcome.runs)),
        "dagster/row_count": dg.MetadataValue.int(len(summary)),
        "total_by_currency": totals_by_currency(summary, "total_debit_cents"),
        "rules_in_force": dg.MetadataValue.int(len(applicable)),
        "rules_file": dg.MetadataValue.path(rules_path),
        "by_rule": markdown_table(
            summary.drop(columns=["total_debit_cents"]).assign(
                source=[_source_text(rule_set.get(r.rule_id)) for r in outcome.runs],
                total=[format_money(r.total_debit_cents) for r in outcome.runs],
                notes=[len(r.notes) for r in outcome.runs],
            )[["run_id", "rule_id", "entity", "method", "source", "pool", "targets", "total", "currency", "notes"]]
        ),
        "notes": dg.MetadataValue.md(
            "\n".join(f"- {n}" for n in outcome.notes + [f"rule {r.rule_id}: {n}" for r in outcome.runs for n in r.notes]) or "_none_"
        ),
    }
    if stored is not None:
        for name in ("created", "recalculated", "unchanged", "superseded", "approved", "held"):
            metadata[f"runs_{name}"] = dg.MetadataValue.text(", ".join(getattr(stored, name)) or "-")
    metadata.update(console_links(f"/runs?period={period}", {run_id: f"/runs/{run_id}" for run_id in summary["run_id"].dropna()}))
    metadata["anomaly_flags"] = dg.MetadataValue.md(
        "\n".join(f"- {rule}: {message}" for rule, messages in flags.items() for message in messages) or "_none_"
    )
    return metadata


def _runs_checks(unbalanced: list, problems: list):
    """The blocking checks runs_balance and runs_valid, with what each found."""
    yield dg.AssetCheckResult(
        check_name="runs_balance",
        passed=not unbalanced,
        metadata={
            "unbalanced_runs": dg.MetadataValue.int(len(unbalanced)),
            "details": dg.MetadataValue.md(
                "\n".join(f"- rule {r.rule_id} ({r.entity}): debits {format_money(r.total_debit_cents)}, credits {format_money(r.total_credit_cents)}" for r in unbalanced) or "_all balance_"
            ),
        },
    )
    yield dg.AssetCheckResult(
        check_name="runs_valid",
        passed=not problems,
        metadata={"errors": dg.MetadataValue.int(len(problems)), "details": dg.MetadataValue.md("\n".join(f"- {e}" for e in problems) or "_no errors_")},
    )


def month_balances(warehouse: WarehouseResource, period: str) -> pd.DataFrame:
    """The month's GL balances from the ledger's gl_balances, shaped as `core.allocation.allocate.gl_balances` gives them."""
    from allocation_pipeline.core.allocation.allocate import BALANCE_KEYS

    with warehouse.get_engine().connect() as conn:
        balances = gl_balances_of(conn, period)
    balances = balances.astype({key: "string" for key in BALANCE_KEYS})
    return balances.sort_values(BALANCE_KEYS, ignore_index=True)[[*BALANCE_KEYS, "balance_cents"]]


def _source_text(rule) -> str:
    """A rule's pool in a few words for the metadata table: accounts, then cost centers if filtered."""
    source = getattr(rule, "source", None)
    if source is None or not getattr(source, "accounts", None):
        return "-"
    accounts = ", ".join(r.low if r.low == r.high else f"{r.low}-{r.high}" for r in source.accounts)
    return accounts + (f" @ {', '.join(source.cost_centers)}" if source.cost_centers else "")


def _anomaly_flags(rules_path: str, rule_set, runs: list, driver_values: pd.DataFrame) -> dict[str, list[str]]:
    """Each run's anomaly flags as sentences, by rule: they withhold auto-approval (issue policy)."""
    try:
        config = load_insights(rules_path)
    except InsightsConfigError as exc:
        raise dg.Failure(description=str(exc)) from exc
    flags: dict[str, list[str]] = {}
    for run in runs:
        raised = flags_for_run(run, rule_set.get(run.rule_id), driver_values, config)
        if raised:
            flags[run.rule_id] = [f"[{f.severity}] {f.message}" for f in raised]
    return flags


def _batch_contexts(runs: list, contexts: dict) -> list:
    """Each document-linked run's document context, counting what earlier runs of this batch took
    from the same document (they are not in the warehouse yet)."""
    out, earlier = [], {}
    for run in runs:
        context = contexts.get(run.rule_id)
        if context is None or run.source_document is None:
            out.append(None)
            continue
        extra = pd.DataFrame(earlier.get(run.source_document, []), columns=["run_id", "account", "cents"])
        out.append(DocumentContext(context.document_id, context.amounts, pd.concat([context.allocations, extra], ignore_index=True)))
        earlier.setdefault(run.source_document, []).extend(
            (f"rule {run.rule_id}", account, cents) for account, cents in document_takings(run).items()
        )
    return out


defs = dg.Definitions(assets=[driver_values, allocation_runs])
