"""`allocation run`: materialize one fiscal month end to end, showing each step, and print what it produced."""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from pathlib import Path

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="materialize one fiscal month (extracts -> posted journal entries) and print a summary",
        description="Check the rules file, then run period_close_job for one fiscal month in this process (extracts read "
        f"from the sources that the sources file ${settings.SOURCES_FILE_ENV} names, from files otherwise), "
        "showing each step as it starts and ends, recording the run in the Dagster instance under "
        "$DAGSTER_HOME (default: the data directory's dagster_home), so the Dagster UI shows it afterwards. "
        "The summary speaks only of what this run produced and names the steps that failed or were skipped.",
    )
    parser.add_argument("--period", metavar="YYYY-MM", help="fiscal month (default: the latest month in the gl_lines extract)")
    parser.add_argument("--verbose", action="store_true", help="also show Dagster's own log lines and the tracebacks of failures")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import FIRST_PERIOD_ENV, fiscal_month_partitions, partition_key_of
    from allocation_pipeline.reporting import RunWatch, run_summary, steps_report

    period = args.period or _latest_period(Path(settings.extracts_dir()))
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise CommandError(f"--period {period!r} is not a fiscal month YYYY-MM")
    check_rules_file(settings.rules_file())
    partition_key = partition_key_of(period)
    if partition_key not in fiscal_month_partitions.get_partition_keys():
        raise CommandError(
            f"no partition for {period}: monthly partitions start {fiscal_month_partitions.start:%Y-%m} "
            f"(the first month of the extracts, or ${FIRST_PERIOD_ENV}) and exist only for months that have ended"
        )
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.data_dir() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        # A new instance of ours sends no usage telemetry; an existing dagster.yaml is left alone.
        instance_config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    sources = f", sources: {settings.sources_file()}" if settings.sources_file() else ""
    print(f"Running period_close_job for {period} (extracts: {settings.extracts_dir()}{sources})", flush=True)
    job = build_definitions().resolve_job_def("period_close_job")
    steps = [node.name for node in job.nodes_in_topological_order]
    run_id = str(uuid.uuid4())
    with StepProgress(len(steps)) as progress, dg.DagsterInstance.get() as instance:
        watch = RunWatch(steps, on_step=progress)
        instance.add_event_listener(run_id, watch)
        # Without --verbose Dagster's console logger stays silent: failures are said once, below.
        log_level = "DEBUG" if args.verbose else "CRITICAL"
        result = job.execute_in_process(
            partition_key=partition_key,
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    if args.verbose:
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE" and event.step_failure_data.error is not None:
                print(f"\n--- {event.step_key} ---\n{event.step_failure_data.error.to_string()}", file=sys.stderr)
    print(run_summary(settings.warehouse_url(), period, watch))
    print(f"\nWarehouse:       {settings.warehouse_url()}")
    reports = [str(v) for k, v in watch.metadata.get("period_report", {}).items() if k.startswith("report_") and not k.endswith("_link")]
    if reports:
        print("Period reports:  " + "\n                 ".join(reports))
    print(f"Dagster run:     {result.run_id} (instance {home})")
    print(f"Dagster UI:      {dagster_ui_command(home)}")
    failed = steps_report(watch)
    if failed:
        print(failed)
    return 0 if result.success and not watch.failures else 1


def check_rules_file(path: str) -> None:
    """Validate the whole rules file (rules, multi-level and insights sections) with `allocation rules
    check` before any extract is read; every problem, with its line, stops the command."""
    from dataclasses import replace

    from allocation_pipeline.config.check import check_rules_file as check
    from allocation_pipeline.core.allocation.methods import MethodError
    from allocation_pipeline.core.allocation.rules import RulesError

    try:
        problems = check(path).problems
    except (RulesError, MethodError, OSError) as exc:
        raise CommandError(f"the rules file cannot be used, nothing was run:\n{exc}") from exc
    if problems:
        lines = [f"{path}:{p.line}: {replace(p, line=None)}" if p.line else f"{path}: {p}" for p in problems]
        raise CommandError("the rules file cannot be used, nothing was run:\n" + "\n".join(lines))


def dagster_ui_command(home: Path) -> str:
    """A command that starts the Dagster UI on this instance when pasted into a shell in any directory:
    the `dagster` next to this Python (the project's virtualenv), and the project's workspace file."""
    import shlex

    dagster = Path(sys.executable).with_name("dagster")
    program = shlex.quote(str(dagster)) if dagster.is_file() else f"{shlex.quote(sys.executable)} -m dagster"
    workspace = settings.PROJECT_ROOT / "workspace.yaml"
    return f"DAGSTER_HOME={shlex.quote(str(home))} {program} dev -w {shlex.quote(str(workspace))}"


class StepProgress:
    """Each step of the run as it starts and ends (name, rows, seconds): a live bar on a terminal
    (rich), plain lines otherwise (a pipe or a log file)."""

    def __init__(self, total: int):
        from rich.console import Console

        self.total = total
        self.started = 0
        self.console = Console(highlight=False)
        self.progress = None
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(), TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self.task = self.progress.add_task("starting", total=total)

    def __enter__(self) -> StepProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, step, what: str) -> None:
        if what == "start":
            self.started += 1
            if self.progress is not None:
                self.progress.update(self.task, description=step.name)
            else:
                print(f"  [{self.started:>2}/{self.total}] {step.name:<24} started", flush=True)
            return
        rows = f"{step.rows:,} rows" if step.rows is not None and step.status == "succeeded" else ""
        if rows and step.quarantined:
            rows += f" ({step.quarantined:,} quarantined)"
        status = "done" if step.status == "succeeded" else "FAILED"
        line = f"  [{self.started:>2}/{self.total}] {step.name:<24} {status:<7} {rows:<28} {step.seconds:6.2f} s"
        if step.status != "succeeded" and step.message:
            line += f"\n        {step.message}"
        if self.progress is not None:
            self.progress.console.print(line, markup=False)
            self.progress.advance(self.task)
        else:
            print(line, flush=True)


def _latest_period(extracts_dir: Path) -> str:
    folder = extracts_dir / "gl_lines"
    periods = sorted(p.stem for p in folder.glob("*.*") if re.fullmatch(r"\d{4}-\d{2}", p.stem)) if folder.is_dir() else []
    if not periods:
        where = f" (and the sources file {settings.sources_file()} may name other sources of gl_lines)" if settings.sources_file() else ""
        raise CommandError(f"give --period: no period-named files in {folder}{where}")
    return periods[-1]
