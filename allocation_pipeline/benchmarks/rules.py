"""Rules benchmark: many generated rules of every shipped method over one large GL period, timing
the pure core (`gl_balances` + `allocate_period`) without Dagster or a warehouse."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

EXPENSE_RANGES = (
    "50000-50200", "51000", "52000-53000", "60000-60100", "61000-61200", "62000-62300", "62000-62100",
    "63000-63100", "64000", "64000-64100", "65000-66000", "50000-66000",
)
COST_CENTER_DRIVERS = ("headcount", "hours", "it_tickets", "cloud_spend", "app_licences", "floor_area")
ALLOCATED_OUT = ("69100", "69200", "69300", "69400", "69500")
ALLOCATED_IN = "69000"
REGIONS = ("EMEA-NORDICS", "EMEA-BALTICS", "EMEA-DACH", "EMEA-UKI", "NA-EAST", "NA-WEST", "NA-CENTRAL", "LATAM", "APAC")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="allocate N generated rules over one period of M GL lines (pure core)",
        description="Generates a one-period sample company with M GL lines (Parquet), reads and cleans its "
        "GL lines and drivers with the core, generates N varied rules (every shipped method, account "
        "ranges, cost-center filters, multi-dimensional targets, rules pooling what earlier ones "
        "allocated), then times gl_balances + allocate_period: one untimed warm-up, then --repeat "
        "timed runs; prints the median, min and max.",
    )
    parser.add_argument("--rules", type=int, default=500, help="rules to generate (default 500)")
    parser.add_argument("--gl-lines", type=int, default=1_000_000, help="GL lines in the period (default 1,000,000)")
    parser.add_argument("--period", default="2026-10", help="the fiscal month to generate (default 2026-10)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated company (default 7)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from allocation_pipeline.commands.preview import read_period
    from allocation_pipeline.core.allocation.allocate import allocate_period, gl_balances
    from allocation_pipeline.core.allocation.methods import available_methods
    from allocation_pipeline.sample.generate import generate_company

    with tempfile.TemporaryDirectory(prefix="allocation-rules-benchmark-") as tmp:
        started = time.perf_counter()
        summary = generate_company(
            Path(tmp), seed=args.seed, periods=1, end_period=args.period, closed_periods=0,
            gl_lines_per_period=args.gl_lines, file_format="parquet",
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        data = read_period(summary.extracts_dir, args.period)
        loaded = time.perf_counter() - started
    methods = available_methods()
    rule_set = generate_rules(args.rules, data.cost_centers, gl_balances(data.gl_lines), args.seed, methods)
    gl_lines, drivers = data.gl_lines, data.driver_values

    def once() -> tuple[float, float, object]:
        t0 = time.perf_counter()
        balances = gl_balances(gl_lines)
        t1 = time.perf_counter()
        outcome = allocate_period(args.period, list(rule_set.rules), balances, drivers, data.cost_centers, data.entities, methods)
        return t1 - t0, time.perf_counter() - t1, outcome

    once()  # warm-up: imports, caches, first-touch allocations
    timings = [once() for _ in range(max(1, args.repeat))]
    outcome = timings[-1][2]
    balance_s = [t[0] for t in timings]
    allocate_s = [t[1] for t in timings]
    total_s = [b + a for b, a in zip(balance_s, allocate_s)]
    lines = sum(len(r.lines) for r in outcome.runs)
    unbalanced = [r.rule_id for r in outcome.runs if r.total_debit_cents != r.total_credit_cents]
    by_method = pd.Series([r.method for r in outcome.runs]).value_counts().sort_index()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"GL lines:            {len(gl_lines):,} (generated in {generated:.1f} s, read + cleaned in {loaded:.1f} s; not timed below)")
    print(f"Rules:               {len(rule_set.rules)} -> {len(outcome.runs)} runs, {lines:,} lines, {len(outcome.notes)} empty pools")
    print("Runs by method:      " + ", ".join(f"{m} {n}" for m, n in by_method.items()))
    print(f"Timed runs:          {len(timings)} after one warm-up (median, min-max)")
    print(f"  gl_balances        {_spread(balance_s)}")
    print(f"  allocate_period    {_spread(allocate_s)}  ({len(rule_set.rules) / statistics.median(allocate_s):,.0f} rules/s)")
    print(f"  total              {_spread(total_s)}  (target: under 10 s)")
    print(f"Balanced runs:       {len(outcome.runs) - len(unbalanced)} of {len(outcome.runs)}")
    print(f"Peak memory (RSS):   {peak_mb:,.0f} MB")
    print(f"Machine:             {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}")
    return 1 if unbalanced else 0


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  ({min(values):.2f}-{max(values):.2f})"


def _in_range(account: str, account_range: str) -> bool:
    low, _, high = account_range.partition("-")
    return account.isdigit() and int(low) <= int(account) <= int(high or low)


def generate_rules(count: int, cost_centers: pd.DataFrame, balances: pd.DataFrame, seed: int, methods=None):
    """`count` rules over the sample company's accounts and cost centers, mixing every shipped method.

    Each rule's account range holds a balance of its first source cost center in `balances`, so
    pools are rarely empty (they are when an earlier rule crediting the pooled accounts took them).
    Roughly one rule in eight pools what earlier rules debited to operating cost centers
    (account 69000) and passes it on to products x regions, so later rules depend on earlier runs.
    """
    from allocation_pipeline.core.allocation.rules import parse_rules
    from allocation_pipeline.sample.company import PRODUCT_IDS

    rng = np.random.default_rng(seed)
    active = cost_centers[cost_centers["active"].astype(bool)]
    support = {e: sorted(g.loc[g["kind"] == "support", "cost_center"]) for e, g in active.groupby("entity")}
    operating = {e: sorted(g.loc[g["kind"] == "operating", "cost_center"]) for e, g in active.groupby("entity")}
    held = balances.groupby("cost_center")["account"].agg(lambda a: sorted(set(a)))
    kinds = ("even_split", "fixed_percentages", "driver", "weighted_drivers", "activity_based", "product_of_shares", "combinations")

    def pick(values, low, high):
        return [str(v) for v in rng.choice(values, size=int(rng.integers(low, min(high, len(values)) + 1)), replace=False)]

    def percents(names):
        cuts = np.sort(rng.choice(np.arange(1, 100), size=len(names) - 1, replace=False))
        return dict(zip(names, (np.diff(np.r_[0, cuts, 100])).tolist()))

    raw = []
    for i in range(count):
        entity = ("EE", "US")[i % 2]
        chained = i >= 20 and i % 8 == 0
        kind = "product_of_shares" if chained else kinds[int(rng.integers(len(kinds)))]
        sources = pick(operating[entity], 1, 1) if chained else pick(support[entity], 1, 3)
        ranges = [r for r in EXPENSE_RANGES if any(_in_range(a, r) for a in held.get(sources[0], []))]
        rule = {
            "id": f"bench_{i:04d}_{kind}",
            "entity": entity,
            "order": (i + 1) * 10,
            "source": {"accounts": [ALLOCATED_IN] if chained else [str(rng.choice(ranges or EXPENSE_RANGES))], "cost_centers": sources},
            "accounts": {"debit": ALLOCATED_IN} | ({} if rng.random() < 0.05 and not chained else {"credit": str(rng.choice(ALLOCATED_OUT))}),
            "approval": "auto",
        }
        listed = pick(operating[entity], 2, 6)
        if kind == "even_split":
            rule |= {"method": "even_split", "target": {"members": listed}}
        elif kind == "fixed_percentages":
            rule |= {"method": "fixed_percentages", "parameters": {"percentages": percents(listed)}, "target": {"members": listed}}
        elif kind == "driver":
            rule |= {"method": "driver", "parameters": {"driver": str(rng.choice(COST_CENTER_DRIVERS))}, "target": {"where": {"kind": "operating"}}}
        elif kind == "weighted_drivers":
            rule |= {"method": "weighted_drivers", "parameters": {"weights": percents(pick(COST_CENTER_DRIVERS, 2, 4))}, "target": {"where": {"kind": "operating"}}}
        elif kind == "activity_based":
            drivers = pick(COST_CENTER_DRIVERS, 2, 3)
            efforts = percents([f"activity_{k}" for k in range(len(drivers))])
            activities = {a: {"effort": efforts[a], "driver": d} for a, d in zip(efforts, drivers)}
            rule |= {"method": "activity_based", "parameters": {"activities": activities}, "target": {"where": {"kind": "operating"}}, "fallback": "even_split"}
        elif kind == "product_of_shares":
            regions = pick(REGIONS, 2, 5)
            rule |= {
                "method": "product_of_shares",
                "parameters": {
                    "product": {"method": "driver", "parameters": {"driver": "revenue"}},
                    "region": {"method": "fixed_percentages", "parameters": {"percentages": percents(regions)}},
                },
                "target": {"dimensions": ["product", "region"], "members": {"product": list(PRODUCT_IDS), "region": regions}, "cost_center": sources[0]},
            }
        else:
            rule |= {
                "method": "even_split",
                "target": {"dimensions": ["cost_center", "product"], "members": {"cost_center": listed, "product": pick(PRODUCT_IDS, 2, 4)}},
            }
        raw.append(rule)
    return parse_rules({"version": 1, "rules": raw}, "generated rules", methods)
