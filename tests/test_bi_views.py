"""The BI views in `sql/` on a small literal ledger, with the same expected rows on DuckDB and
PostgreSQL (the `warehouse_url` fixture) and on SQLite: v_cost_object_cost (direct + allocated by
cost center of origin, a multi-level run with a retaining service center, a void within the
period that cancels, a void reversed into a later period), v_allocations_by_pool, v_quarantine_summary,
v_document_chain in both directions with its run, and the new columns of v_posted_journal_lines.

The rows are inserted straight into the tables; no pipeline, Dagster or extract is involved.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from allocation_pipeline.warehouse.engine import ensure_schema, make_engine

NOW = dt.datetime(2026, 11, 3, 6, 0, 0)
OCT_END = dt.date(2026, 10, 31)
SEP_END = dt.date(2026, 9, 30)


def _gl(document, line, account, cost_center, debit, credit, product=None):
    return {
        "period": "2026-10", "entity": "EE", "document_id": document, "document_type": "AP_INVOICE", "line": line,
        "posting_date": dt.date(2026, 10, 15), "account": account, "cost_center": cost_center, "product": product, "region": None,
        "debit": Decimal(debit), "credit": Decimal(credit), "currency": "EUR", "description": f"{document} line {line}",
        "source_file": "gl_lines.csv", "row_number": line,
    }


def _run(number, period, status, rule, origin, total, entry=None, reversal=None, document=None):
    return {
        "run_id": f"ALLOC-{number:04d}", "run_number": number, "entity": "EE", "period": period, "run_type": "cost_allocation",
        "rule_id": rule, "method": "fixed_percentages" if rule else None, "origin": origin, "source_document": document,
        "status": status, "currency": "EUR", "pool_amount": Decimal(total), "total_debit": Decimal(total), "total_credit": Decimal(total),
        "fingerprint": f"f{number}", "notes": None, "journal_entry_id": entry, "reversal_entry_id": reversal,
        "dagster_run_id": None, "created_at": NOW, "updated_at": NOW,
    }


# (run, line, role, account, cost center, debit, credit, product)
RUN_LINES = [
    (1, 1, "source", "69100", "EE-IT", "0", "1000.00", None),
    (1, 2, "target", "69000", "EE-ENG", "600.00", "0", None),
    (1, 3, "target", "69000", "EE-SAL", "400.00", "0", None),
    # Multi-level: FAC (own 500) and HR (own 100) pass on; HR keeps 20 of the 150 it ends with.
    (2, 1, "source", "69100", "EE-FAC", "0", "500.00", None),
    (2, 2, "source", "69100", "EE-HR", "0", "80.00", None),
    (2, 3, "target", "69000", "EE-ENG", "310.00", "0", None),
    (2, 4, "target", "69000", "EE-SAL", "270.00", "0", None),
    (3, 1, "source", "61000", "EE-SAL", "0", "120.00", None),
    (3, 2, "target", "61000", "EE-ENG", "120.00", "0", None),
    (4, 1, "source", "61000", "EE-SAL", "0", "120.00", None),
    (4, 2, "target", "61000", "EE-ENG", "72.00", "0", "P1"),
    (4, 3, "target", "61000", "EE-IT", "48.00", "0", None),
    (5, 1, "source", "69100", "EE-IT", "0", "900.00", None),
    (5, 2, "target", "69000", "EE-ENG", "900.00", "0", None),
    (6, 1, "source", "69100", "EE-IT", "0", "50.00", None),
    (6, 2, "target", "69000", "EE-ENG", "50.00", "0", None),
]
# (entry number, period, run, reverses entry number, posting date)
ENTRIES = [(1, "2026-09", 5, None, SEP_END), (2, "2026-10", 1, None, OCT_END), (3, "2026-10", 2, None, OCT_END),
           (4, "2026-10", 3, None, OCT_END), (5, "2026-10", 3, 4, OCT_END), (6, "2026-10", 4, None, OCT_END),
           (7, "2026-10", 5, 1, OCT_END)]


def _entry_id(number):
    return f"EE-CAL{number:06d}"


def literal_ledger() -> dict[str, list[dict]]:
    """A month in which every kind of run and entry the views must handle occurs once."""
    runs = [
        _run(1, "2026-10", "posted", "it_split", "pipeline", "1000.00", _entry_id(2)),
        _run(2, "2026-10", "posted", "services", "multilevel", "580.00", _entry_id(3)),
        _run(3, "2026-10", "voided", None, "submitted", "120.00", _entry_id(4), _entry_id(5), "EE-BILL1"),
        _run(4, "2026-10", "posted", None, "submitted", "120.00", _entry_id(6), None, "EE-BILL1"),
        _run(5, "2026-09", "voided", "it_split", "pipeline", "900.00", _entry_id(1), _entry_id(7)),
        _run(6, "2026-10", "calculated", "late_rule", "pipeline", "50.00"),
    ]
    lines = [
        {"run_id": f"ALLOC-{r:04d}", "line_no": n, "role": role, "account": account, "cost_center": cc, "product": product, "region": None,
         "debit": Decimal(debit), "credit": Decimal(credit), "driver": None, "driver_value": None,
         "share": (float(Decimal(debit)) / 1000.0 if r == 1 and role == "target" else None), "explanation": None}
        for r, n, role, account, cc, debit, credit, product in RUN_LINES
    ]
    entries, journal = [], []
    for number, period, run, reverses, date in ENTRIES:
        run_lines = [l for l in lines if l["run_id"] == f"ALLOC-{run:04d}"]
        total = sum(l["debit"] for l in run_lines)
        entries.append({
            "entry_id": _entry_id(number), "entity": "EE", "period": period, "posting_date": date, "transaction_type": "COST_ALLOCATION",
            "currency": "EUR", "run_id": f"ALLOC-{run:04d}", "reverses_entry_id": _entry_id(reverses) if reverses else None,
            "description": None, "total_debit": total, "total_credit": total, "dagster_run_id": None, "created_at": NOW,
        })
        for l in run_lines:
            debit, credit = (l["credit"], l["debit"]) if reverses else (l["debit"], l["credit"])
            journal.append({"entry_id": _entry_id(number), "line_no": l["line_no"], "account": l["account"], "cost_center": l["cost_center"],
                            "product": l["product"], "region": None, "debit": debit, "credit": credit, "description": None})
    links = [
        ("ALLOC-0005", "allocation_run", _entry_id(1), "journal_entry", "posted_as"),
        (_entry_id(1), "journal_entry", _entry_id(7), "journal_entry", "reversed_by"),
        ("ALLOC-0001", "allocation_run", _entry_id(2), "journal_entry", "posted_as"),
        ("ALLOC-0002", "allocation_run", _entry_id(3), "journal_entry", "posted_as"),
        ("EE-BILL1", "source_document", "ALLOC-0003", "allocation_run", "allocated_by"),
        ("ALLOC-0003", "allocation_run", _entry_id(4), "journal_entry", "posted_as"),
        (_entry_id(4), "journal_entry", _entry_id(5), "journal_entry", "reversed_by"),
        ("EE-BILL1", "source_document", "ALLOC-0004", "allocation_run", "allocated_by"),
        ("ALLOC-0004", "allocation_run", _entry_id(6), "journal_entry", "posted_as"),
    ]
    origins = [("EE-ENG", "EE-FAC", "260.00"), ("EE-ENG", "EE-HR", "50.00"), ("EE-SAL", "EE-FAC", "230.00"),
               ("EE-SAL", "EE-HR", "40.00"), ("EE-HR", "EE-FAC", "10.00"), ("EE-HR", "EE-HR", "10.00")]
    quarantine = [("gl_lines", "2026-10", "gl_lines.csv", 5, "debit", "x", "not an amount"),
                  ("gl_lines", "2026-10", "gl_lines.csv", 7, "debit", "y", "not an amount"),
                  ("gl_lines", "2026-10", "gl_lines.csv", 5, "account", "99999", "unknown account"),
                  ("accounts", "", "accounts.csv", 3, "type", "cost", "unknown type"),
                  # Repetitions of keys: one group per key in the summary, whatever row each repeats.
                  ("gl_lines", "2026-10", "gl_lines.csv", 9, None, "EE / D1 / 1", "duplicate entity, document_id, line (first at row 1)"),
                  ("gl_lines", "2026-10", "gl_lines.csv", 11, None, "EE / D4 / 2", "duplicate entity, document_id, line (first at row 10)"),
                  ("accounts", "", "accounts.csv", 4, "account", "60002", "duplicate account (first at row 2)"),
                  # Any other reason is kept as it is, a closing bracket included.
                  ("gl_lines", "2026-10", "gl_lines.csv", 8, "debit", "(1)", "not an amount (at most 16 digits and two decimal places)")]
    return {
        "dim_entities": [{"entity": "EE", "name": "Northwind Baltics", "currency": "EUR"}],
        "dim_accounts": [
            {"account": a, "name": n, "type": t, "active": True}
            for a, n, t in [("2000", "Payables", "liability"), ("40000", "Sales", "revenue"), ("60000", "Rent", "expense"),
                            ("61000", "Travel", "expense"), ("64000", "IT services", "expense"), ("69000", "Allocated in", "expense"),
                            ("69100", "Allocated out", "expense")]
        ],
        "dim_cost_centers": [
            {"cost_center": c, "name": n, "entity": "EE", "kind": k, "function": None, "parent": None, "active": True}
            for c, n, k in [("EE-IT", "IT", "support"), ("EE-FAC", "Facilities", "support"), ("EE-HR", "HR", "support"),
                            ("EE-ENG", "Engineering", "operating"), ("EE-SAL", "Sales", "operating")]
        ],
        "dim_dimension_members": [{"dimension": "product", "member": "P1", "name": "Product one", "active": True}],
        "gl_lines": [
            _gl("EE-ITMS", 1, "64000", "EE-IT", "1000.00", "0"), _gl("EE-ITMS", 2, "2000", "EE-IT", "0", "1000.00"),
            _gl("EE-RENT", 1, "60000", "EE-FAC", "500.00", "0"), _gl("EE-HRSW", 1, "60000", "EE-HR", "100.00", "0"),
            _gl("EE-LAB", 1, "60000", "EE-ENG", "200.00", "0", product="P1"), _gl("EE-INV", 1, "40000", "EE-SAL", "0", "300.00"),
            _gl("EE-BILL1", 1, "61000", "EE-SAL", "120.00", "0"), _gl("EE-BILL1", 2, "2000", "EE-SAL", "0", "120.00"),
        ],
        "allocation_runs": runs,
        "allocation_lines": lines,
        "journal_entries": entries,
        "journal_lines": journal,
        "document_links": [
            {"from_document": f, "from_type": ft, "to_document": t, "to_type": tt, "link_type": lt, "created_at": NOW}
            for f, ft, t, tt, lt in links
        ],
        "multilevel_origins": [
            {"period": "2026-10", "entity": "EE", "run_id": "ALLOC-0002", "cost_center": c, "origin": o, "amount": Decimal(a)}
            for c, o, a in origins
        ],
        "quarantine": [
            {"extract": e, "partition_key": p, "source_file": f, "row_number": r, "column_name": c, "bad_value": v, "reason": why,
             "dagster_run_id": None, "quarantined_at": NOW}
            for e, p, f, r, c, v, why in quarantine
        ],
    }


# v_cost_object_cost: (period, cost center, product, component, run, rule, origin, amount)
EXPECTED_COST = sorted([
    ("2026-09", "EE-ENG", None, "allocated", "ALLOC-0005", "it_split", "EE-IT", 90000),
    ("2026-09", "EE-IT", None, "allocated", "ALLOC-0005", "it_split", "EE-IT", -90000),
    ("2026-10", "EE-ENG", "P1", "direct", None, None, "EE-ENG", 20000),
    ("2026-10", "EE-FAC", None, "direct", None, None, "EE-FAC", 50000),
    ("2026-10", "EE-HR", None, "direct", None, None, "EE-HR", 10000),
    ("2026-10", "EE-IT", None, "direct", None, None, "EE-IT", 100000),
    ("2026-10", "EE-SAL", None, "direct", None, None, "EE-SAL", 12000),
    ("2026-10", "EE-IT", None, "allocated", "ALLOC-0001", "it_split", "EE-IT", -100000),
    ("2026-10", "EE-ENG", None, "allocated", "ALLOC-0001", "it_split", "EE-IT", 60000),
    ("2026-10", "EE-SAL", None, "allocated", "ALLOC-0001", "it_split", "EE-IT", 40000),
    ("2026-10", "EE-ENG", None, "allocated", "ALLOC-0002", "services", "EE-FAC", 26000),
    ("2026-10", "EE-ENG", None, "allocated", "ALLOC-0002", "services", "EE-HR", 5000),
    ("2026-10", "EE-SAL", None, "allocated", "ALLOC-0002", "services", "EE-FAC", 23000),
    ("2026-10", "EE-SAL", None, "allocated", "ALLOC-0002", "services", "EE-HR", 4000),
    ("2026-10", "EE-HR", None, "allocated", "ALLOC-0002", "services", "EE-FAC", 1000),
    ("2026-10", "EE-HR", None, "allocated", "ALLOC-0002", "services", "EE-HR", -9000),
    ("2026-10", "EE-FAC", None, "allocated", "ALLOC-0002", "services", "EE-FAC", -50000),
    ("2026-10", "EE-SAL", None, "allocated", "ALLOC-0004", None, "EE-SAL", -12000),
    ("2026-10", "EE-ENG", "P1", "allocated", "ALLOC-0004", None, "EE-SAL", 7200),
    ("2026-10", "EE-IT", None, "allocated", "ALLOC-0004", None, "EE-SAL", 4800),
    ("2026-10", "EE-IT", None, "allocated", "ALLOC-0005", "it_split", "EE-IT", 90000),
    ("2026-10", "EE-ENG", None, "allocated", "ALLOC-0005", "it_split", "EE-IT", -90000),
], key=lambda r: tuple("" if v is None else str(v) for v in r))

# v_allocations_by_pool: (pool, run, source cost center, source account, cost center, product, amount, share)
EXPECTED_BY_POOL = [
    ("it_split", "ALLOC-0001", "EE-IT", "69100", "EE-ENG", None, 60000, 0.6),
    ("it_split", "ALLOC-0001", "EE-IT", "69100", "EE-SAL", None, 40000, 0.4),
    ("services", "ALLOC-0002", None, "69100", "EE-ENG", None, 31000, None),
    ("services", "ALLOC-0002", None, "69100", "EE-SAL", None, 27000, None),
    ("EE-BILL1", "ALLOC-0004", "EE-SAL", "61000", "EE-ENG", "P1", 7200, None),
    ("EE-BILL1", "ALLOC-0004", "EE-SAL", "61000", "EE-IT", None, 4800, None),
]

# v_quarantine_summary: (extract, period, file, column, reason, problems, rows, first row, last row)
EXPECTED_QUARANTINE = [
    ("accounts", None, "accounts.csv", "account", "duplicate account", 1, 1, 4, 4),
    ("accounts", None, "accounts.csv", "type", "unknown type", 1, 1, 3, 3),
    ("gl_lines", "2026-10", "gl_lines.csv", None, "duplicate entity, document_id, line", 2, 2, 9, 11),
    ("gl_lines", "2026-10", "gl_lines.csv", "account", "unknown account", 1, 1, 5, 5),
    ("gl_lines", "2026-10", "gl_lines.csv", "debit", "not an amount", 2, 2, 5, 7),
    ("gl_lines", "2026-10", "gl_lines.csv", "debit", "not an amount (at most 16 digits and two decimal places)", 1, 1, 8, 8),
]


def _balances(gl_lines: list[dict]) -> list[dict]:
    """gl_balances as the gl_lines asset writes them: the month's lines summed by the balance keys."""
    sums: dict[tuple, dict] = {}
    for g in gl_lines:
        key = (g["period"], g["entity"], g["account"], g["cost_center"], g["product"], g["region"], g["currency"])
        row = sums.setdefault(key, dict(zip(("period", "entity", "account", "cost_center", "product", "region", "currency"), key),
                                        debit=Decimal(0), credit=Decimal(0), lines=0))
        row["debit"] += g["debit"]
        row["credit"] += g["credit"]
        row["lines"] += 1
    return [{**row, "balance": row["debit"] - row["credit"]} for row in sums.values()]


