"""`generate_company`: write the sample company's extracts month by month, and the sample rules beside them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from allocation_pipeline.sample.company import (
    CORPORATE_IT_ENTITY,
    DEFAULT_CLOSED_PERIODS,
    DEFAULT_END_PERIOD,
    DEFAULT_GL_LINES_PER_PERIOD,
    DEFAULT_PERIODS,
    DEFAULT_SEED,
    ENTITY_CURRENCY,
    EXTRACTS,
    FILE_FORMATS,
    IT_CONSUMPTION_METRIC,
    IT_POOL_ENTITY,
    MIN_GL_LINES_PER_PERIOD,
    PRODUCT_IDS,
    parse_period,
    period_range,
)
from allocation_pipeline.sample.drivers import (
    it_consumption_table,
    matrix_table,
    month_drivers,
    timesheets_table,
    usage_table,
)
from allocation_pipeline.sample.files import (
    AP_SCHEMA,
    HEADCOUNT_SCHEMA,
    MATRIX_SCHEMA,
    USAGE_SCHEMA,
    Writer,
    write_table,
)
from allocation_pipeline.sample.master import master_tables
from allocation_pipeline.sample.profiles import FAMILY_SHARE, random_stream
from allocation_pipeline.sample.transactions import EntityMonth


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate_company` wrote.

    `periods` are the fiscal months generated, oldest first; `row_counts` maps each extract name
    to its data rows (header not counted); `files` lists every file written, extracts and the
    copied rules file (when the package ships one), as absolute paths in a stable order.
    """

    out_dir: Path
    extracts_dir: Path
    periods: tuple[str, ...]
    closed_periods: tuple[str, ...]
    file_format: str
    row_counts: dict[str, int] = field(hash=False)
    files: tuple[Path, ...]
    rules_file: Path | None = None


# --- entry point -----------------------------------------------------------------------------


def _validate(periods: int, end_period: str, closed_periods: int, gl_lines_per_period: int, file_format: str) -> None:
    parse_period(end_period)
    if periods < 1:
        raise ValueError(f"periods must be at least 1, got {periods}")
    if closed_periods < 0:
        raise ValueError(f"closed_periods cannot be negative, got {closed_periods}")
    if gl_lines_per_period < MIN_GL_LINES_PER_PERIOD:
        raise ValueError(f"gl_lines_per_period must be at least {MIN_GL_LINES_PER_PERIOD}, got {gl_lines_per_period}")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}")


def generate_company(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    periods: int = DEFAULT_PERIODS,
    end_period: str = DEFAULT_END_PERIOD,
    closed_periods: int = DEFAULT_CLOSED_PERIODS,
    gl_lines_per_period: int = DEFAULT_GL_LINES_PER_PERIOD,
    file_format: str = "csv",
) -> GenerationSummary:
    """Write the sample company's extracts under `out_dir/extracts/`, replacing earlier ones.

    `periods` months end with `end_period`; the oldest `closed_periods` of them are closed (all
    of them when `closed_periods` >= `periods`). Each month has about `gl_lines_per_period` GL
    lines (within a few lines, never off by more than 5%). Memory stays bounded by one month.
    Raises ValueError for a malformed argument. Files are built in a staging folder and swapped
    in at the end, so a failure leaves the previous extracts in place.
    """
    _validate(periods, end_period, closed_periods, gl_lines_per_period, file_format)
    out_dir = Path(out_dir)
    months = period_range(end_period, periods)
    closed = min(closed_periods, periods)
    out_dir.mkdir(parents=True, exist_ok=True)
    extracts_dir = out_dir / "extracts"
    staging = out_dir / ".extracts.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        row_counts, names = _write_extracts(staging, months, closed, seed, gl_lines_per_period, file_format)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if extracts_dir.exists():
        shutil.rmtree(extracts_dir)
    staging.rename(extracts_dir)
    written = [extracts_dir / name for name in names]

    rules_file = None
    rules_source = resources.files("allocation_pipeline").joinpath("sample", "rules.yaml")
    if rules_source.is_file():
        rules_file = out_dir / "rules.yaml"
        rules_file.write_bytes(rules_source.read_bytes())
        written.append(rules_file)
        # The schema the rules file's first line names, for editors; with the methods installed here.
        from allocation_pipeline.config.schema import SCHEMA_FILE, write_rules_schema

        written.append(write_rules_schema(out_dir / SCHEMA_FILE))

    return GenerationSummary(
        out_dir=out_dir.resolve(),
        extracts_dir=extracts_dir.resolve(),
        periods=tuple(months),
        closed_periods=tuple(months[:closed]),
        file_format=file_format,
        row_counts={name: row_counts[name] for name in EXTRACTS},
        files=tuple(p.resolve() for p in written),
        rules_file=rules_file.resolve() if rules_file else None,
    )


