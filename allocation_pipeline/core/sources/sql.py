"""SQL sources: an extract read from a table, view or query through Ibis, as a raw table of text
columns plus the row's place (`source_file` naming the source and its key values, `row_number`
its position in key order): the shape the cleaning takes, built lazily in the source database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend
from ibis.common.exceptions import TableNotFound
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS
from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.sources.config import SourcesError, SqlSource

# SQLAlchemy backend names and the Ibis backend serving each (the URL form follows the warehouse's).
_BACKENDS = {"postgresql": "postgres", "duckdb": "duckdb", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql",
             "mssql": "mssql", "oracle": "oracle", "snowflake": "snowflake", "trino": "trino", "bigquery": "bigquery"}
# A source that does not answer fails the asset quickly instead of hanging the month.
CONNECT_TIMEOUT_SECONDS = 10
STREAM_CHUNK_ROWS = 100_000


def describe_source(source: SqlSource) -> str:
    """The URL without its password, and the table or 'query', for messages."""
    try:
        url = make_url(source.url).render_as_string(hide_password=True)
    except ArgumentError:
        url = "(unparseable URL)"
    return f"{url} {source.label}"


def connect(source: SqlSource, extract: str) -> BaseBackend:
    """An Ibis connection to the source's database; SourcesError when it cannot be reached."""
    where = f"{extract} (sql {describe_source(source)})"
    try:
        url = make_url(source.url)
    except ArgumentError:
        raise SourcesError(where, "not a database URL (expected e.g. postgresql+psycopg://user@host:5432/db)") from None
    backend_name = _BACKENDS.get(url.get_backend_name())
    if backend_name is None:
        raise SourcesError(where, f"no Ibis backend for '{url.get_backend_name()}' databases (known: {', '.join(sorted(_BACKENDS))})")
    try:
        backend = getattr(ibis, backend_name)
    except (AttributeError, ImportError) as exc:
        raise SourcesError(where, f"the Ibis {backend_name} backend is not installed: pip install 'ibis-framework[{backend_name}]' ({exc})") from None
    options = {k: v for k, v in url.query.items() if isinstance(v, str)}
    try:
        if backend_name == "duckdb":
            read_only = options.pop("read_only", "false").lower() in ("1", "true", "yes")
            return backend.connect(url.database or ":memory:", read_only=read_only, **options)
        if backend_name == "sqlite":
            return backend.connect(url.database or None)
        if backend_name == "postgres":
            options.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        return backend.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, database=url.database, **options
        )
    except Exception as exc:  # each driver raises its own error types for a refused or failed connection
        raise SourcesError(where, f"database cannot be reached ({_first_line(exc)})") from None


def raw_table(
    source: SqlSource,
    extract: str,
    required: list[str],
    optional: list[str] = (),
    period: str | None = None,
    con: BaseBackend | None = None,
) -> ir.Table:
    """The extract as an Ibis expression in the source database: each file column of the extract
    as text (an optional column the source lacks is NULL), `source_file` = the source and the
    row's key values, `row_number` = 1-based position in key order. Nothing is read yet.

    With `period` and the source's `period_column`, only that month's rows are selected there.
    Raises SourcesError naming the source for a missing table or column.
    """
    con = con or connect(source, extract)
    where = f"{extract} (sql {describe_source(source)})"
    table = _source_table(con, source, where)
    available = set(table.columns)
    mapped = {column: source.columns.get(column, column) for column in list(required) + list(optional)}
    key = source.key or [mapped.get(c, c) for c in _unique_key(extract)]
    missing = [f"{c}" + (f" (as {mapped[c]})" if mapped[c] != c else "") for c in required if mapped[c] not in available]
    missing += [f"key column {k}" for k in key if k not in available]
    if source.period_column and source.period_column not in available:
        missing.append(f"period_column {source.period_column}")
    if missing:
        found = ", ".join(table.columns) or "none"
        raise SourcesError(where, f"missing column(s) {', '.join(missing)} (found: {found})")
    unknown = sorted(set(source.columns) - set(mapped))
    if unknown:
        raise SourcesError(where, f"'columns' maps {', '.join(unknown)}, which {extract} does not have (columns: {', '.join(mapped)})")
    if not key:
        raise SourcesError(where, "give 'key': the source columns that identify a row")
    if period is not None and source.period_column:
        table = table.filter(_in_period(table[source.period_column], period, where))

    dates = _date_columns(extract)
    columns = {}
    for column, name in mapped.items():
        if name not in available:
            columns[column] = ibis.null().cast("string")
            continue
        value = table[name]
        if column in dates and value.type().is_timestamp():
            value = value.date()  # a timestamp's text carries the time, which the date parser refuses
        columns[column] = value.cast("string")
    location = ibis.literal(f"{source.label}[")
    for position, name in enumerate(key):
        separator = "" if position == 0 else ", "
        location = location + ibis.literal(f"{separator}{name}=") + table[name].cast("string").fill_null("NULL")
    columns["source_file"] = location + ibis.literal("]")
    columns["row_number"] = (ibis.row_number().over(order_by=[table[k] for k in key]) + 1).cast("int64")
    return table.select(**columns)


def read_sql_extract(
    source: SqlSource, extract: str, required: list[str], optional: list[str] = (), period: str | None = None
) -> RawExtract:
    """A small extract from a SQL source, read whole into pandas (master data, drivers, the matrix)."""
    con = connect(source, extract)
    try:
        expression = raw_table(source, extract, required, optional, period, con=con)
        try:
            frame = expression.to_pandas()
        except Exception as exc:  # the database's own error for a query that fails when run
            raise SourcesError(f"{extract} (sql {describe_source(source)})", f"reading failed ({_first_line(exc)})") from None
    finally:
        con.disconnect()
    frame = frame.sort_values("row_number", ignore_index=True)
    return RawExtract(extract=extract, frame=frame, files=[describe_source(source)])


