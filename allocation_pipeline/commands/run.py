"""`allocation run`: materialize one fiscal month end to end and print what it produced."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="materialize one fiscal month (extracts -> posted journal entries) and print a summary",
        description="Run period_close_job for one fiscal month in this process, recording the run in "
        "the Dagster instance under $DAGSTER_HOME (default: the data directory's dagster_home), so "
        "the Dagster UI shows it afterwards.",
    )
    parser.add_argument("--period", help="fiscal month YYYY-MM (default: the latest month in the gl_lines extract)")
    parser.add_argument("--verbose", action="store_true", help="show Dagster's own log lines (by default only warnings and errors)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import fiscal_month_partitions, partition_key_of
    from allocation_pipeline.period_reports import reports_dir
    from allocation_pipeline.reporting import period_summary, run_failures

    period = args.period or _latest_period(Path(settings.extracts_dir()))
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise CommandError(f"--period {period!r} is not a fiscal month YYYY-MM")
    partition_key = partition_key_of(period)
    if partition_key not in fiscal_month_partitions.get_partition_keys():
        raise CommandError(
            f"no partition for {period}: monthly partitions start {fiscal_month_partitions.start:%Y-%m} and exist only for months that have ended"
        )
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        # A new instance of ours sends no usage telemetry; an existing dagster.yaml is left alone.
        instance_config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    print(f"Running period_close_job for {period} (extracts: {settings.extracts_dir()})")
    job = build_definitions().resolve_job_def("period_close_job")
    with dg.DagsterInstance.get() as instance:
        log_level = "DEBUG" if args.verbose else "WARNING"
        result = job.execute_in_process(
            partition_key=partition_key,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    failures = run_failures(result)
    print(period_summary(settings.warehouse_url(), period))
    print(f"\nWarehouse:       {settings.warehouse_url()}")
    reports = sorted((reports_dir() / period).glob("*.html"))
    if reports:
        print("Period reports:  " + "\n                 ".join(str(p) for p in reports))
    print(f"Dagster run:     {result.run_id} (instance {home})")
    print(f"Dagster UI:      DAGSTER_HOME={home} dagster dev -w workspace.yaml")
    if failures:
        print("\nThe run did not finish cleanly:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    return 0


def _latest_period(extracts_dir: Path) -> str:
    folder = extracts_dir / "gl_lines"
    periods = sorted(p.stem for p in folder.glob("*.*") if re.fullmatch(r"\d{4}-\d{2}", p.stem)) if folder.is_dir() else []
    if not periods:
        raise CommandError(f"give --period: no period-named files in {folder}")
    return periods[-1]
