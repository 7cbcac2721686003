"""Property tests (hypothesis) of the allocation engine over random pools (positive, negative,
several source lines), random drivers (missing values and zeros) and every shipped method, alone
and as a product of shares over two dimensions: every run balances to the cent, the targets sum
to the pool, each target's cents are within one cent of its exact share, and no target gets a
share of a driver it has no value for. ALLOCATION_PROPERTY_EXAMPLES sets the examples per test
(default 150). Does not cover rule files, plugins, storage or speed.
"""

from __future__ import annotations

import os
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
from allocation_pipeline.core.allocation.methods import available_methods
from allocation_pipeline.core.allocation.rules import parse_rules

SETTINGS = settings(max_examples=int(os.environ.get("ALLOCATION_PROPERTY_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
PERIOD = "2026-10"
DRIVERS = ("d1", "d2", "d3")
ENTITIES = pd.DataFrame({"entity": ["EE"], "currency": ["EUR"]})
COST_CENTERS = pd.DataFrame({"cost_center": ["S1", "S2"], "entity": ["EE", "EE"], "kind": ["support", "support"], "active": [True, True]})
METHODS = available_methods()

amounts = st.integers(-10**11, 10**11) | st.integers(-300, 300)
driver_value = st.none() | st.just(0.0) | st.integers(1, 1000).map(float) | st.floats(0.001, 1e7, allow_nan=False)


def percents(draw, names: list[str]) -> dict[str, int]:
    """Whole percents over `names` summing to 100 (some may be 0)."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(names) - 1, max_size=len(names) - 1)))
    bounds = [0, *cuts, 100]
    return {name: bounds[i + 1] - bounds[i] for i, name in enumerate(names)}


@st.composite
def method_specs(draw, members: list[str]):
    """(method, parameters, {driver: percent weight}) - the drivers a share depends on, and how much."""
    method = draw(st.sampled_from(["even_split", "fixed_percentages", "driver", "weighted_drivers", "activity_based"]))
    if method == "even_split":
        return method, {}, None
    if method == "fixed_percentages":
        return method, {"percentages": percents(draw, members)}, None
    if method == "driver":
        driver = draw(st.sampled_from(DRIVERS))
        return method, {"driver": driver}, {driver: 100}
    used = draw(st.lists(st.sampled_from(DRIVERS), min_size=1, max_size=3, unique=True))
    weights = percents(draw, used)
    if method == "weighted_drivers":
        return method, {"weights": weights}, weights
    activities = {f"act{i}": {"effort": weights[d], "driver": d} for i, d in enumerate(used)}
    return method, {"activities": activities}, weights


def driver_frame(dimension: str, members: list[str], values: dict[str, list]) -> list[dict]:
    return [
        {"period": PERIOD, "driver": d, "dimension": dimension, "cost_object": m, "value": v}
        for d, per in values.items() for m, v in zip(members, per) if v is not None
    ]


def expected_shares(method: str, parameters: dict, weights: dict | None, members: list[str], values: dict[str, list]) -> dict[str, Fraction] | None:
    """Each member's exact share, computed here independently; None when a used driver totals zero."""
    if method == "even_split":
        return {m: Fraction(1, len(members)) for m in members}
    if method == "fixed_percentages":
        return {m: Fraction(parameters["percentages"][m], 100) for m in members}
    shares = {m: Fraction(0) for m in members}
    for driver, percent in weights.items():
        if percent == 0:
            continue
        per_member = [Fraction(v) if v is not None else Fraction(0) for v in values[driver]]
        total = sum(per_member)
        if total == 0:
            return None
        for m, v in zip(members, per_member):
            # A member without the driver (None or 0) gets nothing of this driver's weight.
            shares[m] += Fraction(percent, 100) * v / total
    return shares


def check_run(run, pool_cents: int, shares: dict[str, Fraction], key) -> None:
    assert run.total_debit_cents == run.total_credit_cents
    targets = run.lines[run.lines["role"] == "target"]
    sources = run.lines[run.lines["role"] == "source"]
    assert int((sources["credit_cents"] - sources["debit_cents"]).sum()) == pool_cents
    got = dict(zip(key(targets), (targets["debit_cents"] - targets["credit_cents"]).tolist()))
    assert sum(got.values()) == pool_cents == run.pool_cents
    assert ((targets["debit_cents"] == 0) | (targets["credit_cents"] == 0)).all()
    assert ((targets["debit_cents"] + targets["credit_cents"]) > 0).all()
    for member, share in shares.items():
        amount = got.get(member, 0)
        exact = share * pool_cents
        assert abs(amount - exact) < 1, (member, amount, float(exact))
        if share == 0:
            assert member not in got
        if amount:
            assert (amount > 0) == (pool_cents > 0)


def ledger(draw) -> tuple[pd.DataFrame, int]:
    lines = draw(st.lists(st.tuples(st.sampled_from(["S1", "S2"]), amounts), min_size=1, max_size=4))
    frame = pd.DataFrame(
        [
            {"entity": "EE", "account": "64000", "cost_center": cc, "product": None, "region": None,
             "debit_cents": max(c, 0), "credit_cents": max(-c, 0), "currency": "EUR"}
            for cc, c in lines
        ]
    )
    return frame, sum(c for _, c in lines)


@st.composite
def single_dimension_cases(draw):
    members = [f"T{i}" for i in range(draw(st.integers(1, 6)))]
    method, parameters, weights = draw(method_specs(members))
    values = {d: draw(st.lists(driver_value, min_size=len(members), max_size=len(members))) for d in DRIVERS}
    gl, pool = ledger(draw)
    fallback = draw(st.booleans())
    return members, method, parameters, weights, values, gl, pool, fallback


@SETTINGS
@given(single_dimension_cases())
def test_every_method_balances_sums_to_the_pool_and_respects_drivers(case):
    members, method, parameters, weights, values, gl, pool, fallback = case
    raw = {
        "id": "prop", "entity": "EE", "source": {"accounts": ["64000"]}, "method": method, "parameters": parameters,
        "target": {"dimension": "cost_center", "members": members}, "accounts": {"credit": "69100", "debit": "69000"},
    }
    if fallback:
        raw["fallback"] = "even_split"
    rules = parse_rules({"rules": [raw]}, "rules", METHODS).rules
    frame = pd.DataFrame(driver_frame("cost_center", members, values), columns=["period", "driver", "dimension", "cost_object", "value"])
    shares = expected_shares(method, parameters, weights, members, values)
    run_it = lambda: allocate_period(PERIOD, list(rules), gl_balances(gl), frame, COST_CENTERS, ENTITIES, METHODS)  # noqa: E731

    event(f"method {method}" + (" with fallback" if fallback else ""))
    if pool == 0:
        event("empty pool")
        outcome = run_it()
        assert outcome.runs == [] and outcome.notes == ["rule prop: pool is empty in 2026-10; no run"]
        return
    if shares is None and not fallback:
        event("zero driver total")
        with pytest.raises(AllocationError, match=r"rule prop \(EE, 2026-10\): driver 'd\d' totals zero over the targets in 2026-10"):
            run_it()
        return
    (run,) = run_it().runs
    if shares is None:
        event("fallback used")
        shares = {m: Fraction(1, len(members)) for m in members}
        assert "shared by the fallback method even_split" in run.notes[0]
    check_run(run, pool, shares, lambda t: t["cost_center"])
    targets = run.lines[run.lines["role"] == "target"]
    for member, share in zip(targets["cost_center"], targets["share"]):
        assert share == pytest.approx(float(shares[member]), abs=1e-9)


@st.composite
def two_dimension_cases(draw):
    products = [f"P{i}" for i in range(draw(st.integers(1, 4)))]
    regions = [f"R{i}" for i in range(draw(st.integers(1, 4)))]
    specs = {"product": draw(method_specs(products)), "region": draw(method_specs(regions))}
    values = {
        "product": {d: draw(st.lists(driver_value, min_size=len(products), max_size=len(products))) for d in DRIVERS},
        "region": {d: draw(st.lists(driver_value, min_size=len(regions), max_size=len(regions))) for d in DRIVERS},
    }
    gl, pool = ledger(draw)
    return products, regions, specs, values, gl, pool


@SETTINGS
@given(two_dimension_cases())
def test_product_of_shares_over_two_dimensions(case):
    products, regions, specs, values, gl, pool = case
    raw = {
        "id": "prop2", "entity": "EE", "source": {"accounts": ["64000"]}, "method": "product_of_shares",
        "parameters": {dim: {"method": m, "parameters": p} for dim, (m, p, _) in specs.items()},
        "target": {"dimensions": ["product", "region"], "members": {"product": products, "region": regions}, "cost_center": "S1"},
        "accounts": {"credit": "69100", "debit": "69000"},
    }
    rules = parse_rules({"rules": [raw]}, "rules", METHODS).rules
    rows = driver_frame("product", products, values["product"]) + driver_frame("region", regions, values["region"])
    frame = pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])
    members = {"product": products, "region": regions}
    per_dimension = {dim: expected_shares(m, p, w, members[dim], values[dim]) for dim, (m, p, w) in specs.items()}
    run_it = lambda: allocate_period(PERIOD, list(rules), gl_balances(gl), frame, COST_CENTERS, ENTITIES, METHODS)  # noqa: E731

    if pool == 0:
        event("empty pool")
        assert run_it().runs == []
        return
    if any(shares is None for shares in per_dimension.values()):
        event("zero driver total")
        with pytest.raises(AllocationError, match="totals zero over the targets in 2026-10"):
            run_it()
        return
    (run,) = run_it().runs
    shares = {(p, r): per_dimension["product"][p] * per_dimension["region"][r] for p in products for r in regions}
    check_run(run, pool, shares, lambda t: list(zip(t["product"], t["region"])))
    targets = run.lines[run.lines["role"] == "target"]
    assert set(targets["cost_center"]) <= {"S1"}  # booked where the rule says, whatever the sources
