"""The sample company's drivers of a month: headcount, floor area and usage metrics, seed 000's IT
consumption, timesheets, and the multi-level allocation matrix."""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from allocation_pipeline.core.money import largest_remainder
from allocation_pipeline.sample.company import (
    ACTIVITY_IDS,
    COST_CENTERS,
    COST_CENTER_IDS,
    CostCenterSpec,
    FUNCTION_FINANCE,
    FUNCTION_IT,
    FUNCTION_MANAGEMENT,
    IT_CONSUMPTION_METRIC,
    IT_CONSUMPTION_NOISE,
    IT_CONSUMPTION_WEIGHTS,
    IT_OVERCONSUMERS,
    MANAGEMENT_RETENTION_PERCENT,
    PRODUCT_IDS,
    SERVICE_RELATIONS,
    USAGE_METRICS,
    US_BUSINESS_UNITS,
    US_BU_RANGES,
    corporate_it_month_cents,
    month_days,
)
from allocation_pipeline.sample.files import MATRIX_SCHEMA, TIMESHEET_SCHEMA, USAGE_SCHEMA, numbered_ids, take_nullable
from allocation_pipeline.sample.profiles import (
    ACTIVITY_MIX,
    ALL_PROJECTS,
    AREA_PER_FTE,
    CC_INDEX,
    PROJECTS,
    PROJECT_ACTIVITIES,
    REF_ORDINAL,
    random_stream,
)


class Drivers(NamedTuple):
    """One month's drivers, aligned with `centers` (active cost centers in COST_CENTERS order)."""

    centers: tuple[CostCenterSpec, ...]
    headcount: np.ndarray  # FTE, one decimal
    it_tickets: np.ndarray  # operating only, else 0
    cloud_cents: np.ndarray
    app_licences: np.ndarray
    floor_area: np.ndarray


def month_drivers(seed: int, ordinal: int) -> Drivers:
    centers = tuple(c for c in COST_CENTERS if c.active)
    rng = random_stream(seed, ordinal, "drivers")
    n = len(centers)
    base = np.array([c.base_headcount for c in centers])
    growth = np.array([c.growth for c in centers])
    months = ordinal - REF_ORDINAL
    headcount = base * (1.0 + growth) ** months * (1.0 + 0.012 * rng.standard_normal(n))
    is_bu = np.array([c.cost_center in US_BUSINESS_UNITS for c in centers])
    operating = np.array([c.kind == "operating" for c in centers])
    headcount = np.where(is_bu, np.clip(headcount, *US_BU_RANGES["headcount"]), np.maximum(headcount, 1.0))
    headcount = np.round(headcount, 1)
    ratio = np.divide(headcount, base, out=np.zeros(n), where=base > 0)

    tickets = rng.poisson(np.array([c.tickets_q for c in centers]) / 3.0 * ratio).astype(np.float64)
    cloud = np.array([c.cloud_q for c in centers]) / 3.0 * ratio**0.5 * (1.0 + 0.06 * rng.standard_normal(n))
    licences = np.round(np.array([c.licences for c in centers]) * ratio + rng.integers(-2, 3, n)).astype(np.float64)
    area = np.round(headcount * np.array([AREA_PER_FTE[c.entity] for c in centers]) * (1.0 + 0.05 * rng.standard_normal(n)), 1)

    lo = {k: v[0] for k, v in US_BU_RANGES.items()}
    hi = {k: v[1] for k, v in US_BU_RANGES.items()}
    tickets = np.where(is_bu, np.clip(tickets, lo["it_tickets"], hi["it_tickets"]), tickets)
    cloud = np.where(is_bu, np.clip(cloud, lo["cloud_spend"], hi["cloud_spend"]), cloud)
    licences = np.where(is_bu, np.clip(licences, lo["app_licences"], hi["app_licences"]), licences)
    zero = np.zeros(n)
    return Drivers(
        centers,
        headcount,
        np.where(operating, np.maximum(tickets, 0), zero),
        np.where(operating, np.rint(np.maximum(cloud, 0) * 100), zero).astype(np.int64),
        np.where(operating, np.maximum(licences, 1), zero),
        np.where(operating, area, zero),
    )


# --- timesheets ------------------------------------------------------------------------------


