"""Period report benchmark: one period of N generated GL lines materialized into a fresh warehouse,
then the HTML reports of every entity written repeatedly, timing the warehouse reads and the
rendering and measuring the files (targets: 1M GL lines within 15 s, each file under 20 MB)."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 15.0
TARGET_MB = 20.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the period reports of a period with N generated GL lines",
        description="Generates a one-period sample company with N GL lines (Parquet), materializes the whole "
        "period (everything but period_report) into a fresh warehouse (a DuckDB file in a temporary directory "
        "unless --warehouse-url is given), then writes the period reports of every entity: one untimed "
        "warm-up, then --repeat timed runs; prints the median, min and max of the total and per entity, the "
        "file sizes and peak memory.",
    )
    parser.add_argument("--gl-lines", type=int, default=1_000_000, help="GL lines in the period (default 1,000,000)")
    parser.add_argument("--period", default="2026-10", help="the fiscal month to generate and report (default 2026-10)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (default 3)")
    parser.add_argument("--warehouse-url", help="SQLAlchemy URL of an empty warehouse to use instead of a temporary DuckDB file")
    parser.add_argument("--keep", metavar="DIR", help="copy the reports of the last run into DIR")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated company (default 7)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from allocation_pipeline.benchmarks import one_period_company
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import partition_key_of
    from allocation_pipeline.period_reports import write_period_reports
    from allocation_pipeline.reporting import run_failures

    with tempfile.TemporaryDirectory(prefix="allocation-report-benchmark-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        summary, resources = one_period_company(
            root, seed=args.seed, period=args.period, gl_lines=args.gl_lines, file_format="parquet", warehouse_url=args.warehouse_url
        )
        gl_rows = summary.row_counts.get("gl_lines", args.gl_lines)
        url = resources["warehouse"].url
        assets = [a for a in build_definitions().assets if "period_report" not in {k.to_user_string() for k in a.keys}]
        os.environ.pop("DAGSTER_HOME", None)
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(assets, partition_key=partition_key_of(args.period), instance=instance, resources=resources, raise_on_error=False)
        prepared = time.perf_counter() - started
        failures = run_failures(result)
        if failures:
            print("Preparing the period failed:\n  " + "\n  ".join(failures))
            return 1
        engine = resources["warehouse"].get_engine()  # the engine the asset would use
        out = root / "reports"
        write_period_reports(engine, args.period, out_dir=out)  # warm-up
        runs = []
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            reports = write_period_reports(engine, args.period, out_dir=out)
            runs.append((time.perf_counter() - t0, reports))
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for report in runs[-1][1]:
                shutil.copy2(report.path, Path(args.keep) / report.path.name)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    totals = [t for t, _ in runs]
    last = runs[-1][1]
    print(f"GL lines:             {gl_rows:,} (Parquet; generated and materialized in {prepared:.1f} s, not counted below)")
    print(f"Warehouse:            {url.split('://')[0]}")
    print(f"Reports per run:      {len(last)} ({', '.join(r.entity for r in last)})")
    print(f"All entities (s):     median {statistics.median(totals):.2f}  min {min(totals):.2f}  max {max(totals):.2f}  (target {TARGET_SECONDS:.0f} s)")
    for entity in [r.entity for r in last]:
        per = [next(r for r in reports if r.entity == entity) for _, reports in runs]
        read = statistics.median(r.read_seconds for r in per)
        total = statistics.median(r.seconds for r in per)
        figures = per[-1].figures
        print(
            f"  {entity}: {total:.2f} s (warehouse reads {read:.2f} s, rendering and writing {total - read:.2f} s), "
            f"{per[-1].bytes / 1e6:.2f} MB (target {TARGET_MB:.0f} MB); {figures['runs']} runs, "
            f"{figures['cost_objects']} cost centers"
        )
    print(f"Peak memory (RSS):    {peak_mb:,.0f} MB (whole process, pipeline run included)")
    too_slow = statistics.median(totals) > TARGET_SECONDS
    too_big = any(r.bytes > TARGET_MB * 1e6 for r in last)
    return 1 if too_slow or too_big else 0
