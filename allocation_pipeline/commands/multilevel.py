"""`allocation multilevel`: solve a multi-level allocation from a costs CSV and a percentage matrix CSV."""

from __future__ import annotations

import argparse
import sys
import warnings

from allocation_pipeline.cli import CommandError
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.multilevel.records import MultilevelError, MultilevelWarning
from allocation_pipeline.core.multilevel.solver import METHODS
from allocation_pipeline.core.multilevel.files import origin_frame, result_frame, solve_files, write_csv


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "multilevel",
        help="solve cost centers that send and receive cost (reciprocal, step-down, direct, iterative)",
        description="Allocate cost between cost centers that both send and receive it. COSTS.csv has "
        "cost_center,amount; MATRIX.csv has source,target,percent (percent of the source's total; a "
        "source keeps what it does not send). Writes cost_center,own,received,total,final.",
    )
    parser.add_argument("--costs", required=True, metavar="COSTS.csv", help="own cost per cost center")
    parser.add_argument("--matrix", required=True, metavar="MATRIX.csv", help="source,target,percent rows")
    parser.add_argument("--method", choices=METHODS, default="reciprocal", help="default: reciprocal")
    parser.add_argument(
        "--order", metavar="A,B,...",
        help="step-down only: sources to close first, in this order (the rest follow the default order)",
    )
    parser.add_argument("--out", required=True, metavar="RESULT.csv", help="where to write the result")
    parser.add_argument("--by-origin", metavar="ORIGIN.csv", help="also write cost_center,origin,amount")
    parser.add_argument("--iterations", metavar="TRACE.csv", help="iterative only: write the per-pass trace")
    parser.add_argument("--max-iterations", type=int, default=10_000, help="iterative: cap on passes (default 10000)")
    parser.add_argument(
        "--tolerance", type=float, default=1e-9,
        help="iterative: stop when no source receives more than this in a pass (default 1e-9)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.order is not None and args.method != "step-down":
        raise CommandError("--order applies only to --method step-down")
    if args.iterations and args.method != "iterative":
        raise CommandError("--iterations applies only to --method iterative")
    order = [name.strip() for name in args.order.split(",") if name.strip()] if args.order else None
    options = {}
    if args.method == "iterative":
        options = {"max_iterations": args.max_iterations, "tolerance": args.tolerance, "trace_iterations": bool(args.iterations)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)  # reported below from the result
        try:
            result = solve_files(
                args.costs, args.matrix, args.method, order, trace_origin=bool(args.by_origin), **options
            )
        except MultilevelError as exc:
            raise CommandError(str(exc)) from None
    try:
        write_csv(result_frame(result), args.out)
        if args.by_origin:
            write_csv(origin_frame(result), args.by_origin)
        if args.iterations and result.iterations is not None:
            write_csv(result.iterations, args.iterations)
    except MultilevelError as exc:
        raise CommandError(str(exc)) from None

    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    own = int(result.own_cents.sum())
    line = (
        f"{result.method}: {len(result.own_cents)} cost centers, {len(result.cycles)} cycle(s); "
        f"final {format_money(int(result.final_cents.sum()))} = own {format_money(own)}; "
        f"residual {result.residual:.2e}"
    )
    if result.iteration_count is not None:
        line += f"; {result.iteration_count} passes, {'converged' if result.converged else 'NOT converged'}"
    if result.order is not None:
        line += f"; closing order {','.join(str(x) for x in result.order)}"
    print(line)
    print(f"wrote {args.out}" + (f" and {args.by_origin}" if args.by_origin else "") + (f" and {args.iterations}" if args.iterations else ""))
    return 0
