"""Cleaned extract assets: read the file, validate it against its pandera model, quarantine bad rows."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, CleanResult, ExtractSpec, clean_extract
from allocation_pipeline.core.money import format_money
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import ExtractsResource, WarehouseResource
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.warehouse.bulk import replace_rows

# Which cleaned master-data asset provides each reference set an extract is checked against.
REFERENCE_SOURCES = {"entity": ("entities", "entity"), "account": ("accounts", "account"), "cost center": ("cost_centers", "cost_center")}
# Extracts stored in the warehouse, and the table each goes to (the others feed drivers only).
WAREHOUSE_TABLES = {
    "entities": "dim_entities",
    "accounts": "dim_accounts",
    "cost_centers": "dim_cost_centers",
    "dimension_members": "dim_dimension_members",
    "fiscal_periods": "dim_fiscal_periods",
    "gl_lines": "gl_lines",
    "ap_invoices": "ap_invoices",
    "allocation_matrix": "allocation_matrix",
}
DESCRIPTIONS = {
    "entities": "Legal entities and their currencies, cleaned.",
    "accounts": "Chart of accounts, cleaned.",
    "cost_centers": "Cost centers (support and operating), cleaned.",
    "dimension_members": "Products, regions and other dimension members, cleaned.",
    "fiscal_periods": "Fiscal calendar per entity (open or closed), cleaned.",
    "gl_lines": "GL lines of the fiscal month, cleaned; bad rows quarantined with their reason.",
    "ap_invoices": "AP invoice lines of the fiscal month, cleaned.",
    "timesheets": "Timesheet hours of the fiscal month, cleaned.",
    "headcount": "Headcount (FTE) per cost center for the fiscal month, cleaned.",
    "usage_metrics": "Usage metrics of the fiscal month (each metric is a driver), cleaned.",
    "allocation_matrix": "Multi-level allocation matrix of the fiscal month (source x target percent per entity), cleaned.",
}


def _reference_inputs(spec: ExtractSpec) -> dict[str, dg.AssetIn]:
    return {REFERENCE_SOURCES[ref][0]: dg.AssetIn(key=REFERENCE_SOURCES[ref][0]) for ref in spec.references.values()}


def build_extract_asset(spec: ExtractSpec) -> dg.AssetsDefinition:
    """The asset for one extract; partitioned by fiscal month when the extract has a period."""
    check_specs = [dg.AssetCheckSpec("gl_documents_balance", asset=spec.name, description="Every GL document kept balances (debits = credits).")] if spec.name == "gl_lines" else None

    @dg.asset(
        name=spec.name,
        group_name="extracts",
        partitions_def=fiscal_month_partitions if spec.partitioned else None,
        ins=_reference_inputs(spec),
        kinds={"pandas", "pandera"},
        description=DESCRIPTIONS[spec.name],
        check_specs=check_specs,
    )
    def _extract(
        context: dg.AssetExecutionContext, extracts: ExtractsResource, warehouse: WarehouseResource, sources: SourcesResource, **references: pd.DataFrame
    ):
        period = period_of(context.partition_key) if spec.partitioned else None
        required, optional = spec.file_columns()
        raw = sources.read(extracts.directory, spec.name, required, optional, period=period)
        known = {ref: references[REFERENCE_SOURCES[ref][0]][REFERENCE_SOURCES[ref][1]] for ref in spec.references.values()}
        result = sources.name_places(clean_extract(raw, spec, known, period=period), raw)
        _store(warehouse, result, period, context.run.run_id)
        yield dg.Output(result.kept, metadata={**_metadata(result, raw.files, period), **sources.report(context, raw)})
        if check_specs:
            yield _documents_balance(result.kept)

    return _extract


def _store(warehouse: WarehouseResource, result: CleanResult, period: str | None, dagster_run_id: str) -> None:
    """Quarantine rows and the cleaned table replace this extract's partition, in one transaction."""
    quarantine = result.quarantine.rename(columns={"column": "column_name", "value": "bad_value"}).assign(
        partition_key=period or "", dagster_run_id=dagster_run_id, quarantined_at=pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    )
    quarantine = quarantine[["extract", "partition_key", "source_file", "row_number", "column_name", "bad_value", "reason", "dagster_run_id", "quarantined_at"]]
    table = WAREHOUSE_TABLES.get(result.extract)
    with warehouse.get_engine().begin() as conn:
        replace_rows(conn, "quarantine", quarantine, {"extract": result.extract, "partition_key": period or ""})
        if table is None:
            return
        kept = result.kept
        if period is None:
            kept = kept.drop(columns=["source_file", "row_number"])
            replace_rows(conn, table, kept, {})
        else:
            kept = kept[["period"] + [c for c in kept.columns if c != "period"]]
            replace_rows(conn, table, kept, {"period": period})


def _metadata(result: CleanResult, files: list[str], period: str | None) -> dict:
    metadata = {
        "rows_in": dg.MetadataValue.int(result.rows_in),
        "rows_kept": dg.MetadataValue.int(result.rows_kept),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "files": dg.MetadataValue.text(", ".join(files)),
        "quarantine_reasons": markdown_table(result.reasons()),
    }
    if period:
        metadata["period"] = dg.MetadataValue.text(period)
    if "debit_cents" in result.kept:
        metadata["total_debit"] = dg.MetadataValue.text(format_money(int(result.kept["debit_cents"].sum())))
        metadata["total_credit"] = dg.MetadataValue.text(format_money(int(result.kept["credit_cents"].sum())))
    return metadata


def _documents_balance(kept: pd.DataFrame) -> dg.AssetCheckResult:
    """A warning, not a block: an unbalanced document usually means one of its lines was quarantined."""
    sums = kept.groupby(["entity", "document_id"])[["debit_cents", "credit_cents"]].sum()
    unbalanced = sums[sums["debit_cents"] != sums["credit_cents"]].reset_index()
    unbalanced["difference"] = [format_money(d - c) for d, c in zip(unbalanced["debit_cents"], unbalanced["credit_cents"])]
    return dg.AssetCheckResult(
        check_name="gl_documents_balance",
        passed=unbalanced.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unbalanced_documents": dg.MetadataValue.int(len(unbalanced)),
            "documents": markdown_table(unbalanced[["entity", "document_id", "difference"]]),
        },
    )


extract_assets = [build_extract_asset(spec) for spec in EXTRACT_SPECS.values()]

defs = dg.Definitions(assets=extract_assets)
