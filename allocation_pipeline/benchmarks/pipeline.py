"""Pipeline benchmark: generate N GL lines for one period and materialize it end to end,
reporting wall time per asset, lines per second and peak memory."""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="one period end to end on N generated GL lines",
        description="Generates a one-period sample company with N GL lines, then runs period_close_job "
        "for it in this process against a fresh warehouse (a DuckDB file in a temporary directory unless "
        "--warehouse-url is given) and prints per-asset wall time, GL lines/s and peak memory.",
    )
    parser.add_argument("--gl-lines", type=int, default=1_000_000, help="GL lines in the period (default 1,000,000)")
    parser.add_argument("--period", default="2026-10", help="the fiscal month to generate and run (default 2026-10)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="extract file format (default parquet)")
    parser.add_argument("--warehouse-url", help="SQLAlchemy URL of an empty warehouse to use instead of a temporary DuckDB file")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated company (default 7)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from allocation_pipeline.benchmarks import one_period_company
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import partition_key_of
    from allocation_pipeline.period_reports import REPORTS_DIR_ENV
    from allocation_pipeline.reporting import run_failures

    with tempfile.TemporaryDirectory(prefix="allocation-benchmark-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        summary, resources = one_period_company(
            root, seed=args.seed, period=args.period, gl_lines=args.gl_lines, file_format=args.format, warehouse_url=args.warehouse_url
        )
        generation = time.perf_counter() - started
        gl_rows = summary.row_counts.get("gl_lines", args.gl_lines)
        url = resources["warehouse"].url
        assets = list(build_definitions().assets)
        os.environ.pop("DAGSTER_HOME", None)
        os.environ[REPORTS_DIR_ENV] = str(root / "reports")  # period_report writes here, not into data/
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = dg.materialize(
                assets, partition_key=partition_key_of(args.period), instance=instance, resources=resources, raise_on_error=False
            )
            wall = time.perf_counter() - started
            steps = _step_times(instance, result.run_id)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"GL lines:            {gl_rows:,} ({args.format}; generated in {generation:.1f} s, not counted below)")
        print(f"Warehouse:           {url.split('://')[0]}")
        print("Per asset (wall s):")
        for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
            print(f"  {step:24s} {seconds:8.2f}")
        print(f"End to end:          {wall:.1f} s  ({gl_rows / wall:,.0f} GL lines/s)")
        print(f"Peak memory (RSS):   {peak_mb:,.0f} MB")
        failures = run_failures(result)
        if failures:
            print("Run failed:\n  " + "\n  ".join(failures))
            return 1
    return 0


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
