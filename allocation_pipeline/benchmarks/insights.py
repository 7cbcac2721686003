"""Insights benchmark: the driver analysis with its permutation test on a pool of 50 units x 24 months
x 6 drivers (target 5 s), and training and scoring cost-center suggestions for a month of 1M lines
(target 30 s). Also the planted-truth worlds the insights tests use (AP lines whose vendor and
description decide the cost center, with label noise)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

TARGET_ANALYSIS_SECONDS = 5.0
TARGET_SUGGESTIONS_SECONDS = 30.0
_CATEGORIES = ("cloud hosting", "software licence", "office supplies", "consulting", "travel", "catering", "telecom", "freight")
_ACCOUNTS = ("64200", "64300", "65100", "66000", "67100", "67200", "64400", "68100")


def planted_ap_lines(
    seed: int, lines: int, vendors: int = 120, cost_centers: int = 15, noise: float = 0.10, vendor_offset: int = 0, period: str = "2026-10"
) -> tuple[pd.DataFrame, np.ndarray]:
    """AP invoice lines (typed as cleaning leaves them) whose cost center follows from the vendor
    and the category in the description (each vendor serves two categories, each pair has its own
    cost center); `noise` of the lines carry a random cost center instead. Returns the lines and
    the true cost center of each (what a correct suggestion names). `vendor_offset` shifts vendor
    names, so an offset beyond `vendors` makes vendors never seen before."""
    rng = np.random.default_rng([seed, 13])
    truth_rng = np.random.default_rng([7, vendors, cost_centers])  # the mapping is the same for every seed
    centers = np.array([f"CC{i:02d}" for i in range(1, cost_centers + 1)], dtype=object)
    vendor_categories = truth_rng.integers(0, len(_CATEGORIES), (vendors, 2))
    vendor_centers = truth_rng.integers(0, cost_centers, (vendors, 2))
    vendor = rng.integers(0, vendors, lines)
    which = rng.integers(0, 2, lines)
    category = vendor_categories[vendor, which]
    truth = centers[vendor_centers[vendor, which]]
    observed = truth.copy()
    noisy = rng.random(lines) < noise
    observed[noisy] = centers[rng.integers(0, cost_centers, int(noisy.sum()))]
    names = np.array([f"Vendor {i + vendor_offset:04d}" for i in range(max(vendors, 1))], dtype=object)
    labels = np.array(_CATEGORIES, dtype=object)
    numbers = rng.integers(1000, 99999, lines).astype(str).astype(object)
    description = labels[category] + " invoice " + numbers
    frame = pd.DataFrame(
        {
            "entity": "US", "document_id": [f"INV{i:07d}" for i in range(lines)] if lines <= 200_000 else np.char.add("INV", np.arange(lines).astype(str)),
            "line": 1, "vendor": names[vendor], "invoice_date": pd.Timestamp(f"{period}-15"),
            "account": np.array(_ACCOUNTS, dtype=object)[category], "cost_center": observed,
            "amount_cents": np.round(rng.lognormal(11, 1.2, lines)).astype(np.int64), "currency": "USD",
            "description": description, "period": period, "source_file": "ap_invoices.csv", "row_number": np.arange(1, lines + 1),
        }
    )
    return frame, truth


def planted_panel(seed: int, units: int = 50, months: int = 24, drivers: int = 6, last: str = "2026-10") -> pd.DataFrame:
    """Driver values of a pool whose consumption follows planted weights of the first three drivers."""
    from allocation_pipeline.core.insights.config import shift_period

    rng = np.random.default_rng(seed)
    names = [f"U{i:03d}" for i in range(units)]
    base = rng.lognormal(3, 0.9, (units, drivers))
    values = base[:, None, :] * rng.lognormal(0, 0.1, (units, months, drivers))
    shares = values / values.sum(axis=0, keepdims=True)
    weights = np.zeros(drivers)
    weights[:3] = (0.5, 0.3, 0.2)
    consumption = (shares @ weights) * rng.lognormal(0, 0.03, (units, months)) * 1e6
    periods = [shift_period(last, k - months + 1) for k in range(months)]
    rows = []
    for t, period in enumerate(periods):
        for j in range(drivers):
            rows += [(period, f"driver_{j + 1}", "cost_center", n, float(v)) for n, v in zip(names, values[:, t, j])]
        rows += [(period, "consumption", "cost_center", n, float(v)) for n, v in zip(names, consumption[:, t])]
    return pd.DataFrame(rows, columns=["period", "driver", "dimension", "cost_object", "value"])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "insights",
        help="time the driver analysis with its permutation test and the cost-center suggestions",
        description="Times (1) the driver analysis with the permutation test on a planted pool of --units x --months x "
        "--drivers, and (2) training the suggestion model on --lines planted AP lines of one month and scoring "
        "--candidates quarantined lines. Prints each time next to its target and a floor measured in the same run "
        "(one least-squares fit of the pool; reading the lines' features once).",
    )
    parser.add_argument("--units", type=int, default=50, help="cost objects of the analysed pool (default 50)")
    parser.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    parser.add_argument("--drivers", type=int, default=6, help="candidate drivers (default 6)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="training lines of the month (default 1,000,000)")
    parser.add_argument("--candidates", type=int, default=20_000, help="quarantined lines to score (default 20,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the driver analysis (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data (default 7)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from scipy.optimize import nnls

    from allocation_pipeline.core.insights.config import SuggestionSettings
    from allocation_pipeline.core.insights.driver_analysis import analyse_drivers
    from allocation_pipeline.core.insights.suggestions import examples_from_lines, features_of, suggest, train

    history = planted_panel(args.seed, args.units, args.months, args.drivers)
    candidates = [f"driver_{j + 1}" for j in range(args.drivers)]
    timings, analysis = [], None
    for _ in range(max(args.repeat, 1)):
        started = time.perf_counter()
        analysis = analyse_drivers(history, "consumption", candidates, pool_id="benchmark")
        timings.append(time.perf_counter() - started)
    wide = history.pivot_table(index=["period", "cost_object"], columns="driver", values="value")
    started = time.perf_counter()
    nnls(wide[candidates].to_numpy(), wide["consumption"].to_numpy())
    floor = time.perf_counter() - started
    best = min(timings)
    c = analysis.confidence
    print(
        f"driver analysis, {args.units} units x {args.months} months x {args.drivers} drivers, {c.permutations} permutations: "
        f"best {best:.2f} s of {len(timings)} (median {float(np.median(timings)):.2f} s); target {TARGET_ANALYSIS_SECONDS:.0f} s "
        f"({best / TARGET_ANALYSIS_SECONDS:.0%} of it); floor (one least-squares fit) {floor * 1000:.1f} ms; "
        f"confidence {c.label}, p = {c.p_value:.3f}, weights {analysis.weights()}"
    )

    settings = SuggestionSettings()
    lines, _ = planted_ap_lines(args.seed, args.lines)
    fresh, truth = planted_ap_lines(args.seed + 1, args.candidates)
    fresh = fresh.assign(suggestion_id=[f"B{i}" for i in range(len(fresh))])
    started = time.perf_counter()
    features_of(lines, "ap_invoices")
    floor = time.perf_counter() - started
    started = time.perf_counter()
    examples = examples_from_lines(lines, "ap_invoices")
    model = train(examples, settings)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    scored = suggest(model, pd.concat([fresh[["suggestion_id"]], features_of(fresh, "ap_invoices")], axis=1), settings)
    scoring = time.perf_counter() - started
    total = trained + scoring
    right = scored["suggested_cost_center"].to_numpy() == truth
    high = scored["label"].to_numpy() == "high"
    print(
        f"suggestions, {args.lines:,} AP lines (10% label noise): training {trained:.2f} s, scoring {len(fresh):,} lines {scoring:.2f} s, "
        f"total {total:.2f} s; target {TARGET_SUGGESTIONS_SECONDS:.0f} s ({total / TARGET_SUGGESTIONS_SECONDS:.0%} of it); floor (features "
        f"of the lines once) {floor:.2f} s; top-1 {right.mean():.1%}, high-confidence {high.mean():.1%} of lines, right {right[high].mean():.1%}"
    )
    return 0
