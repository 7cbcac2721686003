"""The multi-level allocation of a fiscal month: service cost centers' remaining cost passed on
through the period's matrix, solved exactly, validated, stored as runs and traced to its origins."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.multilevel.config import MultilevelConfigError
from allocation_pipeline.core.multilevel.runs import (
    ORIGIN,
    MultilevelOutcome,
    MultilevelRunError,
    allocate_multilevel,
    balances_after_runs,
    origin_table,
    results_table,
)
from allocation_pipeline.core.ledger.validation import RunToValidate, validate_run
from allocation_pipeline.defs.allocation.assets import month_balances
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import RulesResource, WarehouseResource
from allocation_pipeline.warehouse.bulk import read_frame, replace_rows
from allocation_pipeline.warehouse.engine import sql_text
from allocation_pipeline.warehouse.ledger_store import PostingError, store_pipeline_runs

LARGEST_FINALS = 20


@dg.asset(
    group_name="allocation",
    partitions_def=fiscal_month_partitions,
    deps=["allocation_runs", "gl_lines"],
    kinds={"pandas", "scipy"},
    check_specs=[
        dg.AssetCheckSpec(
            "multilevel_runs_valid", asset="multilevel_allocation", blocking=True,
            description="Every multi-level run balances to the cent; accounts exist and are active; source and target lines; positive amounts.",
        ),
        dg.AssetCheckSpec(
            "multilevel_well_conditioned", asset="multilevel_allocation",
            description="No cycle of service cost centers is ill-conditioned (retention near zero around it); warns with the condition estimate.",
        ),
    ],
)
def multilevel_allocation(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    rules: RulesResource,
    allocation_matrix: pd.DataFrame,
    cost_centers: pd.DataFrame,
    accounts: pd.DataFrame,
    entities: pd.DataFrame,
):
    """Multi-level allocation of the fiscal month, one run per entity: each service cost center's cost
    left after the rules' runs, passed on through the month's allocation matrix (reciprocal, step-down
    or direct, solved exactly), stored like every run and traced to its cost center of origin in
    `multilevel_origins`. A closed cycle fails the month naming it; nothing is stored then."""
    period = period_of(context.partition_key)
    outcome = _solve(period, rules, warehouse, allocation_matrix, cost_centers, entities)
    problems = [
        error
        for draft in outcome.drafts
        for error in validate_run(RunToValidate(run=f"multilevel {draft.rule_id} ({draft.entity})", lines=draft.lines, accounts=accounts))
    ]
    stored, origins = (None, origin_table(period, outcome.solves, {})) if problems else _store(period, outcome, warehouse, context.run.run_id)
    yield dg.Output(origins, metadata=_metadata(outcome, stored, len(origins)))
    yield _runs_valid(problems)
    yield _well_conditioned(outcome)


def _solve(
    period: str, rules: RulesResource, warehouse: WarehouseResource, allocation_matrix: pd.DataFrame, cost_centers: pd.DataFrame, entities: pd.DataFrame
) -> MultilevelOutcome:
    """The month's multi-level solves and draft runs, from the GL balances left after every other run
    of the period (the rules', submitted ones). A bad `multilevel:` section or a closed cycle fails
    the step, naming the cycles in its metadata."""
    try:
        specs = rules.load_multilevel().for_period(period)
    except MultilevelConfigError as exc:
        raise dg.Failure(description=f"multi-level allocation of {period} failed: {exc}") from exc
    with warehouse.get_engine().connect() as conn:
        run_lines = read_frame(conn, sql_text("select_period_run_lines"), {"period": period, "exclude_origin": ORIGIN})
        quarantined = read_frame(conn, sql_text("select_quarantine_rows"), {"extract": "allocation_matrix", "partition_key": period})
    balances = balances_after_runs(month_balances(warehouse, period), run_lines)
    try:
        return allocate_multilevel(period, specs, balances, allocation_matrix, cost_centers, entities, quarantined)
    except MultilevelRunError as exc:
        cycles = "\n".join(f"- {', '.join(cycle)}" for cycle in exc.cycles) or "_none_"
        raise dg.Failure(
            description=f"multi-level allocation of {period} failed: {exc}",
            metadata={"closed_cycles": dg.MetadataValue.md(cycles)},
        ) from exc


def _store(period: str, outcome: MultilevelOutcome, warehouse: WarehouseResource, dagster_run_id: str) -> tuple:
    """Store the month's multi-level runs and their origins in one transaction: (what was stored,
    the origins table with the stored run ids). A refused change (a posted run) stores nothing."""
    approvals = {item.spec.id: item.spec.approval for item in outcome.solves}
    try:
        with warehouse.get_engine().begin() as conn:
            stored = store_pipeline_runs(conn, period, outcome.drafts, approvals, dagster_run_id, origin=ORIGIN)
            origins = origin_table(period, outcome.solves, stored.run_ids)
            replace_rows(conn, "multilevel_origins", origins, {"period": period})
    except PostingError as exc:
        raise dg.Failure(description=f"multi-level allocation of {period} refused, nothing stored: {exc}") from exc
    return stored, origins


def _runs_valid(problems: list) -> dg.AssetCheckResult:
    """The blocking check multilevel_runs_valid, with the validation errors found."""
    return dg.AssetCheckResult(
        check_name="multilevel_runs_valid",
        passed=not problems,
        metadata={"errors": dg.MetadataValue.int(len(problems)), "details": dg.MetadataValue.md("\n".join(f"- {e}" for e in problems) or "_no errors_")},
    )


def _metadata(outcome: MultilevelOutcome, stored, origin_rows: int) -> dict:
    """What the multilevel_allocation materialization shows: runs, methods, residuals, a row per
    entity, cycles, warnings, the largest final costs, notes and what was stored."""
    warnings = [f"{s.spec.entity}: {w}" for s in outcome.solves for w in s.result.warnings]
    metadata = {
        "runs": dg.MetadataValue.int(len(outcome.drafts)),
        "method": dg.MetadataValue.text(", ".join(f"{s.spec.entity} {s.spec.method_name}" for s in outcome.solves) or "-"),
        "residual": dg.MetadataValue.float(max((s.result.residual for s in outcome.solves), default=0.0)),
        "relative_residual": dg.MetadataValue.float(max((s.result.relative_residual for s in outcome.solves), default=0.0)),
        "by_entity": markdown_table(_by_entity(outcome, stored.run_ids if stored is not None else {})),
        "cycles": markdown_table(_cycles(outcome)),
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings) or "_none_"),
        "largest_finals": markdown_table(_largest_finals(outcome)),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in outcome.notes) or "_none_"),
        "origin_rows": dg.MetadataValue.int(origin_rows),
    }
    if stored is not None:
        for name in ("created", "recalculated", "unchanged", "superseded", "approved"):
            metadata[f"runs_{name}"] = dg.MetadataValue.text(", ".join(getattr(stored, name)) or "-")
    return metadata


def _by_entity(outcome: MultilevelOutcome, run_ids: dict) -> pd.DataFrame:
    """One row per solve: its stored run (or -), method, size, own cost, what it passed on and its residuals."""
    return pd.DataFrame(
        [
            {
                "run_id": run_ids.get(f"{s.spec.id}@{s.spec.entity}", "-"),
                "id": s.spec.id,
                "entity": s.spec.entity,
                "method": s.spec.method_name,
                "matrix_rows": s.matrix_rows,
                "cost_centers": len(s.result.own_cents),
                "own_cost": format_money(int(s.result.own_cents.sum())),
                "passed_on": format_money(s.draft.total_debit_cents if s.draft is not None else 0),
                "currency": s.currency,
                "residual": f"{s.result.residual:.3g}",
                "relative_residual": f"{s.result.relative_residual:.3g}",
            }
            for s in outcome.solves
        ],
        columns=["run_id", "id", "entity", "method", "matrix_rows", "cost_centers", "own_cost", "passed_on", "currency", "residual", "relative_residual"],
    )


def _largest_finals(outcome: MultilevelOutcome) -> pd.DataFrame:
    """The LARGEST_FINALS cost centers with the largest final cost: own, received, final, retention."""
    largest = results_table(outcome.solves).sort_values("final_cents", ascending=False, kind="stable").head(LARGEST_FINALS)
    return pd.DataFrame(
        {
            "entity": largest["entity"],
            "cost_center": largest["cost_center"],
            "own": [format_money(int(c)) for c in largest["own_cents"]],
            "received": [format_money(int(c)) for c in largest["received_cents"]],
            "final": [format_money(int(c)) for c in largest["final_cents"]],
            "retention": [f"{r:.2%}" for r in largest["retention"]],
        }
    )


def _cycles(outcome: MultilevelOutcome) -> pd.DataFrame:
    """entity, size, solver, condition, members: every cycle of every solve."""
    rows = []
    for s in outcome.solves:
        members = s.result.cycle_members.groupby("component")["cost_center"].agg(lambda c: ", ".join(map(str, c)))
        for cycle in s.result.cycles.itertuples(index=False):
            rows.append(
                {
                    "entity": s.spec.entity, "size": int(cycle.size), "solver": cycle.solver,
                    "condition": f"{cycle.condition:.3g}", "members": members.get(cycle.component, ""),
                }
            )
    return pd.DataFrame(rows, columns=["entity", "size", "solver", "condition", "members"])


def _well_conditioned(outcome: MultilevelOutcome) -> dg.AssetCheckResult:
    """A warning, not a block: the solve is still exact to its residual, but the totals of an
    ill-conditioned cycle swing with small changes of its percents."""
    bad = [(s, row) for s in outcome.solves for row in s.ill_conditioned.itertuples(index=False)]
    details = pd.DataFrame(
        [
            {"entity": s.spec.entity, "size": int(row.size), "condition": f"{row.condition:.3g}", "limit": f"{s.spec.condition_limit:.3g}", "members": row.members}
            for s, row in bad
        ],
        columns=["entity", "size", "condition", "limit", "members"],
    )
    conditions = [float(c) for s in outcome.solves for c in s.result.cycles["condition"]]
    return dg.AssetCheckResult(
        check_name="multilevel_well_conditioned",
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ill_conditioned_cycles": dg.MetadataValue.int(len(bad)),
            "largest_condition": dg.MetadataValue.float(max(conditions, default=0.0)),
            "details": markdown_table(details),
        },
    )


defs = dg.Definitions(assets=[multilevel_allocation])
