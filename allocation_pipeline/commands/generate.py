"""`allocation generate`: write the deterministic sample company's extracts (and sample rules)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from allocation_pipeline.cli import CommandError
from allocation_pipeline.sample import company as sc
from allocation_pipeline.sample.generate import generate_company

# When --closed-periods is not given, the latest months stay open so a fresh sample can be run
# and posted: 9 of the default 12 months are closed, and never more than periods - 3.
OPEN_MONTHS_BY_DEFAULT = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write the sample company's extracts (CSV or Parquet) and the sample rules file",
        description="Generate a deterministic sample company: master data, monthly GL lines, AP "
        "invoices, timesheets, headcount and usage metrics under OUT/extracts/, replacing earlier "
        "extracts there. The same arguments always write the same bytes.",
    )
    parser.add_argument("--out", type=Path, help="output directory (default: the project's data directory)")
    parser.add_argument("--seed", type=int, default=sc.DEFAULT_SEED, help=f"random seed (default {sc.DEFAULT_SEED})")
    parser.add_argument(
        "--periods", type=int, default=sc.DEFAULT_PERIODS, help=f"number of fiscal months (default {sc.DEFAULT_PERIODS})"
    )
    parser.add_argument(
        "--end-period", default=sc.DEFAULT_END_PERIOD, help=f"last fiscal month, YYYY-MM (default {sc.DEFAULT_END_PERIOD})"
    )
    parser.add_argument(
        "--closed-periods",
        type=int,
        help=f"how many of the oldest months are closed (default: {sc.DEFAULT_CLOSED_PERIODS}, "
        f"but the latest {OPEN_MONTHS_BY_DEFAULT} months stay open)",
    )
    parser.add_argument(
        "--gl-lines-per-period",
        type=int,
        default=sc.DEFAULT_GL_LINES_PER_PERIOD,
        help=f"GL lines per month, about (default {sc.DEFAULT_GL_LINES_PER_PERIOD:,}; at least {sc.MIN_GL_LINES_PER_PERIOD:,})",
    )
    parser.add_argument("--format", dest="file_format", default="csv", help="csv or parquet (default csv)")
    parser.set_defaults(func=_run)


def _default_out() -> Path:
    try:
        from allocation_pipeline import settings
    except ImportError:
        return Path("data")
    return Path(settings.data_dir())


def _run(args: argparse.Namespace) -> int:
    try:
        sc.parse_period(args.end_period)
    except ValueError as exc:
        raise CommandError(f"--end-period: {exc}") from exc
    if args.periods < 1:
        raise CommandError(f"--periods must be at least 1, got {args.periods}")
    if args.closed_periods is not None and args.closed_periods < 0:
        raise CommandError(f"--closed-periods cannot be negative, got {args.closed_periods}")
    if args.gl_lines_per_period < sc.MIN_GL_LINES_PER_PERIOD:
        raise CommandError(f"--gl-lines-per-period must be at least {sc.MIN_GL_LINES_PER_PERIOD:,}, got {args.gl_lines_per_period:,}")
    file_format = str(args.file_format).lower()
    if file_format not in sc.FILE_FORMATS:
        raise CommandError(f"--format must be one of {', '.join(sc.FILE_FORMATS)}, got {args.file_format!r}")
    closed = args.closed_periods
    if closed is None:
        closed = min(sc.DEFAULT_CLOSED_PERIODS, max(args.periods - OPEN_MONTHS_BY_DEFAULT, 0))
    out = args.out if args.out is not None else _default_out()
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} exists and is not a directory")

    started = time.perf_counter()
    try:
        summary = generate_company(
            out,
            seed=args.seed,
            periods=args.periods,
            end_period=args.end_period,
            closed_periods=closed,
            gl_lines_per_period=args.gl_lines_per_period,
            file_format=file_format,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    elapsed = time.perf_counter() - started

    periods = summary.periods
    open_periods = periods[len(summary.closed_periods) :]
    print(f"Sample company written to {summary.extracts_dir} ({summary.file_format}, seed {args.seed}) in {elapsed:.1f} s")
    print(f"Periods:   {periods[0]} .. {periods[-1]} ({len(periods)} months)")
    print(f"Closed:    {_span(summary.closed_periods)}")
    print(f"Open:      {_span(open_periods)}")
    print("Rows:")
    width = max(len(name) for name in summary.row_counts)
    for name, rows in summary.row_counts.items():
        print(f"  {name:<{width}}  {rows:>12,}")
    if summary.rules_file is not None:
        print(f"Rules:     {summary.rules_file}")
    return 0


def _span(periods: tuple[str, ...]) -> str:
    if not periods:
        return "none"
    return periods[0] if len(periods) == 1 else f"{periods[0]} .. {periods[-1]} ({len(periods)})"
