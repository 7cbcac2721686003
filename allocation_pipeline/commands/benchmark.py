"""`allocation benchmark`: measured runs of the pipeline and of the multi-level solver (not tests)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmark", help="measure the pipeline or the multi-level solver")
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    from allocation_pipeline.benchmarks import multilevel, pipeline

    pipeline.register(sub)
    multilevel.register(sub)