def timesheets_table(seed: int, ordinal: int, drivers: Drivers) -> pa.Table:
    """Employees book their working days (about 150 hours per FTE a month) to activities."""
    rng = random_stream(seed, ordinal, "timesheets")
    days = month_days(ordinal)
    workdays = days[np.is_busday(days)]
    activity_index = {a: i for i, a in enumerate(ACTIVITY_IDS)}
    parts = []
    for center, fte in zip(drivers.centers, drivers.headcount):
        n_emp = int(np.ceil(fte))
        if n_emp == 0:
            continue
        center_no = CC_INDEX[center.cost_center]
        # Everyone full time except the last employee, who works the fractional FTE.
        share = np.ones(n_emp)
        share[-1] = fte - (n_emp - 1)
        mix = ACTIVITY_MIX[center.role]
        acts = np.array([activity_index[a] for a in mix])
        p = np.array(list(mix.values()))
        p = p / p.sum()
        grid = n_emp * workdays.size
        emp = np.repeat(np.arange(n_emp), workdays.size)
        day = np.tile(np.arange(workdays.size), n_emp)
        present = rng.random(grid) < 0.9
        hours = np.clip(8.0 * share[emp] * (1.0 + 0.08 * rng.standard_normal(grid)), 0.5, 12.0)
        hours = np.maximum(np.round(hours * 4) / 4, 0.25)
        first = rng.choice(acts.size, size=grid, p=p)
        split = (rng.random(grid) < 0.35) & (hours >= 1.0)
        second = rng.choice(acts.size, size=grid, p=p)
        second = np.where(second == first, (first + 1) % acts.size, second)
        first_hours = np.where(split, np.maximum(np.round(hours * rng.uniform(0.3, 0.7, grid) * 4) / 4, 0.25), hours)
        keep = present
        rows_emp = np.concatenate([emp[keep], emp[keep & split]])
        rows_day = np.concatenate([day[keep], day[keep & split]])
        rows_act = np.concatenate([acts[first[keep]], acts[second[keep & split]]])
        rows_hours = np.concatenate([first_hours[keep], (hours - first_hours)[keep & split]])
        # Each employee works on one project of the entity; global index into ALL_PROJECTS.
        first_project = ALL_PROJECTS.index(PROJECTS[center.entity][0])
        emp_project = first_project + rng.integers(0, len(PROJECTS[center.entity]), n_emp)
        with_project = np.isin(rows_act, [activity_index[a] for a in PROJECT_ACTIVITIES])
        rows_project = np.where(with_project, emp_project[rows_emp], -1)
        order = np.lexsort((rows_act, rows_day, rows_emp))
        employee_no = (center_no + 1) * 1000 + rows_emp[order] + 1
        parts.append(
            {
                "employee": employee_no,
                "day": rows_day[order],
                "cc": np.full(order.size, center_no),
                "activity": rows_act[order],
                "project": rows_project[order],
                "hours": rows_hours[order],
            }
        )
    col = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return pa.table(
        {
            "employee": numbered_ids("EMP", col["employee"], 5),
            "work_date": pa.array(workdays.astype(str).tolist(), pa.string()).take(col["day"]),
            "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(col["cc"]),
            "activity": pa.array(ACTIVITY_IDS, pa.string()).take(col["activity"]),
            "project": take_nullable(ALL_PROJECTS, col["project"]),
            "hours": pa.array(col["hours"], pa.float64()),
        },
        schema=TIMESHEET_SCHEMA,
    )


def usage_table(period: str, drivers: Drivers, revenue_cc: np.ndarray, revenue_product: np.ndarray) -> pa.Table:
    operating = [i for i, c in enumerate(drivers.centers) if c.kind == "operating"]
    names = [drivers.centers[i].cost_center for i in operating]
    values = {
        "it_tickets": drivers.it_tickets[operating],
        "cloud_spend": drivers.cloud_cents[operating] / 100.0,
        "app_licences": drivers.app_licences[operating],
        "floor_area": drivers.floor_area[operating],
        "revenue": revenue_cc[operating] / 100.0,
    }
    metric, dimension, cost_object, value = [], [], [], []
    for name in USAGE_METRICS:
        metric += [name] * len(names)
        dimension += ["cost_center"] * len(names)
        cost_object += names
        value.append(values[name])
    metric += ["revenue"] * len(PRODUCT_IDS)
    dimension += ["product"] * len(PRODUCT_IDS)
    cost_object += list(PRODUCT_IDS)
    value.append(revenue_product / 100.0)
    return pa.table(
        {"period": [period] * len(metric), "metric": metric, "dimension": dimension, "cost_object": cost_object, "value": np.concatenate(value)},
        schema=USAGE_SCHEMA,
    )


