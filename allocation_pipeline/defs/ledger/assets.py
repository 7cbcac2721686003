"""Journal entries: approved runs of the fiscal month posted in one transaction, checked to balance."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.defs.metadata import console_links, markdown_table, totals_by_currency
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import WarehouseResource
from allocation_pipeline.warehouse.ledger_store import PostingError, entries_for_period, post_approved_runs, unbalanced_entries


@dg.asset(
    group_name="ledger",
    partitions_def=fiscal_month_partitions,
    deps=["allocation_runs", "multilevel_allocation", "fiscal_periods"],
    kinds={"sql"},
    check_specs=[dg.AssetCheckSpec("entries_balance", asset="journal_entries", blocking=True, description="Every posted entry of the month balances to the cent and matches its header.")],
)
def journal_entries(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Journal entries of the fiscal month: every approved run posted as one balanced entry, all in one
    transaction; runs posted earlier are never posted again."""
    period = period_of(context.partition_key)
    engine = warehouse.get_engine()
    try:
        with engine.begin() as conn:
            posted = post_approved_runs(conn, period, posted_by="pipeline", dagster_run_id=context.run.run_id)
    except PostingError as exc:
        raise dg.Failure(description=f"posting {period} failed, nothing was posted: {exc}") from exc
    with engine.connect() as conn:
        entries = entries_for_period(conn, period)
        unbalanced = unbalanced_entries(conn, period)
    yield dg.Output(entries, metadata=_entries_metadata(period, posted, entries, context.run.run_id))
    yield dg.AssetCheckResult(
        check_name="entries_balance",
        passed=unbalanced.empty,
        metadata={"unbalanced_entries": dg.MetadataValue.int(len(unbalanced)), "details": markdown_table(unbalanced)},
    )


def _entries_metadata(period: str, posted: list, entries: pd.DataFrame, dagster_run_id: str) -> dict:
    """What the journal_entries materialization shows: what was posted now (run -> entry), the
    period's entries and reversals, totals per currency, the entries table and console links."""
    shown = entries.assign(total=[format_money(c) for c in entries["total_debit_cents"]]).drop(columns=["total_debit_cents"])
    return {
        "posted_now": dg.MetadataValue.int(len(posted)),
        "posted_now_entries": dg.MetadataValue.text(", ".join(f"{p.run_id} -> {p.entry_id}" for p in posted) or "-"),
        "entries_in_period": dg.MetadataValue.int(len(entries)),
        "dagster/row_count": dg.MetadataValue.int(len(entries)),
        "reversals_in_period": dg.MetadataValue.int(int(entries["reverses_entry_id"].notna().sum())),
        "total_by_currency": totals_by_currency(entries, "total_debit_cents"),
        "entries": markdown_table(shown),
        "dagster_run_id": dg.MetadataValue.text(dagster_run_id),
        **console_links(f"/runs?period={period}&status=posted", {e: f"/documents/{e}" for e in entries["entry_id"]}),
    }


defs = dg.Definitions(assets=[journal_entries])
