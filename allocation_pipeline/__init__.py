"""Cost allocation and attribution pipeline: a pure core, a warehouse layer and a Dagster shell."""

__version__ = "0.1.0"