def it_consumption_table(period: str, drivers: Drivers, rng: np.random.Generator) -> pa.Table:
    """Seed 000's observed IT consumption of the US business units (USD, two decimals): the month's
    corporate IT pool split by the known driver weights, times noise, times the planted over-consumption."""
    rows = [i for i, c in enumerate(drivers.centers) if c.cost_center in US_BUSINESS_UNITS]
    names = [drivers.centers[i].cost_center for i in rows]
    values = {
        "headcount": drivers.headcount[rows],
        "it_tickets": drivers.it_tickets[rows],
        "cloud_spend": drivers.cloud_cents[rows] / 100.0,
        "app_licences": drivers.app_licences[rows],
    }
    key = sum(weight / 100.0 * values[d] / values[d].sum() for d, weight in IT_CONSUMPTION_WEIGHTS.items())
    noise = np.exp(IT_CONSUMPTION_NOISE * rng.standard_normal(len(rows)))
    factor = np.array([IT_OVERCONSUMERS.get(n, 1.0) for n in names])
    consumed = np.rint(corporate_it_month_cents(period) * key * noise * factor) / 100.0
    return pa.table(
        {
            "period": [period] * len(rows), "metric": [IT_CONSUMPTION_METRIC] * len(rows), "dimension": ["cost_center"] * len(rows),
            "cost_object": names, "value": consumed,
        },
        schema=USAGE_SCHEMA,
    )


# --- multi-level allocation matrix -----------------------------------------------------------

# Weight of a support center's headcount against an operating center's when a service is shared:
# support staff use IT, HR and offices too, but less than the business does.
_SUPPORT_CONSUMER_WEIGHT = 0.5
# Extra weight by the consumer's role: engineering and research use more IT, sales and services more finance.
_SERVICE_AFFINITY = {
    FUNCTION_IT: {"engineering": 1.6, "research": 1.6, "product": 1.2},
    FUNCTION_FINANCE: {"sales": 1.3, "services": 1.3},
}
# A sub-center passes a share of its total to its parent (its own, within this range, moving a
# few percent from month to month), the rest to those it serves.
_ROLLUP_SHARE = (0.2, 0.4)
_ROLLUP_MONTHLY_NOISE = 0.03
_BASIS_POINTS = 10_000


def matrix_table(period: str, drivers: Drivers, rng: np.random.Generator) -> pa.Table:
    """The month's allocation matrix: for each active support center, percents (two decimals,
    summing to exactly 100) to the centers it serves, by their headcount."""
    headcount = {c.cost_center: h for c, h in zip(drivers.centers, drivers.headcount)}
    rows: list[tuple[str, str, str, int]] = []
    for source in drivers.centers:
        if source.kind != "support":
            continue
        serves = SERVICE_RELATIONS[source.function]
        affinity = _SERVICE_AFFINITY.get(source.function, {})
        consumers, weights = [], []
        for center in drivers.centers:
            if center.entity != source.entity or center.cost_center in (source.cost_center, source.parent):
                continue
            if center.kind == "operating":
                weight = headcount[center.cost_center] * affinity.get(center.role, 1.0)
            elif center.function in serves:
                weight = headcount[center.cost_center] * _SUPPORT_CONSUMER_WEIGHT
            else:
                continue
            consumers.append(center.cost_center)
            weights.append(weight)
        fixed: list[tuple[str, int]] = []
        if source.parent is not None:
            low, high = _ROLLUP_SHARE
            base = low + (high - low) * (zlib.crc32(source.cost_center.encode()) % 1000) / 1000
            share = np.clip(base * (1.0 + _ROLLUP_MONTHLY_NOISE * rng.standard_normal()), low, high)
            fixed.append((source.parent, int(round(share * _BASIS_POINTS))))
        elif source.function == FUNCTION_MANAGEMENT:
            fixed.append((source.cost_center, MANAGEMENT_RETENTION_PERCENT * 100))
        left = _BASIS_POINTS - sum(bp for _, bp in fixed)
        shares = largest_remainder(left, np.asarray(weights, dtype=np.float64))
        for target, bp in fixed + list(zip(consumers, shares.tolist())):
            if bp > 0:
                rows.append((source.entity, source.cost_center, target, int(bp)))
    return pa.table(
        {
            "period": [period] * len(rows),
            "entity": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "target": [r[2] for r in rows],
            "percent": pa.array([r[3] / 100 for r in rows], pa.float64()),
        },
        schema=MATRIX_SCHEMA,
    )