def record_batches(expression: ir.Table, chunk_rows: int = STREAM_CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
    """The expression's rows in record batches, never the whole result at once."""
    backend = expression._find_backend()
    if backend.name == "duckdb":
        # Ibis 12 calls DuckDBPyConnection.fetch_record_batch, which DuckDB 2 renamed to_arrow_reader.
        sql = ibis.to_sql(expression, dialect="duckdb")
        yield from backend.con.sql(sql).to_arrow_reader(chunk_rows)
        return
    yield from expression.to_pyarrow_batches(chunk_size=chunk_rows)


def copy_into(expression: ir.Table, target: BaseBackend, name: str, where: str, chunk_rows: int = STREAM_CHUNK_ROWS) -> int:
    """Stream a source expression into table `name` of another database (the engine) in chunks.

    The rows land in a staging table renamed to `name` only when every chunk arrived, so a source
    that fails midway leaves nothing behind. Returns the number of rows copied.
    """
    staging = f"{name}__loading"
    drop_table(target, staging)
    target.create_table(staging, schema=expression.schema())
    copied = 0
    try:
        for batch in record_batches(expression, chunk_rows):
            if batch.num_rows:
                _append(target, staging, pa.Table.from_batches([batch]))
                copied += batch.num_rows
    except Exception as exc:
        drop_table(target, staging)
        raise SourcesError(where, f"reading failed after {copied} row(s); nothing was loaded ({_first_line(exc)})") from None
    drop_table(target, name)
    _execute(target, f"ALTER TABLE {_quoted(target, staging)} RENAME TO {_quoted(target, name)}")
    return copied


def _append(target: BaseBackend, name: str, rows: pa.Table) -> None:
    if target.name == "postgres":
        # Ibis inserts into PostgreSQL row by row (executemany); COPY takes a chunk at once.
        from allocation_pipeline.warehouse.bulk import copy_arrow_into

        copy_arrow_into(target.con, name, rows)
        return
    target.insert(name, rows)


# Ibis 12's drop_table/rename_table build their DDL with sqlglot expressions that sqlglot 30 renders
# without the table name (and DuckDB has no rename_table): these two statements are written out,
# with identifiers quoted by sqlglot for the target's dialect (names are ours, never data).
def _quoted(target: BaseBackend, name: str) -> str:
    import sqlglot as sg

    return sg.to_identifier(name, quoted=True).sql(dialect=target.dialect)


def drop_table(target: BaseBackend, name: str) -> None:
    """Drop table `name` of `target` if it exists."""
    _execute(target, f"DROP TABLE IF EXISTS {_quoted(target, name)}")


def _execute(target: BaseBackend, statement: str) -> None:
    result = target.raw_sql(statement)
    # DuckDB's raw_sql returns the connection itself; other backends return a cursor to close.
    if target.name != "duckdb" and hasattr(result, "close"):
        result.close()


def _source_table(con: BaseBackend, source: SqlSource, where: str) -> ir.Table:
    try:
        if source.table is not None:
            schema, _, name = source.table.rpartition(".")
            return con.table(name, database=schema or None)
        return _query(con, source.query)
    except TableNotFound:
        raise SourcesError(where, f"table or view {source.table} not found") from None
    except SourcesError:
        raise
    except Exception as exc:  # the database's own error for a bad query or a table it refuses
        raise SourcesError(where, f"cannot read {source.label} ({_first_line(exc)})") from None


def _query(con: BaseBackend, query: str) -> ir.Table:
    """The query as an Ibis table, its schema read by us rather than by `con.sql(query)`: Ibis 12
    reads it with calls this environment's DuckDB 2 (fetch_arrow_table) and sqlglot 30 (a DROP VIEW
    without its name) break, so the same steps are taken here with statements that work on both."""
    if con.name == "duckdb":
        from ibis.backends.sql.datatypes import DuckDBType

        relation = con.con.sql(query)  # bound, not run
        schema = ibis.schema({name: DuckDBType.from_string(str(kind)) for name, kind in zip(relation.columns, relation.types)})
        return con.sql(query, schema=schema)
    view = f"allocation_source_{uuid.uuid4().hex[:12]}"
    _execute(con, f"CREATE TEMPORARY VIEW {_quoted(con, view)} AS {query}")
    try:
        schema = con.get_schema(view)
    finally:
        _execute(con, f"DROP VIEW IF EXISTS {_quoted(con, view)}")
    return con.sql(query, schema=schema)


def _in_period(column: ir.Column, period: str, where: str) -> ir.BooleanValue:
    kind = column.type()
    if kind.is_temporal():
        year, month = int(period[:4]), int(period[5:7])
        first = ibis.date(year, month, 1)
        following = ibis.date(year + month // 12, month % 12 + 1, 1)
        value = column.date() if kind.is_timestamp() else column
        return (value >= first) & (value < following)
    if kind.is_string():
        return column.substr(0, 7) == period
    raise SourcesError(where, f"period_column {column.get_name()} is {kind}, neither a date nor text")


def _unique_key(extract: str) -> list[str]:
    """The extract contract's unique key (file column names), the default row identity."""
    schema = EXTRACT_SPECS[extract].model.to_schema()
    if schema.unique:
        return list(schema.unique)
    return [name for name, column in schema.columns.items() if column.unique]


def _date_columns(extract: str) -> set[str]:
    schema = EXTRACT_SPECS[extract].model.to_schema()
    return {name for name, column in schema.columns.items() if str(column.dtype).startswith("datetime")}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
