"""Everything the Dagster shell declares, merged into one Definitions object."""

import dagster as dg

from allocation_pipeline.defs.allocation import assets as allocation
from allocation_pipeline.defs.ingestion import assets as ingestion
from allocation_pipeline.defs.jobs import period_close_job
from allocation_pipeline.defs.ledger import assets as ledger
from allocation_pipeline.defs.resources import default_resources
from allocation_pipeline.defs.schedules import period_close_schedule


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        ingestion.defs,
        allocation.defs,
        ledger.defs,
        dg.Definitions(jobs=[period_close_job], schedules=[period_close_schedule], resources=default_resources()),
    )
