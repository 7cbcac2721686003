"""`allocation benchmark`: measured runs of the pipeline, the multi-level solver, the rules engine and the period report (not tests)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmark", help="measure the pipeline, the multi-level solver, many rules or the period report")
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    from allocation_pipeline.benchmarks import console, multilevel, pipeline, report, rules

    pipeline.register(sub)
    multilevel.register(sub)
    rules.register(sub)
    report.register(sub)
    console.register(sub)