def load(url: str, tables: dict[str, list[dict]]) -> None:
    if "gl_lines" in tables and "gl_balances" not in tables:
        tables = {**tables, "gl_balances": _balances(tables["gl_lines"])}
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            for table, rows in tables.items():
                conn.execute(sa.insert(sa.table(table, *(sa.column(c) for c in rows[0]))), rows)
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(_plain(v) for v in row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _plain(value):
    """Driver types made comparable across backends: numbers as int or rounded float, NaN as None."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return None if pd.isna(value) else round(value, 6)
    return value


def _sorted(result: list[tuple]) -> list[tuple]:
    return sorted(result, key=lambda r: tuple("" if v is None else str(v) for v in r))


@pytest.fixture
def ledger_url(warehouse_url: str) -> str:
    load(warehouse_url, literal_ledger())
    return warehouse_url


@pytest.fixture
def sqlite_ledger_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    load(url, literal_ledger())
    return url


COST_SQL = (
    "SELECT period, cost_center, product, component, run_id, rule_id, origin, CAST(ROUND(amount * 100) AS BIGINT) AS cents "
    "FROM v_cost_object_cost WHERE entity = 'EE'"
)
BY_POOL_SQL = (
    "SELECT pool, run_id, source_cost_center, source_account, cost_center, product, CAST(ROUND(amount * 100) AS BIGINT), share "
    "FROM v_allocations_by_pool ORDER BY run_id, line_no"
)
QUARANTINE_SQL = (
    "SELECT extract, period, source_file, column_name, reason, problems, rows_quarantined, first_row, last_row FROM v_quarantine_summary"
)


def _check_views(url: str) -> None:
    assert _sorted(rows(url, COST_SQL)) == EXPECTED_COST
    assert rows(url, BY_POOL_SQL) == EXPECTED_BY_POOL
    assert _sorted(rows(url, QUARANTINE_SQL)) == EXPECTED_QUARANTINE


def test_views_give_the_same_rows_on_each_backend(ledger_url):
    _check_views(ledger_url)


def test_views_give_the_same_rows_on_sqlite(sqlite_ledger_url):
    _check_views(sqlite_ledger_url)


def test_cost_object_cost_reconciles_with_the_gl_and_the_posted_journal_lines(ledger_url):
    after = dict(rows(ledger_url, "SELECT cost_center, CAST(ROUND(SUM(amount) * 100) AS BIGINT) FROM v_cost_object_cost "
                                  "WHERE period = '2026-10' GROUP BY cost_center"))
    direct = dict(rows(ledger_url, "SELECT g.cost_center, CAST(ROUND(SUM(g.debit - g.credit) * 100) AS BIGINT) FROM gl_lines g "
                                   "JOIN dim_accounts a ON a.account = g.account WHERE a.type = 'expense' GROUP BY g.cost_center"))
    posted = dict(rows(ledger_url, "SELECT l.cost_center, CAST(ROUND(SUM(l.debit - l.credit) * 100) AS BIGINT) FROM journal_lines l "
                                   "JOIN journal_entries e ON e.entry_id = l.entry_id WHERE e.period = '2026-10' GROUP BY l.cost_center"))
    expected = {cc: direct.get(cc, 0) + posted.get(cc, 0) for cc in set(direct) | set(posted)}
    assert after == expected
    assert after["EE-FAC"] == 0  # facilities passed on everything
    # What HR keeps after the multi-level allocation: own 100.00, passed on 80.00.
    assert after["EE-HR"] == 2000
    # Allocations move cost between cost centers; they neither make nor lose any.
    assert sum(after.values()) == sum(direct.values())


def test_the_document_chain_reads_both_ways_and_whole_through_its_run(ledger_url):
    from_reversal = rows(
        ledger_url,
        "SELECT related_document, relation, direction, run_id FROM v_document_chain WHERE document = 'EE-CAL000005'",
    )
    assert from_reversal == [("EE-CAL000004", "reversed_by", "upstream", "ALLOC-0003")]
    whole = rows(
        ledger_url,
        "SELECT document, relation, related_document FROM v_document_chain WHERE direction = 'downstream' AND run_id IN "
        "(SELECT run_id FROM v_document_chain WHERE document = 'EE-CAL000005')",
    )
    assert _sorted(whole) == [
        ("ALLOC-0003", "posted_as", "EE-CAL000004"),
        ("EE-BILL1", "allocated_by", "ALLOC-0003"),
        ("EE-CAL000004", "reversed_by", "EE-CAL000005"),
    ]
    from_document = rows(ledger_url, "SELECT related_document, run_id FROM v_document_chain WHERE document = 'EE-BILL1'")
    assert _sorted(from_document) == [("ALLOC-0003", "ALLOC-0003"), ("ALLOC-0004", "ALLOC-0004")]


def test_posted_journal_lines_carry_every_dimension_and_the_run(ledger_url):
    result = rows(
        ledger_url,
        "SELECT entry_id, line_no, entry_kind, run_status, run_origin, cost_center_name, cost_center_kind, product, product_name, "
        "account_name, account_type, CAST(ROUND(net_amount * 100) AS BIGINT) FROM v_posted_journal_lines "
        "WHERE entry_id IN ('EE-CAL000005', 'EE-CAL000006') ORDER BY entry_id, line_no",
    )
    assert result == [
        ("EE-CAL000005", 1, "reversal", "voided", "submitted", "Sales", "operating", None, None, "Travel", "expense", 12000),
        ("EE-CAL000005", 2, "reversal", "voided", "submitted", "Engineering", "operating", None, None, "Travel", "expense", -12000),
        ("EE-CAL000006", 1, "entry", "posted", "submitted", "Sales", "operating", None, None, "Travel", "expense", -12000),
        ("EE-CAL000006", 2, "entry", "posted", "submitted", "Engineering", "operating", "P1", "Product one", "Travel", "expense", 7200),
        ("EE-CAL000006", 3, "entry", "posted", "submitted", "IT", "support", None, None, "Travel", "expense", 4800),
    ]
