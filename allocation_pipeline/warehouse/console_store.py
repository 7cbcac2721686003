"""What the console reads that the CLI does not: a page of runs (filters, sorting, paging), a
document's lines and the runs that allocated it, periods and quarantine lists.

The runs page is built with SQLAlchemy Core: filter values are bound parameters and the sort
column comes from a fixed list, so nothing from the request ever becomes SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import sql_text
from allocation_pipeline.warehouse.lines import LineEngine, ap_document_lines, document_detail_lines, ledger_lines

RUNS = sa.table(
    "allocation_runs",
    *(sa.column(c) for c in (
        "run_id", "run_number", "entity", "period", "run_type", "rule_id", "origin", "source_document", "status",
        "currency", "total_debit", "journal_entry_id", "reversal_entry_id", "created_at", "updated_at",
    )),
)
FILTERS = {"entity": RUNS.c.entity, "status": RUNS.c.status, "type": RUNS.c.run_type, "period": RUNS.c.period, "rule": RUNS.c.rule_id}
SORTS = {
    "run": RUNS.c.run_number, "period": RUNS.c.period, "entity": RUNS.c.entity, "type": RUNS.c.run_type, "rule": RUNS.c.rule_id,
    "status": RUNS.c.status, "amount": RUNS.c.total_debit, "updated": RUNS.c.updated_at,
}
PAGE_SIZE = 50
# A run's lines are shown this many to a page: a person reads a thousand lines at most, and a
# page of them stays quick to serve; the totals are always over all lines.
LINES_PAGE_SIZE = 1000


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs list: its rows, how many runs match, and the choices for each filter."""

    runs: pd.DataFrame
    total: int
    page: int
    pages: int
    options: dict[str, list[str]]


def runs_page(conn: sa.Connection, filters: dict[str, str], sort: str = "run", descending: bool = True, page: int = 1, page_size: int = PAGE_SIZE) -> RunsPage:
    """Runs matching `filters` (keys of FILTERS; empty values ignored), sorted by a key of SORTS
    (then by run number), page `page` (1-based) of `page_size`."""
    conditions = [FILTERS[k] == sa.bindparam(f"f_{k}", v, type_=sa.String) for k, v in filters.items() if k in FILTERS and v]
    where = sa.and_(sa.true(), *conditions)
    total = conn.execute(sa.select(sa.func.count()).select_from(RUNS).where(where)).scalar_one()
    pages = max(1, -(-int(total) // page_size))
    page = min(max(1, page), pages)
    column = SORTS.get(sort, RUNS.c.run_number)
    order = [column.desc() if descending else column.asc()]
    if column is not RUNS.c.run_number:
        order.append(RUNS.c.run_number.desc() if descending else RUNS.c.run_number.asc())
    statement = (
        sa.select(
            RUNS.c.run_id, RUNS.c.entity, RUNS.c.period, RUNS.c.run_type, RUNS.c.rule_id, RUNS.c.origin, RUNS.c.source_document,
            RUNS.c.status, RUNS.c.currency, sa.cast(sa.func.round(RUNS.c.total_debit * 100), sa.BigInteger).label("total_debit_cents"),
            RUNS.c.journal_entry_id, RUNS.c.reversal_entry_id, RUNS.c.updated_at,
        )
        .where(where)
        .order_by(*order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    result = conn.execute(statement)
    runs = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    facets = conn.execute(
        sa.select(RUNS.c.entity, RUNS.c.status, RUNS.c.run_type, RUNS.c.period, RUNS.c.rule_id).distinct()
    ).fetchall()
    options = {
        "entity": sorted({r.entity for r in facets}),
        "status": sorted({r.status for r in facets}),
        "type": sorted({r.run_type for r in facets}),
        "period": sorted({r.period for r in facets}, reverse=True),
        "rule": sorted({r.rule_id for r in facets if r.rule_id}),
    }
    return RunsPage(runs, int(total), page, pages, options)


@dataclass(frozen=True)
class LinesPage:
    """One page of a run's lines (with account and cost center names) and the run's totals over
    all its lines, whichever page is shown. `first` and `last` are 1-based positions (0 and 0
    when the run has no lines)."""

    lines: pd.DataFrame
    count: int
    debit_cents: int
    credit_cents: int
    page: int
    pages: int
    first: int
    last: int


def run_lines_page(conn: sa.Connection, run_id: str, page: int = 1, page_size: int | None = None) -> LinesPage:
    """Page `page` (1-based, clamped to the pages there are) of `page_size` lines of `run_id`,
    in line order; LINES_PAGE_SIZE when `page_size` is None."""
    page_size = page_size or LINES_PAGE_SIZE
    totals = conn.execute(sql_text("select_run_line_totals"), {"run_id": run_id}).one()
    count = int(totals.lines)
    pages = max(1, -(-count // page_size))
    page = min(max(1, page), pages)
    offset = (page - 1) * page_size
    lines = read_frame(conn, sql_text("select_run_lines_page"), {"run_id": run_id, "limit": page_size, "offset": offset})
    return LinesPage(
        lines, count, int(totals.debit_cents), int(totals.credit_cents), page, pages,
        offset + 1 if count else 0, offset + len(lines),
    )


def document_lines(conn: sa.Connection, document_id: str, lines: LineEngine | None = None) -> pd.DataFrame:
    """A GL document's lines with account names (empty when the GL does not hold it); the lines
    come from the engine (`lines`, default the one behind the ledger), the names from the ledger."""
    with ledger_lines(conn, lines) as engine:
        found = document_detail_lines(engine, document_id)
    names = read_frame(conn, sql_text("select_account_names"))
    found.insert(found.columns.get_loc("account") + 1, "account_name", found["account"].map(dict(zip(names["account"].astype(str), names["name"]))))
    return found


def ap_invoice_lines(conn: sa.Connection, document_id: str, lines: LineEngine | None = None) -> pd.DataFrame:
    """An AP invoice's lines, from the engine (`lines`, default the one behind the ledger)."""
    with ledger_lines(conn, lines) as engine:
        return ap_document_lines(engine, document_id)


def runs_of_document(conn: sa.Connection, document_id: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_runs_of_document"), {"document_id": document_id})


def journal_entry(conn: sa.Connection, entry_id: str):
    return conn.execute(sql_text("select_journal_entry"), {"entry_id": entry_id}).first()


def journal_lines(conn: sa.Connection, entry_id: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_journal_lines"), {"entry_id": entry_id})


def periods(conn: sa.Connection) -> pd.DataFrame:
    """Entity and period pairs that have runs, newest first."""
    return read_frame(conn, sql_text("select_console_periods"))


def quarantine_extracts(conn: sa.Connection) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_quarantine_extracts"))


def quarantine_rows(conn: sa.Connection, extract: str, partition_key: str) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_quarantine_rows"), {"extract": extract, "partition_key": partition_key})
