"""`allocation benchmark`: measured runs of the pipeline, the multi-level solver, the rules engine, the period report and the insights (not tests)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmark", help="measure the pipeline, the multi-level solver, many rules, the period report or the insights")
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    from allocation_pipeline.benchmarks import console, insights, multilevel, pipeline, report, rules

    pipeline.register(sub)
    multilevel.register(sub)
    rules.register(sub)
    report.register(sub)
    console.register(sub)
    insights.register(sub)
