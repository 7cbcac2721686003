"""Pipeline benchmark: generate N GL lines for one period and materialize it end to end, against
the floor measured in the same run on the same file (the engine reading the GL Parquet file into a
table and grouping the month's balances), reporting the ratio, wall time per asset and peak memory."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

LINE_ASSETS = ("gl_lines", "ap_invoices", "timesheets")
TARGET_RATIO = 3.0
TARGET_RSS_MB = 3 * 1024
TARGET_BAD_RATIO = 1.5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="one period end to end on N generated GL lines, against the engine's floor",
        description="Generates a one-period sample company with N GL lines (in a child process), measures the "
        "floor on the same GL file (DuckDB: read the Parquet file into a table and group the month's balances; "
        "PostgreSQL: COPY of the same rows and the same GROUP BY), then runs every asset of the month in this "
        "process against a fresh warehouse and prints the ratio, per-asset wall time, GL lines/s and peak RSS. "
        "--bad-share also runs the month with that share of bad GL rows of mixed kinds and compares.",
    )
    parser.add_argument("--gl-lines", type=int, default=1_000_000, help="GL lines in the period (default 1,000,000)")
    parser.add_argument("--period", default="2026-10", help="the fiscal month to generate and run (default 2026-10)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="extract file format (default parquet)")
    parser.add_argument("--warehouse-url", help="SQLAlchemy URL of an empty warehouse (ledger and engine) instead of a temporary DuckDB file")
    parser.add_argument("--bad-share", type=float, default=0.0, help="also run a copy of the month with this share of bad GL rows (e.g. 0.1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated company (default 7)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.format != "parquet" and args.bad_share:
        raise SystemExit("--bad-share needs --format parquet")
    with tempfile.TemporaryDirectory(prefix="allocation-benchmark-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        summary = _in_child(_generate, root, args.seed, args.period, args.gl_lines, args.format)
        generation = time.perf_counter() - started
        gl_file = _gl_file(root, args.period)
        url = args.warehouse_url or f"duckdb:///{root / 'warehouse.duckdb'}"
        floor = _in_child(_floor, str(gl_file), url, str(root / "floor.duckdb"))
        print(f"GL lines:            {summary:,} ({args.format}; generated in {generation:.1f} s, not counted below)")
        print(f"Warehouse / engine:  {url.split('://')[0].split('+')[0]}")
        print(f"Floor:               {floor:.2f} s  ({'COPY of the same rows + the same GROUP BY' if url.startswith('postgres') else 'DuckDB reads the GL Parquet file into a table + GROUP BY of the balances'})")
        clean = _materialize(root, url, args.period)
        _report(clean, floor, summary)
        if args.bad_share:
            bad_root = root / "bad"
            _in_child(_copy_with_bad_rows, str(root), str(bad_root), str(gl_file.relative_to(root / "extracts")), args.bad_share, args.seed)
            bad_url = args.warehouse_url or f"duckdb:///{bad_root / 'warehouse.duckdb'}"
            if args.warehouse_url:
                _reset(bad_url)
            os.environ["ALLOCATION_QUARANTINE_LIMIT_PERCENT"] = "100"  # measure the whole month, not the stop
            bad = _materialize(bad_root, bad_url, args.period)
            print(f"\nBad input: {args.bad_share:.0%} bad GL rows of mixed kinds (bad amounts, dates, unknown cost centers, "
                  "duplicates, wrong currency, negative amounts)")
            _report(bad, floor, summary)
            ratio = bad["steps"].get("gl_lines", 0) / max(clean["steps"].get("gl_lines", 1e-9), 1e-9)
            print(f"gl_lines with bad rows / clean: {ratio:.2f}x (target <= {TARGET_BAD_RATIO}x); "
                  f"end to end {bad['wall'] / clean['wall']:.2f}x")
        failures = clean["failures"]
        if failures:
            print("Run failed:\n  " + "\n  ".join(failures))
            return 1
    return 0


def _report(run: dict, floor: float, lines: int) -> None:
    wall, steps = run["wall"], run["steps"]
    fixed = sum(s for name, s in steps.items() if name not in LINE_ASSETS)
    print("Per asset (wall s):")
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {step:28s} {seconds:8.2f}")
    print(f"  ({len(steps) - 8} more)" if len(steps) > 8 else "")
    print(f"End to end:          {wall:.1f} s  ({lines / wall:,.0f} GL lines/s)")
    print(f"Ratio to floor:      {wall / floor:.2f}x (target <= {TARGET_RATIO:g}x)")
    print(f"Line assets:         {sum(steps.get(a, 0) for a in LINE_ASSETS):.1f} s; every other asset (fixed cost per month): {fixed:.1f} s")
    print(f"Peak memory (RSS):   {run['peak_mb']:,.0f} MB (target <= {TARGET_RSS_MB:,} MB at 10M lines)")
    if run["failures"]:
        print("Failures:\n  " + "\n  ".join(run["failures"]))


def _materialize(root: Path, url: str, period: str) -> dict:
    import dagster as dg

    from allocation_pipeline.core.ingestion.line_cleaning import clear_plans
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import partition_key_of
    from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, RulesResource, WarehouseResource
    from allocation_pipeline.defs.sources.resources import SourcesResource
    from allocation_pipeline.period_reports import REPORTS_DIR_ENV
    from allocation_pipeline.reporting import run_failures

    resources = {
        "warehouse": WarehouseResource(url=url),
        "engine": EngineResource(url=url),
        "extracts": ExtractsResource(directory=str(root / "extracts")),
        "rules": RulesResource(path=str(root / "rules.yaml")),
        "sources": SourcesResource(),
    }
    assets = list(build_definitions().assets)
    # Each month is measured as a process's first: the bad copy would otherwise reuse the cleaning
    # plans the clean month compiled (about 2 s of Python work saved).
    clear_plans()
    os.environ.pop("DAGSTER_HOME", None)
    os.environ[REPORTS_DIR_ENV] = str(root / "reports")  # period_report writes here, not into data/
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = dg.materialize(assets, partition_key=partition_key_of(period), instance=instance, resources=resources, raise_on_error=False)
        wall = time.perf_counter() - started
        steps = _step_times(instance, result.run_id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": wall, "steps": steps, "peak_mb": peak_mb, "failures": run_failures(result)}


def _in_child(function, *args):
    """Run `function(*args)` in a fresh process so its memory does not count in this one's peak."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def _generate(root: Path, seed: int, period: str, gl_lines: int, file_format: str) -> int:
    from allocation_pipeline.sample.generate import generate_company

    summary = generate_company(root, seed=seed, periods=1, end_period=period, closed_periods=0, gl_lines_per_period=gl_lines, file_format=file_format)
    return summary.row_counts.get("gl_lines", gl_lines)


