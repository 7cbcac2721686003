"""Load test of the whole Definitions: what Dagster loads, and the shape the project promises it has.

Covers `build_definitions()` and the top-level `definitions.py` (validate_loadable), the period
close job and schedule, asset descriptions and kinds, the single fiscal month partitions constant
and the blocking checks. Does not materialize anything, read extracts or touch a warehouse.
"""

from __future__ import annotations

import importlib.util

import dagster as dg
import pytest
import yaml

from allocation_pipeline.defs.definitions import build_definitions
from allocation_pipeline.defs.partitions import fiscal_month_partitions
from allocation_pipeline.settings import PROJECT_ROOT

# Checks that must stop bad data flowing on, by asset.
BLOCKING_CHECKS = [
    ("allocation_runs", "runs_balance"),
    ("allocation_runs", "runs_valid"),
    ("multilevel_allocation", "multilevel_runs_valid"),
    ("journal_entries", "entries_balance"),
]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions()


def _load_top_level_definitions():
    """`definitions.py` imported from its path, the way `dagster ... -f definitions.py` does."""
    path = PROJECT_ROOT / "definitions.py"
    spec = importlib.util.spec_from_file_location("_definitions_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_definitions_is_loadable(defs: dg.Definitions):
    dg.Definitions.validate_loadable(defs)


def test_top_level_definitions_file_loads_the_same_definitions(defs: dg.Definitions):
    module = _load_top_level_definitions()
    # @dg.definitions wraps the function in LazyDefinitions; a bare Definitions object would not be lazy.
    assert type(module.defs).__name__ == "LazyDefinitions", "definitions.py must declare `defs` with @dg.definitions"
    loaded = module.defs()
    assert isinstance(loaded, dg.Definitions)
    dg.Definitions.validate_loadable(loaded)
    assert set(loaded.resolve_all_asset_keys()) == set(defs.resolve_all_asset_keys())


def test_workspace_is_one_entry_pointing_at_the_top_level_definitions_file():
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert entry["python_file"]["relative_path"] == "definitions.py"
    # The Dagster UI names the code location after the project, not after the file.
    assert entry["python_file"]["location_name"] == "allocation_pipeline"


def test_period_close_job_covers_every_asset(defs: dg.Definitions):
    job = defs.resolve_job_def("period_close_job")
    assert job.name == "period_close_job"
    assert set(job.asset_layer.executable_asset_keys) == set(defs.resolve_all_asset_keys())


def test_period_close_schedule_targets_the_job(defs: dg.Definitions):
    schedule = defs.resolve_schedule_def("period_close_schedule")
    assert schedule.job_name == "period_close_job"


def test_every_asset_has_a_description_and_a_kind(defs: dg.Definitions):
    specs = defs.resolve_all_asset_specs()
    assert specs, "no assets loaded"
    missing_description = [s.key.to_user_string() for s in specs if not (s.description or "").strip()]
    missing_kind = [s.key.to_user_string() for s in specs if not s.kinds]
    assert missing_description == [], f"assets without a description: {missing_description}"
    assert missing_kind == [], f"assets without a kind: {missing_kind}"


def test_partitioned_assets_share_the_fiscal_month_constant(defs: dg.Definitions):
    specs = defs.resolve_all_asset_specs()
    partitioned = {s.key.to_user_string(): s.partitions_def for s in specs if s.partitions_def is not None}
    # The period-level assets must be partitioned at all, or the identity check below proves nothing.
    assert {"gl_lines", "driver_values", "allocation_runs", "journal_entries"} <= set(partitioned)
    # Identity, not equality: a second MonthlyPartitionsDefinition with the same start would be equal.
    strays = sorted(key for key, pdef in partitioned.items() if pdef is not fiscal_month_partitions)
    assert strays == [], f"assets not using allocation_pipeline.defs.partitions.fiscal_month_partitions: {strays}"


@pytest.mark.parametrize(("asset", "check"), BLOCKING_CHECKS)
def test_blocking_checks_exist_and_block(defs: dg.Definitions, asset: str, check: str):
    graph = defs.resolve_asset_graph()
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    assert key in graph.asset_check_keys, f"check {check} on {asset} is not defined"
    assert graph.get(key).blocking, f"check {check} on {asset} must be blocking"


@pytest.mark.parametrize(
    ("url", "executor"),
    [
        ("duckdb:///tmp/w.duckdb", "in_process"),
        ("sqlite:///tmp/w.db", "in_process"),
        ("postgresql+psycopg://u@127.0.0.1:5432/finance", "multiprocess"),
    ],
)
def test_the_job_executor_follows_the_warehouse(monkeypatch, url, executor):
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", url)
    job = build_definitions().resolve_job_def("period_close_job")
    assert job.executor_def.name == executor
