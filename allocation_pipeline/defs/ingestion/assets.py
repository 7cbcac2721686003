"""Cleaned extract assets: read the file, validate it against its pandera model, quarantine bad rows.

The line extracts (GL, AP, timesheets) are read, cleaned and stored in the engine and return a
MaterializeResult (no month travels through the IO manager); the GL's balances go to the ledger's
`gl_balances`. The small extracts are cleaned in pandas and passed on as frames.
"""


from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import dagster as dg
import pandas as pd

from allocation_pipeline import settings
from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, CleanResult, ExtractSpec, clean_extract
from allocation_pipeline.core.ingestion.corrections import NOT_APPLIED, Corrected, applied_count, apply_corrections, settle
from allocation_pipeline.core.ingestion.extracts import ExtractError, upload_raw_rows
from allocation_pipeline.core.ingestion.line_cleaning import ENTITY_CURRENCY, LINE_EXTRACTS, quarantine_frame
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.sources.config import SourcesError
from allocation_pipeline.core.sources.lines import SourcedTable, drop_copies, line_sources, read_line_sources
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, WarehouseResource
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.warehouse.bulk import replace_rows
from allocation_pipeline.warehouse.lines import LineEngine, period_balances, stages_files, staging_engine, unbalanced_documents
from allocation_pipeline.warehouse.suggestion_store import accepted_corrections, record_corrections

TOP_REASONS = 5
# What the metadata says of a month cleaned in a staging DuckDB (see `_cleaning_engine`).
STAGED = "DuckDB staging in this process; kept lines loaded into the engine by COPY"
# Line extracts whose rows an accepted cost-center suggestion can correct.
CORRECTED_EXTRACTS = ("gl_lines", "ap_invoices")

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
        result = sources.name_places(clean_extract(raw, spec, _known(spec, references), period=period), raw)
        _store(warehouse, result, period, context.run.run_id)
        return dg.Output(result.kept, metadata={**_metadata(result, raw.files, period), **sources.report(context, raw)})

    return _extract


def build_line_asset(spec: ExtractSpec) -> dg.AssetsDefinition:
    """The asset for a line extract: read from its sources, with accepted suggestions in place,
    cleaned and stored in the engine; a MaterializeResult."""

    @dg.asset(
        name=spec.name,
        group_name="extracts",
        partitions_def=fiscal_month_partitions,
        ins=_line_inputs(spec),
        kinds={"ibis", "pandera"},
        description=DESCRIPTIONS[spec.name],
        check_specs=_line_check_specs(spec),
    )
    def _lines(
        context: dg.AssetExecutionContext, extracts: ExtractsResource, warehouse: WarehouseResource, engine: EngineResource,
        sources: SourcesResource, **references: pd.DataFrame,
    ):
        period = period_of(context.partition_key)
        lines = engine.get_lines()
        with _cleaning_engine(lines, _chosen_sources(sources, spec.name)) as cleaner:
            raw, corrected = _raw_lines(cleaner, warehouse, sources, extracts.directory, spec, period)
            month = _clean_month(cleaner, raw, corrected, spec, _line_references(spec, references), period)
            if cleaner is not lines:
                lines.load_period(spec.name, period, cleaner)
            checks = _month_checks(cleaner, month, period)
        _store_month(warehouse, month, period, context.run.run_id)
        metadata = _month_metadata(context, month, raw, lines.kind, period)
        if cleaner is not lines:
            metadata["cleaned_in"] = dg.MetadataValue.text(STAGED)
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return _lines


@dataclass(frozen=True)
class LineMonth:
    """One month of a line extract once cleaned and stored in the engine: its quarantine and rows in
    (a CleanResult without a kept frame: the kept lines are in the engine), rows quarantined, the
    GL's totals (metadata) and balances, and what became of each accepted suggestion."""

    result: CleanResult
    rows_bad: int
    totals: dict
    balances: pd.DataFrame | None
    corrections: pd.DataFrame | None


