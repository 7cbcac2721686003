"""The period close job: every asset, for one fiscal month."""

import dagster as dg

period_close_job = dg.define_asset_job(
    "period_close_job",
    selection=dg.AssetSelection.all(),
    description="Ingest, clean, compute drivers, allocate, validate and post one fiscal month.",
)
