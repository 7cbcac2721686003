"""The sample company's master data tables: entities, accounts, cost centers, dimension members and fiscal periods."""

from __future__ import annotations

import pyarrow as pa

from allocation_pipeline.sample.company import (
    ACCOUNTS,
    ACTIVITIES,
    COST_CENTERS,
    ENTITY_CURRENCY,
    ENTITY_NAMES,
    PRODUCTS,
    REGIONS,
    SEGMENTS,
    month_days,
    parse_period,
)


def master_tables(periods: list[str], closed: int) -> dict[str, pa.Table]:
    entities = pa.table(
        {
            "entity": list(ENTITY_CURRENCY),
            "name": [ENTITY_NAMES[e] for e in ENTITY_CURRENCY],
            "currency": list(ENTITY_CURRENCY.values()),
        }
    )
    accounts = pa.table(
        {
            "account": [a[0] for a in ACCOUNTS],
            "name": [a[1] for a in ACCOUNTS],
            "type": [a[2] for a in ACCOUNTS],
            "active": pa.array([a[3] for a in ACCOUNTS], pa.bool_()),
        }
    )
    cost_centers = pa.table(
        {
            "cost_center": [c.cost_center for c in COST_CENTERS],
            "name": [c.name for c in COST_CENTERS],
            "entity": [c.entity for c in COST_CENTERS],
            "kind": [c.kind for c in COST_CENTERS],
            "function": [c.function for c in COST_CENTERS],
            "parent": pa.array([c.parent for c in COST_CENTERS], pa.string()),
            "active": pa.array([c.active for c in COST_CENTERS], pa.bool_()),
        }
    )
    members = [("product", *m) for m in PRODUCTS] + [("region", *m) for m in REGIONS]
    members += [("segment", *m) for m in SEGMENTS] + [("activity", *m) for m in ACTIVITIES]
    dimension_members = pa.table(
        {
            "dimension": [m[0] for m in members],
            "member": [m[1] for m in members],
            "name": [m[2] for m in members],
            "active": pa.array([m[3] for m in members], pa.bool_()),
        }
    )
    rows = []
    for entity in ENTITY_CURRENCY:
        for i, period in enumerate(periods):
            days = month_days(parse_period(period))
            rows.append((entity, period, str(days[0]), str(days[-1]), "closed" if i < closed else "open"))
    fiscal_periods = pa.table({name: [r[i] for r in rows] for i, name in enumerate(("entity", "period", "start_date", "end_date", "status"))})
    return {
        "entities": entities,
        "accounts": accounts,
        "cost_centers": cost_centers,
        "dimension_members": dimension_members,
        "fiscal_periods": fiscal_periods,
    }