def _chosen_sources(sources: SourcesResource, extract: str) -> list:
    try:
        return line_sources(sources.load(), extract)
    except SourcesError as exc:
        raise dg.Failure(description=str(exc)) from None


@contextmanager
def _cleaning_engine(lines: LineEngine, chosen: list) -> Iterator[LineEngine]:
    """Where the month is read and cleaned: the engine itself, or for a PostgreSQL engine reading
    files, a staging DuckDB whose kept lines are then loaded into it (see `stages_files`)."""
    if not stages_files(lines, chosen):
        yield lines
        return
    with staging_engine() as staging:
        yield staging


def _line_inputs(spec: ExtractSpec) -> dict[str, dg.AssetIn]:
    ins = _reference_inputs(spec)
    if spec.name == "gl_lines":
        ins["entities"] = dg.AssetIn(key="entities")
    return ins


def _line_check_specs(spec: ExtractSpec) -> list[dg.AssetCheckSpec] | None:
    if spec.name != "gl_lines":
        return None
    return [
        dg.AssetCheckSpec("gl_documents_balance", asset=spec.name, description="Every GL document kept balances (debits = credits)."),
        dg.AssetCheckSpec(
            "gl_quarantine_share_within_limit", asset=spec.name, blocking=True,
            description=f"At most ${settings.QUARANTINE_LIMIT_ENV} percent (default {settings.DEFAULT_QUARANTINE_LIMIT_PERCENT:g}) "
            "of the month's GL lines are quarantined; otherwise nothing is allocated from the month.",
        ),
    ]


def _line_references(spec: ExtractSpec, references: dict[str, pd.DataFrame]) -> dict:
    """The known values each reference of the extract is checked against; the GL also gets each
    entity's currency."""
    known = _known(spec, references)
    if "entities" in references:
        entities = references["entities"]
        known[ENTITY_CURRENCY] = dict(zip(entities["entity"].astype(str), entities["currency"].astype(str)))
    return known


def _known(spec: ExtractSpec, references: dict[str, pd.DataFrame]) -> dict:
    return {ref: references[REFERENCE_SOURCES[ref][0]][REFERENCE_SOURCES[ref][1]] for ref in spec.references.values()}


def _raw_lines(lines, warehouse: WarehouseResource, sources: SourcesResource, directory: str, spec: ExtractSpec, period: str):
    """The month's raw rows in the engine, read from the extract's sources, with the rows analysts
    corrected by accepting a suggestion replaced by the corrected rows; and what became of each
    correction (None for timesheets, which take none). A source that cannot be read fails the
    asset with its short message, leaving nothing of it in the engine."""
    try:
        raw = read_line_sources(lines.backend, lines.url, sources.load(), directory, spec.name, period)
    except (ExtractError, SourcesError) as exc:
        raise dg.Failure(description=str(exc)) from None
    if spec.name not in CORRECTED_EXTRACTS:
        return raw, None
    try:
        with warehouse.get_engine().connect() as conn:
            corrections = accepted_corrections(conn, spec.name, period)
        corrected = apply_corrections(raw.table, corrections, lines.execute, partial(upload_raw_rows, lines.backend))
    except BaseException:
        drop_copies(lines.backend, raw)
        raise
    raw.table = corrected.table
    return raw, corrected


def _clean_month(lines, raw: SourcedTable, corrected: Corrected | None, spec: ExtractSpec, known: dict, period: str) -> LineMonth:
    """Clean the raw rows in the engine, replace the month's stored lines, read back the quarantine
    and counts; the engine's scratch tables and copied sources are dropped whatever happens."""
    try:
        # Stored as it is cleaned where the engine can (see LineEngine.stores_while_cleaning).
        into = spec.name if lines.stores_while_cleaning else None
        cleaned = lines.clean(raw.table, spec, known, period, into=into)
        try:
            counts = lines.execute(cleaned.checked.aggregate(rows=cleaned.checked.count(), bad=cleaned.checked["_bad"].sum()))
            rows_in = int(counts["rows"].iloc[0]) + (cleaned.rows_stored or 0) + len(raw.unreadable)
            rows_bad = int(counts["bad"].fillna(0).iloc[0]) + len(raw.unreadable)
            if into is None:
                lines.replace_period(spec.name, period, cleaned.stored)
            quarantine = quarantine_frame(lines.execute(cleaned.quarantine), raw.unreadable, spec.name)
            totals = _line_totals(lines, spec.name, period) if spec.name == "gl_lines" else {}
        finally:
            for table in cleaned.scratch:
                lines.release(table)
    finally:
        drop_copies(lines.backend, raw)
    result = CleanResult(extract=spec.name, kept=pd.DataFrame(), quarantine=quarantine, rows_in=rows_in)
    balances = period_balances(lines, period) if spec.name == "gl_lines" else None
    outcomes = settle(corrected.outcomes, quarantine) if corrected is not None else None
    return LineMonth(result, rows_bad, totals, balances, outcomes)


