"""The driver history a driver analysis reads, the same for `allocation analyze` and the pipeline's
driver_analysis asset: the driver values of every month of the analysis window, computed from the
cleaned headcount, usage and timesheet extracts the way the driver_values asset computes one
month's. Months the warehouse has not run yet count as much as months it has: the history is
what the extracts hold, not what happens to have been materialized.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from allocation_pipeline.core.allocation.drivers import compute_driver_values
from allocation_pipeline.core.insights.config import InsightsConfig, shift_period

# Timesheets are one file per month: read the earlier months' only when a pool uses hours.
NO_TIMESHEETS = pd.DataFrame(
    {"period": pd.Series(dtype=str), "cost_center": pd.Series(dtype=str), "activity": pd.Series(dtype=str), "hours": pd.Series(dtype=float)}
)

# `clean(extract, period)`: the extract cleaned as the pipeline cleans it (quarantined rows left
# out), all of its months when period is None.
Cleaner = Callable[[str, "str | None"], pd.DataFrame]


def needs_hours(config: InsightsConfig | None) -> bool:
    """Whether any insights pool measures or proposes timesheet hours."""
    return config is not None and any("hours" in p.candidates or p.consumption == "hours" for p in config.pools)


def driver_history(period: str, config: InsightsConfig | None, clean: Cleaner) -> pd.DataFrame:
    """Driver values of `period` (its timesheets always read) and, with an insights `config`, of
    every earlier month of its window (`config.history_periods`) that the headcount or usage
    extract holds; one frame, `period` first. Extract and driver errors propagate."""
    headcount = clean("headcount", None)
    usage = clean("usage_metrics", None)
    frames = [compute_driver_values(period, headcount, clean("timesheets", period), usage)]
    if config is not None:
        first = shift_period(period, -(config.history_periods - 1))
        hours = needs_hours(config)
        earlier = sorted(p for p in set(headcount["period"].astype(str)) | set(usage["period"].astype(str)) if first <= p < period)
        for month in earlier:
            frames.append(compute_driver_values(month, headcount, clean("timesheets", month) if hours else NO_TIMESHEETS, usage))
    return pd.concat(frames, ignore_index=True)
