"""Analyst actions as Dagster jobs with run config (approve, reject, void), and the sensor that
posts approved runs, so everything the CLI does can be launched from the Dagster UI."""

from typing import Optional

import dagster as dg

from allocation_pipeline.core.ledger.lifecycle import LifecycleError
from allocation_pipeline.defs.partitions import fiscal_month_partitions, partition_key_of
from allocation_pipeline.defs.resources import WarehouseResource
from allocation_pipeline.warehouse.ledger_store import (
    PostingError,
    RunNotFound,
    approve_run,
    get_run,
    periods_with_approved_runs,
    reject_run,
    void_run,
)


class RunActionConfig(dg.Config):
    """Which run, who acts and why (a reason is required to reject or void)."""

    run_id: str
    by: str
    reason: Optional[str] = None


class VoidConfig(RunActionConfig):
    """Voiding may post its reversing entry into another open fiscal month (YYYY-MM)."""

    period: Optional[str] = None


def _act(context: dg.OpExecutionContext, warehouse: WarehouseResource, action, *args) -> dg.Output:
    try:
        with warehouse.get_engine().begin() as conn:
            result = action(conn, *args)
            run = get_run(conn, args[0])
    except (LifecycleError, PostingError, RunNotFound) as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(f"{run.run_id} is now {run.status}")
    return dg.Output(
        run.status,
        metadata={
            "run_id": dg.MetadataValue.text(run.run_id),
            "status": dg.MetadataValue.text(run.status),
            "journal_entry_id": dg.MetadataValue.text(run.journal_entry_id or "-"),
            "reversal_entry_id": dg.MetadataValue.text(result if isinstance(result, str) else run.reversal_entry_id or "-"),
        },
    )


@dg.op(description="Approve a calculated allocation run.")
def approve_allocation_run(context: dg.OpExecutionContext, config: RunActionConfig, warehouse: WarehouseResource) -> dg.Output[str]:
    return _act(context, warehouse, approve_run, config.run_id, config.by, config.reason)


@dg.op(description="Reject a calculated allocation run (reason required).")
def reject_allocation_run(context: dg.OpExecutionContext, config: RunActionConfig, warehouse: WarehouseResource) -> dg.Output[str]:
    return _act(context, warehouse, reject_run, config.run_id, config.by, config.reason or "")


@dg.op(description="Void a posted allocation run with a reversing journal entry (reason required).")
def void_allocation_run(context: dg.OpExecutionContext, config: VoidConfig, warehouse: WarehouseResource) -> dg.Output[str]:
    return _act(context, warehouse, void_run, config.run_id, config.by, config.reason or "", config.period)


@dg.job(description="Approve one allocation run: run config ops.approve_allocation_run.config {run_id, by, reason}.")
def approve_run_job():
    approve_allocation_run()


@dg.job(description="Reject one allocation run: run config ops.reject_allocation_run.config {run_id, by, reason}.")
def reject_run_job():
    reject_allocation_run()


@dg.job(description="Void one posted allocation run: run config ops.void_allocation_run.config {run_id, by, reason, period}.")
def void_run_job():
    void_allocation_run()


post_approved_runs_job = dg.define_asset_job(
    "post_approved_runs_job",
    selection=["journal_entries"],
    description="Post the approved allocation runs of one fiscal month (journal_entries only).",
)


@dg.sensor(job=post_approved_runs_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def approved_runs_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Requests posting for every fiscal month that has approved runs waiting."""
    valid = set(fiscal_month_partitions.get_partition_keys())
    with warehouse.get_engine().connect() as conn:
        waiting = periods_with_approved_runs(conn)
    for row in waiting.itertuples(index=False):
        key = partition_key_of(row.period)
        if key not in valid:
            context.log.warning(f"{row.runs} approved run(s) in {row.period}, which has no partition; post them with `allocation post`")
            continue
        # One request per set of waiting runs: a failed posting is not retried until the set changes.
        yield dg.RunRequest(partition_key=key, run_key=f"{row.period}:{row.first_run}:{row.last_run}:{row.runs}")


defs = dg.Definitions(
    jobs=[approve_run_job, reject_run_job, void_run_job, post_approved_runs_job],
    sensors=[approved_runs_sensor],
)
