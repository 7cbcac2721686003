"""Console benchmark: a period of N generated GL lines materialized into a fresh warehouse, plus
10,000 allocation runs and one run of 5,000 lines, then the console's pages served in-process
(targets: runs list first page <= 200 ms, run detail of 5,000 lines <= 300 ms, period page of a
1M-line month <= 1 s). Each page is compared with its floor: the store reads it makes, alone.
The run detail shows its first page of lines (LINES_PAGE_SIZE) with totals over all lines; it is
also timed with all of its lines on one page."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

TARGETS_MS = {"runs list, first page": 200.0, "run detail, large run": 300.0, "period page": 1000.0}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "console",
        help="time the console's runs list, run detail and period page",
        description="Generates a one-period sample company with N GL lines, materializes the period into a fresh "
        "DuckDB warehouse (or --warehouse-url), adds --runs allocation runs and one run of --lines lines, then "
        "requests each page --repeat times in-process after a warm-up and prints the median against the "
        "target and against the store reads alone (the floor).",
    )
    parser.add_argument("--gl-lines", type=int, default=1_000_000, help="GL lines in the period (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=10_000, help="allocation runs to add (default 10,000)")
    parser.add_argument("--lines", type=int, default=5_000, help="lines of the one large run (default 5,000)")
    parser.add_argument("--period", default="2026-10", help="the generated month the pages show (default 2026-10)")
    parser.add_argument("--repeat", type=int, default=7, help="requests per page after a warm-up; the median is reported (default 7)")
    parser.add_argument("--warehouse-url", help="SQLAlchemy URL of an empty warehouse instead of a temporary DuckDB file")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated company (default 7)")
    parser.set_defaults(func=_run)


def _median_ms(action, repeat: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _add_runs(conn, period: str, entity: str, currency: str, count: int, lines: int) -> str:
    """`count` calculated runs spread over 24 months and two rules, and one run of `lines` lines."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    from allocation_pipeline.warehouse.bulk import bulk_insert

    now = dt.datetime(2026, 11, 1)
    months = pd.period_range(end=period, periods=24, freq="M").astype(str)
    numbers = np.arange(100_000, 100_000 + count)
    runs = pd.DataFrame({
        "run_id": [f"ALLOC-{n}" for n in numbers], "run_number": numbers, "entity": entity, "period": months[numbers % 24],
        "run_type": "cost_allocation", "rule_id": np.where(numbers % 2 == 0, "bench_rule_a", "bench_rule_b"), "method": "even_split",
        "origin": "submitted", "source_document": None, "status": np.where(numbers % 3 == 0, "calculated", "rejected"),
        "currency": currency, "pool_amount_cents": (numbers % 997) * 100 + 1, "total_debit_cents": (numbers % 997) * 100 + 1,
        "total_credit_cents": (numbers % 997) * 100 + 1, "fingerprint": "bench", "notes": None, "journal_entry_id": None,
        "reversal_entry_id": None, "dagster_run_id": None, "created_at": now, "updated_at": now,
    })
    bulk_insert(conn, "allocation_runs", runs)
    big = runs.iloc[[0]].assign(period=period, status="calculated")
    big_id = "ALLOC-BIG"
    bulk_insert(conn, "allocation_runs", big.assign(run_id=big_id, run_number=99_999))
    line_no = np.arange(1, lines + 1)
    bulk_insert(conn, "allocation_lines", pd.DataFrame({
        "run_id": big_id, "line_no": line_no, "role": np.where(line_no == 1, "source", "target"), "account": "69000",
        "cost_center": [f"{entity}-BENCH{n % 50:02d}" for n in line_no], "product": None, "region": None,
        "debit_cents": np.where(line_no == 1, 0, 100), "credit_cents": np.where(line_no == 1, (lines - 1) * 100, 0),
        "driver": "bench", "driver_value": 1.0, "share": 1.0 / (lines - 1), "explanation": "benchmark line",
    }))
    history = pd.DataFrame({"run_id": runs["run_id"], "seq": 1, "from_status": None, "to_status": "calculated", "changed_at": now,
                            "changed_by": "benchmark", "reason": "benchmark run", "reversed": False})
    bulk_insert(conn, "allocation_run_history", history)
    return big_id


