"""The period report: one self-contained HTML file per entity, written after the month is posted
and its insights computed, with the key figures and links in the materialization metadata."""

import time

import dagster as dg
import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.report.model import anchor
from allocation_pipeline.defs.metadata import console_links, markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import EngineResource, WarehouseResource
from allocation_pipeline.period_reports import ReportFile, write_period_reports

# The assets whose tables the report reads (tests/test_period_report.py checks each is defined).
REPORT_INPUTS = ["journal_entries", "multilevel_allocation", "driver_analysis", "anomaly_flags", "profitability", "allocation_narratives"]


@dg.asset(group_name="reporting", partitions_def=fiscal_month_partitions, deps=REPORT_INPUTS, kinds={"html"})
def period_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource) -> dg.MaterializeResult:
    """The finance period report of the fiscal month, one HTML file per entity (summary and narrative,
    cost flow Sankey, runs with their document chain, cost objects with drill-down to source
    transactions, anomalies, driver analysis, profitability), read from the posted tables and views."""
    period = period_of(context.partition_key)
    started = time.perf_counter()
    reports = write_period_reports(warehouse.get_engine(), period, lines=engine.get_lines())
    return dg.MaterializeResult(metadata=report_metadata(period, reports, time.perf_counter() - started))


def report_metadata(period: str, reports: list[ReportFile], seconds: float) -> dict:
    """Key figures per entity, the files (path and file:// link), and every run of the period with a
    link to its detail in the report."""
    summary = pd.DataFrame(
        [
            {
                "entity": r.entity,
                "currency": r.currency,
                "runs": r.figures["runs"],
                "posted": r.figures["runs_posted"],
                "allocated": format_money(r.figures["allocated_cents"]),
                "entries": r.figures["entries"],
                "direct_cost": format_money(r.figures["direct_cost_cents"]),
                "cost_after_allocation": format_money(r.figures["cost_after_cents"]),
                "flags": r.figures["flags"],
                "size_kb": round(r.bytes / 1024),
                "report": f"[{r.path.name}]({r.path.as_uri()})",
            }
            for r in reports
        ],
        columns=["entity", "currency", "runs", "posted", "allocated", "entries", "direct_cost", "cost_after_allocation", "flags", "size_kb", "report"],
    )
    runs = pd.DataFrame(
        [
            {
                "run": f"[{run['run_id']}]({r.path.as_uri()}#{anchor('run', run['run_id'])})",
                "entity": r.entity,
                "rule": _or_dash(run["rule_id"]),
                "status": run["status"],
                "amount": format_money(run["total_debit_cents"]),
                "journal_entry": _or_dash(run["journal_entry_id"]),
                "reversal": _or_dash(run["reversal_entry_id"]),
            }
            for r in reports
            for run in r.runs
        ],
        columns=["run", "entity", "rule", "status", "amount", "journal_entry", "reversal"],
    )
    metadata: dict = {
        "period": dg.MetadataValue.text(period),
        "reports": dg.MetadataValue.int(len(reports)),
        "runs_in_period": dg.MetadataValue.int(len(runs)),
        "total_size_kb": dg.MetadataValue.int(round(sum(r.bytes for r in reports) / 1024)),
        "seconds": dg.MetadataValue.float(round(seconds, 2)),
        "summary": markdown_table(summary),
        "runs": markdown_table(runs),
    }
    for r in reports:
        metadata[f"report_{r.entity}"] = dg.MetadataValue.path(str(r.path))
        metadata[f"report_{r.entity}_link"] = dg.MetadataValue.url(r.path.as_uri())
    metadata.update(console_links(f"/periods/{period}/{reports[0].entity}" if reports else "/periods", {r.entity: f"/periods/{period}/{r.entity}" for r in reports}))
    return metadata


def _or_dash(value: object) -> str:
    return value if isinstance(value, str) and value else "-"


defs = dg.Definitions(assets=[period_report])
