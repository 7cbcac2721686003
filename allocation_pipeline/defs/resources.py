"""Resources: the warehouse (one SQLAlchemy URL), the extracts directory and the rules file."""


import os

import dagster as dg
import sqlalchemy as sa

from allocation_pipeline import settings
from allocation_pipeline.core.multilevel.config import MultilevelConfig, load_multilevel
from allocation_pipeline.core.allocation.rules import RuleSet, load_rules
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

_ENGINES: dict[str, sa.Engine] = {}


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, reached only through SQLAlchemy. DuckDB file by default; PostgreSQL in production."""

    url: str

    def get_engine(self) -> sa.Engine:
        """One engine per URL and process, with every table created on first use."""
        engine = _ENGINES.get(self.url)
        if engine is None:
            engine = make_engine(self.url)
            ensure_schema(engine)
            _ENGINES[self.url] = engine
        return engine


class ExtractsResource(dg.ConfigurableResource):
    """The directory holding the extracts (CSV or Parquet files, or folders of them)."""

    directory: str


class RulesResource(dg.ConfigurableResource):
    """The allocation rules file (YAML)."""

    path: str

    def load(self) -> RuleSet:
        return load_rules(self.path)

    def load_multilevel(self) -> MultilevelConfig:
        """The file's `multilevel:` section (multi-level allocations)."""
        return load_multilevel(self.path)


def _env_or(name: str, default: str) -> str | dg.EnvVar:
    # dg.EnvVar fails when the variable is unset; fall back to the project default then.
    return dg.EnvVar(name) if os.environ.get(name) else default


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(url=_env_or(settings.WAREHOUSE_URL_ENV, settings.default_warehouse_url())),
        "extracts": ExtractsResource(directory=_env_or(settings.EXTRACTS_DIR_ENV, settings.default_extracts_dir())),
        "rules": RulesResource(path=_env_or(settings.RULES_FILE_ENV, settings.default_rules_file())),
    }