def _run(args: argparse.Namespace) -> int:
    import dagster as dg
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from allocation_pipeline.benchmarks import one_period_company
    from allocation_pipeline.console.app import Settings, create_app
    from allocation_pipeline.defs.definitions import build_definitions
    from allocation_pipeline.defs.partitions import partition_key_of
    from allocation_pipeline.reporting import run_failures
    from allocation_pipeline.warehouse import console_store, ledger_store, people_store
    from allocation_pipeline.warehouse.report_store import read_report_data

    with tempfile.TemporaryDirectory(prefix="allocation-console-benchmark-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        summary, resources = one_period_company(
            root, seed=args.seed, period=args.period, gl_lines=args.gl_lines, file_format="parquet", warehouse_url=args.warehouse_url
        )
        assets = [a for a in build_definitions().assets if "period_report" not in {k.to_user_string() for k in a.keys}]
        os.environ.pop("DAGSTER_HOME", None)
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(assets, partition_key=partition_key_of(args.period), instance=instance, resources=resources, raise_on_error=False)
        failures = run_failures(result)
        if failures:
            print("Preparing the period failed:\n  " + "\n  ".join(failures))
            return 1
        url = resources["warehouse"].url
        app = create_app(Settings(url), secret_key="benchmark")
        engine = app.state.engine
        with engine.begin() as conn:
            entity, currency = conn.execute(sa.text("SELECT entity, currency FROM dim_entities ORDER BY entity")).fetchall()[0]
            big = _add_runs(conn, args.period, entity, currency, args.runs, args.lines)
            people_store.create_user(conn, "bench.viewer", "viewer", "benchmark password", created_by="benchmark")
            total_runs = conn.execute(sa.text("SELECT COUNT(*) FROM allocation_runs")).scalar_one()
        prepared = time.perf_counter() - started
        browser = TestClient(app, base_url="http://console.bench")
        csrf = browser.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        browser.post("/login", data={"name": "bench.viewer", "password": "benchmark password", "csrf_token": csrf})

        def page(path: str):
            def get():
                response = browser.get(path)
                assert response.status_code == 200, (path, response.status_code)
            return get

        def floor(action):
            """The page's store reads alone, in one connection as the page makes them (the user too)."""
            def read():
                with engine.connect() as conn:
                    people_store.get_user(conn, "bench.viewer")
                    action(conn)
            return read

        def all_lines_on_one_page(serve):
            """The run detail with every line on one page: the cost of rendering all of them."""
            def get():
                shown, console_store.LINES_PAGE_SIZE = console_store.LINES_PAGE_SIZE, args.lines
                try:
                    serve()
                finally:
                    console_store.LINES_PAGE_SIZE = shown
            return get

        def run_reads(page_size=None):
            return floor(lambda c: (
                ledger_store.get_run(c, big), console_store.run_lines_page(c, big, page_size=page_size),
                ledger_store.run_history(c, big), people_store.preparer_of_run(c, big),
            ))

        cases = [
            ("runs list, first page", page("/runs"), floor(lambda c: console_store.runs_page(c, {}))),
            ("run detail, large run", page(f"/runs/{big}"), run_reads()),
            ("run detail, all lines", all_lines_on_one_page(page(f"/runs/{big}")), run_reads(args.lines)),
            ("period page", page(f"/periods/{args.period}/{entity}"), floor(lambda c: read_report_data(c, args.period, entity))),
        ]
        print(f"GL lines:     {summary.row_counts.get('gl_lines', args.gl_lines):,} in {args.period}; {total_runs:,} allocation runs; "
              f"one run of {args.lines:,} lines (prepared in {prepared:.1f} s, not counted)")
        print(f"Warehouse:    {url.split('://')[0]}; pages served in-process (no network), median of {args.repeat}")
        failed = False
        for name, serve, read in cases:
            served, floor_ms = _median_ms(serve, args.repeat), _median_ms(read, args.repeat)
            target = TARGETS_MS.get(name)
            failed |= target is not None and served > target
            judged = f"target {target:.0f} ms" if target is not None else "no target: for comparison"
            print(f"  {name:26s} {served:8.1f} ms  ({judged}; store reads alone {floor_ms:.1f} ms, ratio {served / floor_ms:.2f})")
        engine.dispose()
    return 1 if failed else 0
