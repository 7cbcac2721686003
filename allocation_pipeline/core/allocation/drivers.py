"""Driver values: one row per period x driver x cost object, from headcount, timesheets and usage metrics.

Drivers are data. `headcount` and `hours` are computed from their extracts; every metric name in
the usage extract is a driver as it stands, so a new metric needs no code change.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame

from allocation_pipeline.core.ingestion.schemas import DriverValues

DRIVER_COLUMNS = ["period", "driver", "dimension", "cost_object", "value"]


class DriverError(ValueError):
    """Driver data that cannot be used (a usage metric colliding with a computed driver)."""


@pa.check_types
def compute_driver_values(
    period: str, headcount: pd.DataFrame, timesheets: pd.DataFrame, usage_metrics: pd.DataFrame
) -> DataFrame[DriverValues]:
    """Driver values of one period from the cleaned extracts (rows of other periods are ignored)."""
    parts = []
    hc = headcount[headcount["period"] == period]
    parts.append(
        hc.groupby("cost_center", as_index=False)["headcount"].sum().rename(columns={"cost_center": "cost_object", "headcount": "value"})
        .assign(driver="headcount", dimension="cost_center")
    )
    ts = timesheets[timesheets["period"] == period]
    for dimension in ("cost_center", "activity"):
        parts.append(
            ts.groupby(dimension, as_index=False)["hours"].sum().rename(columns={dimension: "cost_object", "hours": "value"})
            .assign(driver="hours", dimension=dimension)
        )
    computed = pd.concat(parts, ignore_index=True).assign(period=period)
    usage = usage_metrics[usage_metrics["period"] == period].rename(columns={"metric": "driver"})
    clash = sorted(set(usage["driver"]) & set(computed["driver"]))
    if clash:
        raise DriverError(
            f"usage_metrics: metric(s) {', '.join(clash)} in period {period} collide with drivers computed from "
            "the headcount and timesheet extracts; rename the metric"
        )
    values = pd.concat([computed[DRIVER_COLUMNS], usage[DRIVER_COLUMNS]], ignore_index=True)
    values = values.astype({"period": "string", "driver": "string", "dimension": "string", "cost_object": "string", "value": "float64"})
    return values.sort_values(["driver", "dimension", "cost_object"], ignore_index=True)
