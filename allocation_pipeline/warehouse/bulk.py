"""Bulk writes through each backend's native path, partition replacement, and exact money reads.

Frames use `<name>_cents` int64 columns for money; the warehouse column is `<name>` NUMERIC(18,2).
DuckDB: the frame is registered on the driver connection and inserted with INSERT ... SELECT.
PostgreSQL: COPY FROM STDIN through the psycopg connection under the SQLAlchemy transaction, streamed
in chunks of COPY_CHUNK_ROWS rows so a month is never one string in memory.
Anything else (SQLite): executemany of a Core insert.
"""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from allocation_pipeline.core.money import cents_to_text

CENTS_SUFFIX = "_cents"
COPY_CHUNK_ROWS = 100_000


def warehouse_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(frame column, warehouse column) pairs: `debit_cents` is stored as `debit`."""
    return [(c, c[: -len(CENTS_SUFFIX)] if c.endswith(CENTS_SUFFIX) else c) for c in frame.columns]


def bulk_insert(conn: sa.Connection, table: str, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table` inside the connection's transaction."""
    if frame.empty:
        return 0
    dialect = conn.dialect.name
    if dialect == "duckdb":
        _insert_duckdb(conn, table, frame)
    elif dialect == "postgresql":
        _insert_postgres(conn, table, frame)
    else:
        _insert_generic(conn, table, frame)
    return len(frame)


def replace_rows(conn: sa.Connection, table: str, frame: pd.DataFrame, where: Mapping[str, object]) -> int:
    """Replace the rows matching `where` (all rows if empty) with `frame`, in the caller's transaction."""
    statement = sa.delete(sa.table(table, *(sa.column(k) for k in where)))
    for key, value in where.items():
        statement = statement.where(sa.column(key) == sa.bindparam(f"w_{key}", value))
    conn.execute(statement)
    return bulk_insert(conn, table, frame)


def _insert_duckdb(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    raw = conn.connection.driver_connection
    view = f"bulk_{uuid.uuid4().hex}"
    pairs = warehouse_columns(frame)
    raw.register(view, _plain_types(frame))
    try:
        selected = [
            (sa.cast(sa.column(src), sa.Numeric(18, 0)) * sa.literal(Decimal("0.01"), sa.Numeric(3, 2))).label(dst)
            if src != dst
            else sa.column(src)
            for src, dst in pairs
        ]
        target = sa.table(table, *(sa.column(dst) for _, dst in pairs))
        conn.execute(sa.insert(target).from_select([dst for _, dst in pairs], sa.select(*selected).select_from(sa.table(view))))
    finally:
        raw.unregister(view)


def _insert_postgres(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    from psycopg import sql

    pairs = warehouse_columns(frame)
    raw = conn.connection.driver_connection
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT CSV)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(dst) for _, dst in pairs)
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            chunk = frame.iloc[start : start + COPY_CHUNK_ROWS]
            out = pd.DataFrame(index=chunk.index)
            for src, dst in pairs:
                out[dst] = cents_to_text(chunk[src]) if src != dst else chunk[src]
            buffer = io.StringIO()
            # Empty unquoted fields are NULL in PostgreSQL's CSV format; empty strings must be quoted.
            out.to_csv(buffer, index=False, header=False, na_rep="", date_format="%Y-%m-%d")
            copy.write(buffer.getvalue())


def copy_arrow_to_temp_table(backend, arrow):
    """Raw rows (an Arrow table of text columns and `row_number`) into a scratch table of the
    PostgreSQL engine (an Ibis backend), by COPY in chunks; returns it as an Ibis table. The table
    is UNLOGGED and listed in `backend.scratch_tables`, for the engine to drop when done."""
    import pyarrow as pa
    from psycopg import sql

    name = f"raw_{uuid.uuid4().hex[:12]}"
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL("BIGINT" if pa.types.is_integer(f.type) else "TEXT")) for f in arrow.schema
    )
    with backend.con.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(sql.Identifier(name), columns))
    copy_arrow_into(backend.con, name, arrow)
    if not hasattr(backend, "scratch_tables"):
        backend.scratch_tables = []
    backend.scratch_tables.append(name)
    return backend.table(name)


def copy_arrow_into(con, table: str, arrow) -> None:
    """Append an Arrow table's rows to `table` (columns of the same names) of a PostgreSQL
    connection (psycopg) by COPY, in chunks of COPY_CHUNK_ROWS; a null is NULL, an empty text stays ''."""
    copy_batches_into(con, table, arrow.schema.names, arrow.to_batches(max_chunksize=COPY_CHUNK_ROWS))


def copy_batches_into(con, table: str, columns: list[str], batches) -> int:
    """Append Arrow record batches (`columns`, in order) to `table` of a PostgreSQL connection
    (psycopg) by one COPY, a batch at a time, so that no more than a batch is in memory; returns
    the rows copied."""
    import pyarrow.csv as pacsv
    from psycopg import sql

    rows = 0
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    with con.cursor() as cursor:
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT CSV)").format(sql.Identifier(table), names)) as copy:
            for batch in batches:
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
                copy.write(buffer.getvalue())
                rows += batch.num_rows
    return rows


def _insert_generic(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    pairs = warehouse_columns(frame)
    target = sa.table(table, *(sa.column(dst) for _, dst in pairs))
    records = []
    for row in frame.itertuples(index=False, name=None):
        record = {}
        for (src, dst), value in zip(pairs, row):
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                record[dst] = None
            elif src != dst:
                record[dst] = Decimal(int(value)).scaleb(-2)
            elif isinstance(value, pd.Timestamp):
                record[dst] = value.date() if value == value.normalize() else value.to_pydatetime()
            elif isinstance(value, np.generic):
                record[dst] = value.item()
            else:
                record[dst] = value
        records.append(record)
    conn.execute(sa.insert(target), records)


def _plain_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-friendly dtypes for registration (nullable extension types become plain ones)."""
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.BooleanDtype):
            out[column] = out[column].astype(object)
    return out


def read_frame(conn: sa.Connection, statement: sa.TextClause, params: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Run a query and return a frame. Queries select money as `CAST(ROUND(x * 100) AS BIGINT) AS x_cents`."""
    result = conn.execute(statement, dict(params or {}))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
