"""Benchmark of the multi-level solver against the seed's iterative passes on the same generated inputs."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd
import scipy

from allocation_pipeline.core.multilevel.records import MultilevelWarning
from allocation_pipeline.core.multilevel.solver import solve

# --- generated inputs --------------------------------------------------------------------------------


def _percents(rng: np.random.Generator, src: np.ndarray, fixed: np.ndarray, retention: np.ndarray) -> np.ndarray:
    """Percents per edge: `fixed` edges (>0: that fraction) as given, the others share what is left.

    Each source keeps `retention`; its free edges split 1 - retention - fixed shares at random.
    Rounded down to 1e-4 percent so that no source exceeds 100.
    """
    n = int(src.max()) + 1 if src.size else 0
    free = fixed <= 0
    weight = np.where(free, rng.exponential(1.0, src.size), 0.0)
    weight_sum = np.bincount(src, weights=weight, minlength=n)
    fixed_sum = np.bincount(src, weights=np.where(free, 0.0, fixed), minlength=n)
    left = np.clip(1.0 - retention[:n] - fixed_sum, 0.0, None)
    share = np.where(free, weight / np.where(weight_sum > 0, weight_sum, 1.0)[src] * left[src], fixed)
    return np.floor(share * 100 * 1e4) / 1e4


def _costs(rng: np.random.Generator, names: np.ndarray, low: float, high: float, present: float) -> pd.Series:
    cents = rng.integers(int(low * 100), int(high * 100), names.size)
    keep = rng.random(names.size) < present
    return pd.Series(cents[keep] / 100.0, index=pd.Index(names[keep], name="cost_center"))


def service_case(
    services: int = 2000, finals: int = 50_000, rows: int = 500_000, seed: int = 0, mutual: float | None = None
):
    """Service cost centers in departments feeding final cost objects.

    2% of the services are corporate (IT, HR, ...): they serve each other in small cycles and serve
    departmental services and any final object. The rest belong to 40 departments: small cycles of
    2-7 services that also pass cost down a chain of the department's clusters, and serve the
    department's final objects. Rows left after the service-to-service rows are service-to-final.
    `mutual` fixes the share each service sends around its cycle (default random 2-15%); the other
    service-to-service shares and the retention shrink so that the percents stay within 100.
    """
    rng = np.random.default_rng(seed)
    departments = max(1, min(40, services // 10))
    corporate = max(2, services // 50)
    dept_of = np.r_[np.full(corporate, -1), rng.integers(0, departments, services - corporate)]
    dept_of[corporate:] = np.sort(dept_of[corporate:])
    final_dept = np.sort(rng.integers(0, departments, finals))

    # Clusters: consecutive runs of services inside a group (corporate, or one department).
    cluster = np.empty(services, np.int64)
    c, i = 0, 0
    while i < services:
        size = int(rng.integers(2, 8))
        group_end = i
        while group_end < services and dept_of[group_end] == dept_of[i]:
            group_end += 1
        size = min(size, group_end - i)
        cluster[i : i + size] = c
        c, i = c + 1, i + size
    src, tgt, fixed = [], [], []
    starts = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    ends = np.r_[starts[1:], services]
    for lo, hi in zip(starts, ends):
        members = np.arange(lo, hi)
        if members.size > 1:  # a ring: every member serves the next
            src.append(members)
            tgt.append(np.roll(members, -1))
            fixed.append(np.full(members.size, mutual) if mutual is not None else rng.uniform(0.02, 0.15, members.size))
        # Down the department (or from corporate to departments): one later service each.
        group = dept_of[lo]
        later = np.flatnonzero((dept_of == group) & (np.arange(services) >= hi)) if group >= 0 else np.arange(corporate, services)
        if later.size:
            for m in members:
                picks = rng.choice(later, size=min(later.size, 3 if group < 0 else 1), replace=False)
                src.append(np.full(picks.size, m))
                tgt.append(picks)
                fixed.append(rng.uniform(0.01, 0.05, picks.size) * (1.0 - (mutual or 0.0)))
    src_s, tgt_s, fixed_s = np.concatenate(src), np.concatenate(tgt), np.concatenate(fixed)

    # Service -> final rows.
    per_service = max(1, (rows - src_s.size) // services)
    extra = (rows - src_s.size) - per_service * services
    final_src, final_tgt = [], []
    dept_finals = [np.flatnonzero(final_dept == d) for d in range(departments)]
    for s in range(services):
        pool = np.arange(finals) if dept_of[s] < 0 else dept_finals[dept_of[s]]
        k = min(pool.size, per_service + (1 if s < extra else 0))
        if k:
            final_src.append(np.full(k, s))
            final_tgt.append(services + rng.choice(pool, size=k, replace=False))
    src_all = np.r_[src_s, np.concatenate(final_src)]
    tgt_all = np.r_[tgt_s, np.concatenate(final_tgt)]
    fixed_all = np.r_[fixed_s, np.zeros(src_all.size - src_s.size)]
    retention = np.where(rng.random(services) < 0.3, 0.0, rng.uniform(0.0, 0.1, services)) * (1.0 - (mutual or 0.0))
    percent = _percents(rng, src_all, fixed_all, retention)

    names = np.r_[[f"S{i:05d}" for i in range(services)], [f"F{i:06d}" for i in range(finals)]]
    matrix = pd.DataFrame({"source": names[src_all], "target": names[tgt_all], "percent": percent})
    costs = pd.concat(
        [_costs(rng, names[:services], 10_000, 1_000_000, 1.0), _costs(rng, names[services:], 100, 50_000, 0.5)]
    )
    return costs, matrix


def random_case(centers: int = 100_000, rows: int = 1_000_000, seed: int = 0, topology: str = "clustered"):
    """A random matrix: 90% of the cost centers send, to about rows/senders random targets each.

    "clustered": cost centers in a random order, grouped in clusters of 1-5 that serve each other
    in a ring; all other rows go to later cost centers, so cycles stay inside clusters.
    "uniform": targets uniform over all cost centers, so almost every sender is in one giant cycle.
    """
    rng = np.random.default_rng(seed)
    senders = int(centers * 0.9)
    order = rng.permutation(centers)
    sizes = rng.integers(1, 6, centers)
    cluster_end = np.empty(centers, np.int64)
    pos = 0
    ring_src, ring_tgt = [], []
    for size in sizes:
        if pos >= centers:
            break
        hi = min(centers, pos + int(size))
        cluster_end[pos:hi] = hi
        if hi - pos > 1 and pos < senders:
            members = np.arange(pos, min(hi, senders))
            if members.size > 1:
                ring_src.append(members)
                ring_tgt.append(np.roll(members, -1))
        pos = hi
    ring_src_a = np.concatenate(ring_src) if ring_src else np.zeros(0, np.int64)
    ring_tgt_a = np.concatenate(ring_tgt) if ring_tgt else np.zeros(0, np.int64)
    want = rows - ring_src_a.size
    draw = int(want * 1.05) + 10
    s = rng.integers(0, senders, draw)
    if topology == "uniform":
        t = rng.integers(0, centers, draw)
    else:
        lo = cluster_end[s]
        room = centers - lo
        s, lo, room = s[room > 0], lo[room > 0], room[room > 0]
        t = lo + (rng.random(s.size) * room).astype(np.int64)
    keep = s != t
    s, t = s[keep], t[keep]
    ring_key = set((ring_src_a * centers + ring_tgt_a).tolist())
    key = s * centers + t
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    first = first[~np.isin(key[first], list(ring_key))][:want]
    src = np.r_[ring_src_a, s[first]]
    tgt = np.r_[ring_tgt_a, t[first]]
    fixed = np.r_[rng.uniform(0.05, 0.3, ring_src_a.size), np.zeros(first.size)]
    if topology == "uniform":
        retention = rng.uniform(0.05, 0.4, centers)
    else:
        retention = np.where(rng.random(centers) < 0.3, 0.0, rng.uniform(0.0, 0.4, centers))
        # Clusters at the very end may have no later target: make sure each sender releases cost.
        has_out = np.zeros(centers, bool)
        has_out[s[first]] = True
        retention = np.where(has_out, retention, np.maximum(retention, 0.1))
    percent = _percents(rng, src, fixed, retention)
    names = np.array([f"R{i:06d}" for i in range(centers)])[order]
    matrix = pd.DataFrame({"source": names[src], "target": names[tgt], "percent": percent})
    costs = _costs(rng, names, 100, 100_000, 0.8)
    return costs, matrix


# --- the command ------------------------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(func):
    gc.collect()
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def _describe(result, seconds: list[float], phases: dict[str, float]) -> str:
    parts = [f"median {np.median(seconds):.3f} s (min {min(seconds):.3f}, max {max(seconds):.3f}, {len(seconds)} runs)"]
    if result.by_origin is not None:
        parts.append(f"by_origin rows {len(result.by_origin):,}")
    largest = int(result.cycles["size"].max()) if len(result.cycles) else 0
    parts.append(f"cycles {len(result.cycles):,} (largest {largest})")
    if result.iteration_count is not None:
        parts.append(f"passes {result.iteration_count} ({'converged' if result.converged else 'NOT converged'})")
    parts.append(f"residual {result.residual:.2e}")
    parts.append("median phases " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    parts.append(f"process peak RSS so far {_peak_mb():,.0f} MB")
    return "; ".join(parts)


def _compare(title: str, costs, matrix, trace_origin: bool, args: argparse.Namespace) -> None:
    print(f"\n{title}: {len(costs):,} cost centers with own cost, {len(matrix):,} matrix rows, "
          f"{'with' if trace_origin else 'without'} origin tracing; RSS before solving {_peak_mb():,.0f} MB")
    methods = {"reciprocal": lambda: solve(costs, matrix, "reciprocal", trace_origin=trace_origin)}
    if not args.skip_iterative:
        methods["iterative"] = lambda: solve(
            costs, matrix, "iterative", trace_origin=trace_origin, trace_iterations=False,
            max_iterations=args.max_passes, tolerance=args.tolerance,
        )
    for func in methods.values():  # warm-up, not timed: first-touch memory would bias the first method
        func()
    runs: dict[str, list] = {name: [] for name in methods}
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for name, func in methods.items():
            runs[name].append(_timed(func))
    summary = {}
    for name, measured in runs.items():
        result = measured[-1][0]
        seconds = [took for _, took in measured]
        phases = {key: float(np.median([r.timings.get(key, 0.0) for r, _ in measured])) for key in result.timings}
        summary[name] = (result, float(np.median(seconds)), phases)
        label = "reciprocal (SCC solve)" if name == "reciprocal" else (
            f"iterative (seed passes, cap {args.max_passes}, tolerance {args.tolerance:g})"
        )
        print(f"  {label}: {_describe(result, seconds, phases)}")
    if "iterative" not in summary:
        return
    (exact, exact_s, exact_phases), (passes, passes_s, passes_phases) = summary["reciprocal"], summary["iterative"]
    diff = int((exact.final_cents - passes.final_cents).abs().max())
    core_exact = exact_phases["structure"] + exact_phases["solve"]
    core_passes = passes_phases["structure"] + passes_phases["solve"]
    print(f"  ratio iterative / reciprocal (medians): {passes_s / exact_s:.2f}x end to end, "
          f"{core_passes / core_exact:.2f}x for the solve itself (structure + solve phases); "
          f"largest final difference {diff} cent(s)")


def _run(args: argparse.Namespace) -> int:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs (load average {load}), Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}, {platform.platform()}")
    print(f"command: {' '.join(sys.argv)}")
    warnings.simplefilter("ignore", MultilevelWarning)
    (costs, matrix), gen_s = _timed(lambda: service_case(args.services, args.finals, args.rows, args.seed, args.mutual))
    _compare(f"service case (generated in {gen_s:.1f} s)", costs, matrix, True, args)
    del costs, matrix
    for topology in args.topology:
        (costs, matrix), gen_s = _timed(lambda: random_case(args.centers, args.random_rows, args.seed, topology))
        _compare(f"random {topology} case (generated in {gen_s:.1f} s)", costs, matrix, False, args)
        del costs, matrix
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `multilevel` to the `allocation benchmark` subcommands."""
    parser = subparsers.add_parser(
        "multilevel",
        help="time the multi-level solver against the seed's iterative passes",
        description="Generate service and random matrices, solve them with the SCC solver and the "
        "iterative passes on the same inputs, and print wall times, ratio and peak memory.",
    )
    parser.add_argument("--services", type=int, default=2000, help="service cost centers (default 2000)")
    parser.add_argument("--finals", type=int, default=50_000, help="final cost objects (default 50000)")
    parser.add_argument("--rows", type=int, default=500_000, help="matrix rows of the service case (default 500000)")
    parser.add_argument("--centers", type=int, default=100_000, help="cost centers of the random case (default 100000)")
    parser.add_argument("--random-rows", type=int, default=1_000_000, help="matrix rows of the random case (default 1000000)")
    parser.add_argument(
        "--topology", nargs="*", choices=["clustered", "uniform"], default=["clustered", "uniform"],
        help="random case shapes: clustered (small cycles, DAG between them), uniform (one giant cycle); none: skip",
    )
    parser.add_argument("--max-passes", type=int, default=1000, help="cap on the iterative passes (default 1000)")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="iterative stop: largest amount moved in a pass (default 1e-6)")
    parser.add_argument(
        "--repeat", type=int, default=3,
        help="timed runs of each method after one warm-up, interleaved; medians are reported (default 3)",
    )
    parser.add_argument(
        "--mutual", type=float, default=None,
        help="service case: share of its total each service sends around its cycle (default: random 2-15%%); "
        "0.9 shows how the iterative passes slow down when cycles keep most of their cost",
    )
    parser.add_argument("--skip-iterative", action="store_true", help="time the SCC solver only")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(func=_run)
    return parser
