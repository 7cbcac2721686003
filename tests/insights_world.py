"""A small literal company for the insights tests: one US pool of 1,000,000.00 on (64200, IT), ten
business units with independent drivers, and consumption planted from known weights.

Not a test module: frames and rules only, built the way the pipeline's cleaned extracts look.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.allocate import BALANCE_KEYS, allocate_period
from allocation_pipeline.core.allocation.rules import parse_rules

PERIOD = "2026-10"
PREVIOUS = "2026-09"
UNITS = tuple(f"BU{i:02d}" for i in range(1, 11))
POOL_CENTS = 100_000_000
PLANTED = {"cloud_spend": 50, "app_licences": 30, "it_tickets": 20}


def cost_centers() -> pd.DataFrame:
    rows = [("IT", "IT", "US", "support", "IT", None, True)]
    rows += [(u, f"Unit {u}", "US", "operating", "business", None, True) for u in UNITS]
    return pd.DataFrame(rows, columns=["cost_center", "name", "entity", "kind", "function", "parent", "active"])


def entities() -> pd.DataFrame:
    return pd.DataFrame({"entity": ["US"], "name": ["Northwind Systems Inc."], "currency": ["USD"]})


def balances(pool_cents: int = POOL_CENTS, extra: list[tuple] = ()) -> pd.DataFrame:
    rows = [("US", "64200", "IT", "", "", "USD", pool_cents), *extra]
    return pd.DataFrame(rows, columns=[*BALANCE_KEYS, "balance_cents"])


def rules_document(method: str = "weighted_drivers", parameters: dict | None = None, extra_rules: list[dict] = ()) -> dict:
    parameters = parameters if parameters is not None else {"weights": dict(PLANTED)}
    return {
        "version": 1,
        "rules": [
            {
                "id": "corporate_it", "entity": "US", "order": 10, "source": {"accounts": ["64200"], "cost_centers": ["IT"]},
                "method": method, "parameters": parameters, "target": {"dimension": "cost_center", "where": {"kind": "operating"}},
                "accounts": {"credit": "69100", "debit": "69000"},
            },
            *extra_rules,
        ],
        "insights": {
            "pools": [{"id": "corporate_it", "consumption": "it_consumption", "candidates": [*PLANTED, "headcount"]}],
        },
    }


def rule_set(**kwargs):
    return parse_rules(rules_document(**kwargs))


def driver_values(period: str = PERIOD, seed: int = 3, noise: float = 0.03, overconsumers: dict | None = None, scale: dict | None = None) -> pd.DataFrame:
    """Drivers of one period (independent per unit, fixed by `seed`, drifting by period) and
    consumption from the planted weights with lognormal noise and planted over-consumption;
    `scale` multiplies one unit's driver: {(driver, unit): factor}."""
    base_rng = np.random.default_rng(seed)
    drivers = [*PLANTED, "headcount"]
    base = {d: base_rng.lognormal(3, 0.9, len(UNITS)) for d in drivers}
    rng = np.random.default_rng([seed, int(period.replace("-", ""))])
    values = {d: base[d] * rng.lognormal(0, 0.05, len(UNITS)) for d in drivers}
    for (driver, unit), factor in (scale or {}).items():
        values[driver][UNITS.index(unit)] *= factor
    key = sum(w / 100 * values[d] / values[d].sum() for d, w in PLANTED.items())
    factor = np.array([(overconsumers or {}).get(u, 1.0) for u in UNITS])
    values["it_consumption"] = POOL_CENTS / 100 * key * rng.lognormal(0, noise, len(UNITS)) * factor
    rows = [(period, d, "cost_center", u, float(x)) for d, v in values.items() for u, x in zip(UNITS, v)]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])


def allocate(values: pd.DataFrame, period: str = PERIOD, pool_cents: int = POOL_CENTS, **rule_kwargs):
    rules = rule_set(**rule_kwargs)
    return allocate_period(period, rules.for_period(period), balances(pool_cents), values, cost_centers(), entities()).runs


def lines_of(runs) -> pd.DataFrame:
    """Run lines as the warehouse returns them for the insights (with rule, entity, currency, method)."""
    return pd.concat(
        [r.lines.assign(rule_id=r.rule_id, entity=r.entity, currency=r.currency, method=r.method) for r in runs], ignore_index=True
    )


def no_signal_history(seed: int, units: int = 8, periods: int = 12, candidates: int = 4, last: str = PERIOD) -> pd.DataFrame:
    """Driver values where consumption has no relation to any driver: each unit's consumption and
    each driver stay steady per unit from month to month (a base per unit, 5% drift), all drawn
    independently with `seed`. The trap of issue 13: steady units make any key look good out of period."""
    from allocation_pipeline.core.insights.config import shift_period

    rng = np.random.default_rng([seed, 13])
    names = [f"BU{i:02d}" for i in range(1, units + 1)]
    drivers = [f"driver_{j}" for j in range(1, candidates + 1)]
    base = {d: rng.lognormal(3, 0.9, units) for d in [*drivers, "it_consumption"]}
    rows = []
    for k in range(periods):
        period = shift_period(last, k - periods + 1)
        for d, b in base.items():
            rows += [(period, d, "cost_center", n, float(x)) for n, x in zip(names, b * rng.lognormal(0, 0.05, units))]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])