def _write_extracts(
    root: Path, months: list[str], closed: int, seed: int, gl_lines_per_period: int, file_format: str
) -> tuple[dict[str, int], list[str]]:
    """Write every extract under `root`, one month at a time; returns row counts and file names."""
    ext = file_format
    row_counts: dict[str, int] = {}
    names: list[str] = []
    for name, table in master_tables(months, closed).items():
        row_counts[name] = write_table(root / f"{name}.{ext}", table, file_format)
        names.append(f"{name}.{ext}")

    streams = {
        "ap_invoices": Writer(root / f"ap_invoices.{ext}", AP_SCHEMA, file_format),
        "headcount": Writer(root / f"headcount.{ext}", HEADCOUNT_SCHEMA, file_format),
        "usage_metrics": Writer(root / f"usage_metrics.{ext}", USAGE_SCHEMA, file_format),
        "allocation_matrix": Writer(root / f"allocation_matrix.{ext}", MATRIX_SCHEMA, file_format),
    }
    row_counts["gl_lines"] = 0
    row_counts["timesheets"] = 0
    counters: dict = {}  # running document numbers per (entity, family), across months
    try:
        for period in months:
            ordinal = parse_period(period)
            drivers = month_drivers(seed, ordinal)
            entity_hc = {
                e: float(sum(f for c, f in zip(drivers.centers, drivers.headcount) if c.entity == e)) for e in ENTITY_CURRENCY
            }
            gl_parts = []
            revenue_cc = np.zeros(len(drivers.centers))
            revenue_product = np.zeros(len(PRODUCT_IDS))
            for entity in ENTITY_CURRENCY:
                # Lines per entity follow its size (headcount).
                target = int(round(gl_lines_per_period * entity_hc[entity] / sum(entity_hc.values())))
                month = EntityMonth(entity, ordinal, drivers, random_stream(seed, ordinal, "gl", entity), counters)
                fixed_lines = month.payroll()
                if entity == IT_POOL_ENTITY:
                    fixed_lines += month.it_pool()
                if entity == CORPORATE_IT_ENTITY:
                    # Not counted against the line budget, so every other draw of the month stays as it was.
                    month.corporate_it_pool()
                bills = month.fixed_invoices(last_period=period == months[-1])
                fixed_lines += sum(len(b[3]) + 1 for b in bills)
                variable = max(target - fixed_lines, 0)
                shares = {k: int(round(variable * s)) for k, s in FAMILY_SHARE.items()}
                month.ap_invoices(shares["AP_INVOICE"], bills)
                month.ar_invoices(shares["AR_INVOICE"])
                month.expense_reports(shares["EXPENSE"])
                month.bank("PAYMENT", shares["PAYMENT"])
                month.bank("RECEIPT", shares["RECEIPT"])
                gl_parts.append(month.ledger.table())
                streams["ap_invoices"].write(month.ap_table())
                mine = [i for i, c in enumerate(drivers.centers) if c.entity == entity]
                revenue_cc[mine] += month.revenue_cc
                revenue_product += month.revenue_product
                del month
            row_counts["gl_lines"] += write_table(root / "gl_lines" / f"{period}.{ext}", pa.concat_tables(gl_parts), file_format)
            names.append(f"gl_lines/{period}.{ext}")
            del gl_parts
            sheets = timesheets_table(seed, ordinal, drivers)
            row_counts["timesheets"] += write_table(root / "timesheets" / f"{period}.{ext}", sheets, file_format)
            names.append(f"timesheets/{period}.{ext}")
            headcount = {
                "period": [period] * len(drivers.centers),
                "cost_center": [c.cost_center for c in drivers.centers],
                "headcount": drivers.headcount,
            }
            streams["headcount"].write(pa.table(headcount, schema=HEADCOUNT_SCHEMA))
            streams["usage_metrics"].write(usage_table(period, drivers, revenue_cc, revenue_product))
            streams["usage_metrics"].write(it_consumption_table(period, drivers, random_stream(seed, ordinal, IT_CONSUMPTION_METRIC)))
            streams["allocation_matrix"].write(matrix_table(period, drivers, random_stream(seed, ordinal, "matrix")))
    finally:
        for writer in streams.values():
            writer.close()
    for name, writer in streams.items():
        row_counts[name] = writer.rows
        names.append(f"{name}.{ext}")
    return row_counts, names