def _store_month(warehouse: WarehouseResource, month: LineMonth, period: str, dagster_run_id: str) -> None:
    """Quarantine, the GL's balances and the corrections' outcomes of the month, in one transaction."""
    with warehouse.get_engine().begin() as conn:
        _store_quarantine(conn, month.result, period, dagster_run_id)
        if month.balances is not None:
            replace_rows(conn, "gl_balances", month.balances.assign(period=period)[["period", *month.balances.columns]], {"period": period})
        if month.corrections is not None:
            record_corrections(conn, month.result.extract, period, month.corrections, dagster_run_id)


def _month_metadata(context: dg.AssetExecutionContext, month: LineMonth, raw: SourcedTable, kind: str, period: str) -> dict:
    """Counts, files and sources, totals, corrections by accepted suggestions; an empty month fails
    the GL (nothing to allocate) and is a warning for the other extracts."""
    rows_kept = month.result.rows_in - month.rows_bad
    metadata = _metadata(month.result, raw.files, period) | {
        "rows_kept": dg.MetadataValue.int(rows_kept),
        "dagster/row_count": dg.MetadataValue.int(rows_kept),
        "engine": dg.MetadataValue.text(kind),
        **month.totals,
        **_sources_metadata(raw),
        **_corrections_metadata(context, month),
    }
    if month.result.rows_in == 0:
        message = f"{', '.join(raw.files)}: no {month.result.extract} rows for {period} (the file holds a header only, or no row of the month)"
        if month.result.extract == "gl_lines":
            raise dg.Failure(description=message, metadata=metadata)
        context.log.warning(message)
        metadata["warning"] = dg.MetadataValue.text(message)
    return metadata


def _sources_metadata(raw: SourcedTable) -> dict:
    metadata = {}
    if raw.in_place:
        metadata["read_in_place"] = dg.MetadataValue.text(", ".join(raw.in_place))
    if raw.copied_from:
        metadata["copied_from"] = dg.MetadataValue.text(", ".join(raw.copied_from))
        metadata["rows_copied_from_sources"] = dg.MetadataValue.int(raw.rows_copied)
    return metadata


def _corrections_metadata(context: dg.AssetExecutionContext, month: LineMonth) -> dict:
    """How many raw rows accepted suggestions corrected (logged too); corrections that could not be
    applied are a warning naming the row."""
    outcomes = month.corrections
    if outcomes is None or outcomes.empty:
        return {}
    applied = applied_count(outcomes)
    context.log.info(f"{month.result.extract}: {applied} row(s) corrected by accepted cost-center suggestions")
    for row in outcomes[outcomes["outcome"].str.startswith(NOT_APPLIED)].itertuples():
        context.log.warning(f"suggestion {row.suggestion_id} ({row.source_file} row {row.row_number}): {row.outcome}")
    return {
        "rows_corrected_by_suggestions": dg.MetadataValue.int(applied),
        "corrections": markdown_table(outcomes),
    }


def _month_checks(lines, month: LineMonth, period: str) -> list[dg.AssetCheckResult] | None:
    if month.result.extract != "gl_lines":
        return None
    return [_documents_balance_in_engine(lines, period), _quarantine_share(month.result, month.rows_bad)]


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
