"""Everything the Dagster shell declares, merged into one Definitions object."""

import dagster as dg
from sqlalchemy.engine import make_url

from allocation_pipeline import settings
from allocation_pipeline.defs.allocation import assets as allocation
from allocation_pipeline.defs.ingestion import assets as ingestion
from allocation_pipeline.defs.insights import assets as insights
from allocation_pipeline.defs.insights import jobs as insights_jobs
from allocation_pipeline.defs.jobs import period_close_job
from allocation_pipeline.defs.ledger import actions as ledger_actions
from allocation_pipeline.defs.ledger import assets as ledger
from allocation_pipeline.defs.multilevel import assets as multilevel
from allocation_pipeline.defs.reporting import assets as reporting
from allocation_pipeline.defs.resources import default_resources
from allocation_pipeline.defs.schedules import period_close_schedule
from allocation_pipeline.defs.sources import resources as sources

# Embedded warehouses are single files with one writer at a time: run a month's steps in one
# process. A server warehouse (PostgreSQL) takes Dagster's multiprocess executor, and deployments
# may swap in a distributed one (Kubernetes, Celery) without touching the assets.
EMBEDDED_BACKENDS = ("duckdb", "sqlite")


def default_executor() -> dg.ExecutorDefinition:
    ledger = make_url(settings.warehouse_url()).get_backend_name()
    engine = settings.engine_url()
    embedded_engine = not engine.startswith(("spark:", "pyspark:")) and make_url(engine).get_backend_name() in EMBEDDED_BACKENDS
    return dg.in_process_executor if ledger in EMBEDDED_BACKENDS or embedded_engine else dg.multiprocess_executor


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        ingestion.defs,
        allocation.defs,
        multilevel.defs,
        ledger.defs,
        ledger_actions.defs,
        insights.defs,
        insights_jobs.defs,
        reporting.defs,
        sources.defs,
        dg.Definitions(
            jobs=[period_close_job],
            schedules=[period_close_schedule],
            resources=default_resources(),
            executor=default_executor(),
        ),
    )
