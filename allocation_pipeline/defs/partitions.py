"""The one partition definition: fiscal months (a partition exists once its month has ended)."""

import dagster as dg

FISCAL_MONTH_START = "2024-01-01"

fiscal_month_partitions = dg.MonthlyPartitionsDefinition(start_date=FISCAL_MONTH_START)


def period_of(partition_key: str) -> str:
    """The fiscal period (YYYY-MM) of a monthly partition key (YYYY-MM-DD)."""
    return partition_key[:7]


def partition_key_of(period: str) -> str:
    """The monthly partition key of a fiscal period: 2026-10 -> 2026-10-01."""
    return f"{period}-01"
