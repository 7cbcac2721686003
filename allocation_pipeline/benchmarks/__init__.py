"""Benchmarks run by `allocation benchmark ...`: one module per subject, each exposing `register(subparsers)`."""

from __future__ import annotations

from pathlib import Path


def one_period_company(root: Path, *, seed: int, period: str, gl_lines: int, file_format: str, warehouse_url: str | None):
    """A one-month sample company under `root` and the resources that point the pipeline at it
    (a DuckDB file under `root` unless `warehouse_url` is given): (generation summary, resources)."""
    from allocation_pipeline.sample.generate import generate_company
    from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, RulesResource, WarehouseResource
    from allocation_pipeline.defs.sources.resources import SourcesResource

    summary = generate_company(
        root, seed=seed, periods=1, end_period=period, closed_periods=0, gl_lines_per_period=gl_lines, file_format=file_format
    )
    url = warehouse_url or f"duckdb:///{root / 'warehouse.duckdb'}"
    resources = {
        "warehouse": WarehouseResource(url=url),
        "engine": EngineResource(url=url),
        "extracts": ExtractsResource(directory=str(summary.extracts_dir)),
        "rules": RulesResource(path=str(root / "rules.yaml")),
        "sources": SourcesResource(),
    }
    return summary, resources