def _gl_file(root: Path, period: str) -> Path:
    candidates = sorted((root / "extracts").glob(f"gl_lines/{period}.*")) or sorted((root / "extracts").glob("gl_lines.*"))
    return candidates[0]


def _floor(gl_file: str, url: str, scratch: str) -> float:
    """Seconds for the engine to load the GL file into a table and group the month's balances."""
    from allocation_pipeline.warehouse.engine import duckdb_config

    group = (
        "SELECT entity, account, cost_center, product, region, currency, SUM(CAST(debit AS DECIMAL(18, 2)) - CAST(credit AS DECIMAL(18, 2))) "
        "FROM floor_lines GROUP BY entity, account, cost_center, product, region, currency"
    )
    if url.startswith("postgres"):
        import pyarrow.parquet as pq
        import sqlalchemy as sa

        from allocation_pipeline.warehouse.bulk import COPY_CHUNK_ROWS
        from allocation_pipeline.warehouse.engine import make_engine

        engine = make_engine(url)
        table = pq.read_table(gl_file)
        started = time.perf_counter()
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            columns = ", ".join(f'"{f.name}" {"BIGINT" if str(f.type).startswith("int") else "TEXT"}' for f in table.schema)
            conn.exec_driver_sql(f"CREATE UNLOGGED TABLE floor_lines ({columns})")
            import io

            import pyarrow.csv as pacsv

            with raw.cursor() as cursor, cursor.copy("COPY floor_lines FROM STDIN (FORMAT CSV)") as copy:
                for batch in table.to_batches(max_chunksize=COPY_CHUNK_ROWS):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
                    copy.write(buffer.getvalue())
            conn.exec_driver_sql(group).fetchall()
        seconds = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE floor_lines"))
        engine.dispose()
        return seconds
    import duckdb

    con = duckdb.connect(scratch, config=duckdb_config())
    try:
        started = time.perf_counter()
        con.execute("CREATE TABLE floor_lines AS SELECT * FROM read_parquet(?)", [gl_file])
        con.execute(group).fetchall()
        return time.perf_counter() - started
    finally:
        con.close()
        Path(scratch).unlink(missing_ok=True)


def _copy_with_bad_rows(root: str, out: str, gl_relative: str, share: float, seed: int) -> None:
    """A copy of the company whose GL file has `share` of its rows made bad, in six kinds in turn."""
    import shutil

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(Path(root) / "extracts", Path(out) / "extracts")
    shutil.copy(Path(root) / "rules.yaml", Path(out) / "rules.yaml")
    table = pq.read_table(Path(root) / "extracts" / gl_relative)
    rng = np.random.default_rng(seed)
    bad = rng.choice(table.num_rows, size=int(table.num_rows * share), replace=False)
    kind = np.full(table.num_rows, -1)
    kind[bad] = np.arange(bad.size) % 6
    columns = {name: table[name] for name in table.column_names}

    def spoil(name: str, k: int, value) -> None:
        mask = pa.array(kind == k)
        columns[name] = pc.if_else(mask, pa.scalar(value, columns[name].type), columns[name])

    spoil("debit", 0, "12,50")
    spoil("posting_date", 1, "2026-13-01")
    spoil("cost_center", 2, "XX-NOWHERE")
    spoil("currency", 4, "JPY")
    spoil("debit", 5, "-1.00")
    # Kind 3: a duplicate of the row before it (same entity, document and line).
    duplicate = np.flatnonzero(kind == 3)
    duplicate = duplicate[duplicate > 0]
    source = np.arange(table.num_rows)
    source[duplicate] = duplicate - 1
    for name in ("entity", "document_id", "line"):
        columns[name] = columns[name].take(pa.array(source))
    pq.write_table(pa.table(columns), Path(out) / "extracts" / gl_relative)


def _reset(url: str) -> None:
    """Drop every table of a PostgreSQL warehouse schema between the clean and the bad run."""
    import sqlalchemy as sa

    from allocation_pipeline.warehouse.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        for name in sa.inspect(conn).get_view_names():
            conn.exec_driver_sql(f'DROP VIEW IF EXISTS "{name}" CASCADE')
        for name in sa.inspect(conn).get_table_names():
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    engine.dispose()


def _step_times(instance, run_id: str) -> dict[str, float]:
    """Wall time of each step, from the run's STEP_START and STEP_SUCCESS/FAILURE event timestamps."""
    started: dict[str, float] = {}
    times: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            times[event.step_key] = record.timestamp - started[event.step_key]
    return times
