"""The month-end schedule: on the 3rd at 06:00, run the close of the month that just ended."""

import dagster as dg

from allocation_pipeline.defs.jobs import period_close_job

period_close_schedule = dg.build_schedule_from_partitioned_job(
    period_close_job, name="period_close_schedule", day_of_month=3, hour_of_day=6
)
