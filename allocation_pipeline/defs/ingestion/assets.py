"""Cleaned extract assets: read the file, validate it against its pandera model, quarantine bad rows.

The line extracts (GL, AP, timesheets) are read, cleaned and stored in the engine and return a
MaterializeResult (no month travels through the IO manager); the GL's balances go to the ledger's
`gl_balances`. The small extracts are cleaned in pandas and passed on as frames.
"""


import dagster as dg
import pandas as pd

from allocation_pipeline import settings
from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, CleanResult, ExtractSpec, clean_extract
from allocation_pipeline.core.ingestion.extracts import ExtractError, read_extract, read_extract_table
from allocation_pipeline.core.ingestion.line_cleaning import ENTITY_CURRENCY, LINE_EXTRACTS, clean_lines, quarantine_frame
from allocation_pipeline.core.money import format_money
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, WarehouseResource
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.warehouse.bulk import replace_rows
from allocation_pipeline.warehouse.lines import period_balances, unbalanced_documents

TOP_REASONS = 5

# Which cleaned master-data asset provides each reference set an extract is checked against.
REFERENCE_SOURCES = {"entity": ("entities", "entity"), "account": ("accounts", "account"), "cost center": ("cost_centers", "cost_center")}
# Extracts stored in the warehouse, and the table each goes to (the others feed drivers only).
WAREHOUSE_TABLES = {
    "entities": "dim_entities",
    "accounts": "dim_accounts",
    "cost_centers": "dim_cost_centers",
    "dimension_members": "dim_dimension_members",
    "fiscal_periods": "dim_fiscal_periods",
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
    if spec.name in LINE_EXTRACTS:
        return build_line_asset(spec)

    @dg.asset(
        name=spec.name,
        group_name="extracts",
        partitions_def=fiscal_month_partitions if spec.partitioned else None,
        ins=_reference_inputs(spec),
        kinds={"pandas", "pandera"},
        description=DESCRIPTIONS[spec.name],
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
        return dg.Output(result.kept, metadata={**_metadata(result, raw.files, period), **sources.report(context, raw)})

    return _extract


def build_line_asset(spec: ExtractSpec) -> dg.AssetsDefinition:
    """The asset for a line extract: cleaned and stored in the engine; a MaterializeResult."""
    check_specs = []
    if spec.name == "gl_lines":
        check_specs = [
            dg.AssetCheckSpec("gl_documents_balance", asset=spec.name, description="Every GL document kept balances (debits = credits)."),
            dg.AssetCheckSpec(
                "gl_quarantine_share_within_limit", asset=spec.name, blocking=True,
                description=f"At most ${settings.QUARANTINE_LIMIT_ENV} percent (default {settings.DEFAULT_QUARANTINE_LIMIT_PERCENT:g}) "
                "of the month's GL lines are quarantined; otherwise nothing is allocated from the month.",
            ),
        ]
    ins = _reference_inputs(spec)
    if spec.name == "gl_lines":
        ins["entities"] = dg.AssetIn(key="entities")

    @dg.asset(
        name=spec.name,
        group_name="extracts",
        partitions_def=fiscal_month_partitions,
        ins=ins,
        kinds={"ibis", "pandera"},
        description=DESCRIPTIONS[spec.name],
        check_specs=check_specs or None,
    )
    def _lines(context: dg.AssetExecutionContext, extracts: ExtractsResource, warehouse: WarehouseResource, engine: EngineResource, **references: pd.DataFrame):
        period = period_of(context.partition_key)
        required, optional = spec.file_columns()
        lines = engine.get_lines()
        raw = read_extract_table(lines.backend, extracts.directory, spec.name, required, optional, period=period)
        known = {ref: references[REFERENCE_SOURCES[ref][0]][REFERENCE_SOURCES[ref][1]] for ref in spec.references.values()}
        if "entities" in references:
            entities = references["entities"]
            known[ENTITY_CURRENCY] = dict(zip(entities["entity"].astype(str), entities["currency"].astype(str)))
        cleaned = clean_lines(raw.table, spec, known, period, materialize=lines.materialize, duplicates=lines.duplicates, store_parsed=lines.store_parsed, guard_strip=lines.guard_strip)
        try:
            counts = lines.execute(cleaned.checked.aggregate(rows=cleaned.checked.count(), bad=cleaned.checked["_bad"].sum()))
            rows_in = int(counts["rows"].iloc[0]) + len(raw.unreadable)
            rows_bad = int(counts["bad"].fillna(0).iloc[0]) + len(raw.unreadable)
            lines.replace_period(spec.name, period, cleaned.stored)
            quarantine = quarantine_frame(lines.execute(cleaned.quarantine), raw.unreadable, spec.name)
            totals = _line_totals(lines, spec.name, period) if spec.name == "gl_lines" else {}
        finally:
            lines.release(cleaned.checked)
        result = CleanResult(extract=spec.name, kept=pd.DataFrame(), quarantine=quarantine, rows_in=rows_in)
        balances = period_balances(lines, period) if spec.name == "gl_lines" else None
        with warehouse.get_engine().begin() as conn:
            _store_quarantine(conn, result, period, context.run.run_id)
            if balances is not None:
                replace_rows(conn, "gl_balances", balances.assign(period=period)[["period", *balances.columns]], {"period": period})
        metadata = _metadata(result, raw.files, period) | {
            "rows_kept": dg.MetadataValue.int(rows_in - rows_bad),
            "dagster/row_count": dg.MetadataValue.int(rows_in - rows_bad),
            "engine": dg.MetadataValue.text(lines.kind),
            **totals,
        }
        if rows_in == 0:
            message = f"{', '.join(raw.files)}: no {spec.name} rows for {period} (the file holds a header only, or no row of the month)"
            if spec.name == "gl_lines":
                raise dg.Failure(description=message, metadata=metadata)
            context.log.warning(message)
            metadata["warning"] = dg.MetadataValue.text(message)
        checks = []
        if spec.name == "gl_lines":
            checks = [_documents_balance_in_engine(lines, period), _quarantine_share(result, rows_bad)]
        return dg.MaterializeResult(metadata=metadata, check_results=checks or None)

    return _lines


def _line_totals(lines, table: str, period: str) -> dict:
    rows = lines.lines(table, period)
    sums = lines.execute(rows.aggregate(debit=(rows["debit"].sum() * 100).cast("int64"), credit=(rows["credit"].sum() * 100).cast("int64")))
    debit, credit = (0 if pd.isna(v) else int(v) for v in (sums["debit"].iloc[0], sums["credit"].iloc[0]))
    return {"total_debit": dg.MetadataValue.text(format_money(debit)), "total_credit": dg.MetadataValue.text(format_money(credit))}


def _quarantine_share(result: CleanResult, rows_bad: int) -> dg.AssetCheckResult:
    """Blocking: a gutted month (too many GL lines quarantined) must not be allocated or posted."""
    limit = settings.quarantine_limit_percent()
    share = 100.0 * rows_bad / result.rows_in if result.rows_in else 0.0
    reasons = result.reasons().head(TOP_REASONS)
    top = "; ".join(f"{r.reason} ({r.column if isinstance(r.column, str) else 'row'}): {r.rows:,}" for r in reasons.itertuples())
    passed = share <= limit
    description = (
        f"{share:.1f}% of the month's GL lines quarantined ({rows_bad:,} of {result.rows_in:,}), "
        + ("within" if passed else "above")
        + f" the limit of {limit:g}% (${settings.QUARANTINE_LIMIT_ENV})"
        + (f"; top reasons: {top}" if top else "")
    )
    return dg.AssetCheckResult(
        check_name="gl_quarantine_share_within_limit",
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "quarantined_percent": dg.MetadataValue.float(round(share, 3)),
            "limit_percent": dg.MetadataValue.float(limit),
            "rows_quarantined": dg.MetadataValue.int(rows_bad),
            "rows_in": dg.MetadataValue.int(result.rows_in),
            "top_reasons": markdown_table(reasons),
        },
    )


def _documents_balance_in_engine(lines, period: str) -> dg.AssetCheckResult:
    """A warning, not a block: an unbalanced document usually means one of its lines was quarantined."""
    count, shown = unbalanced_documents(lines, period)
    shown["difference"] = [format_money(int(d)) for d in shown["difference_cents"]]
    return dg.AssetCheckResult(
        check_name="gl_documents_balance",
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unbalanced_documents": dg.MetadataValue.int(count), "documents": markdown_table(shown[["entity", "document_id", "difference"]])},
    )


def _store_quarantine(conn, result: CleanResult, period: str | None, dagster_run_id: str) -> None:
    """Replace this extract's quarantine rows of the partition, in the caller's transaction."""
    quarantine = result.quarantine.rename(columns={"column": "column_name", "value": "bad_value"}).assign(
        partition_key=period or "", dagster_run_id=dagster_run_id, quarantined_at=pd.Timestamp.now("UTC").tz_localize(None).floor("s")
    )
    quarantine = quarantine[["extract", "partition_key", "source_file", "row_number", "column_name", "bad_value", "reason", "dagster_run_id", "quarantined_at"]]
    replace_rows(conn, "quarantine", quarantine, {"extract": result.extract, "partition_key": period or ""})


def _store(warehouse: WarehouseResource, result: CleanResult, period: str | None, dagster_run_id: str) -> None:
    """Quarantine rows and the cleaned table replace this extract's partition, in one transaction."""
    table = WAREHOUSE_TABLES.get(result.extract)
    with warehouse.get_engine().begin() as conn:
        _store_quarantine(conn, result, period, dagster_run_id)
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


extract_assets = [build_extract_asset(spec) for spec in EXTRACT_SPECS.values()]

defs = dg.Definitions(assets=extract_assets)
