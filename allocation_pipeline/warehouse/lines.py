"""The engine: where line-level data lives. An Ibis backend (DuckDB, PostgreSQL or Spark) that reads
the extract files, cleans and stores GL/AP lines and timesheets, and answers the few questions the
rest of the pipeline asks of lines: a month's balances (one GROUP BY), one document's lines
(WHERE document_id), the documents that do not balance, the month's timesheet hours.

Nothing here pulls a month of lines into Python; only aggregates and single documents come back.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import sqlglot as sg
from sqlalchemy.engine import make_url

from allocation_pipeline import settings
from allocation_pipeline.warehouse.engine import DuckDBFile, WarehouseError, describe, sql_text

# Line tables the engine holds, each created from sql/create_table_<name>.sql.
LINE_TABLES = ("gl_lines", "ap_invoices", "timesheets")
# Keys of gl_balances: everything a rule's source filter selects on (accounts, cost centers,
# product and region members) plus entity and currency.
BALANCE_KEYS = ["entity", "account", "cost_center", "product", "region", "currency"]
MONEY = dt.Decimal(18, 2)


@dataclass
class LineEngine:
    """An open engine: `backend` is the Ibis backend; `kind` is duckdb, postgres or pyspark."""

    url: str
    backend: object
    kind: str
    _close: object = None
    _cached: list = field(default_factory=list)

    @property
    def duplicates(self) -> str:
        """How `clean_lines` should find repeated keys here (see there): PostgreSQL plans the join badly."""
        return "window" if self.kind == "postgres" else "join"

    @property
    def store_parsed(self) -> bool:
        """Whether `clean_lines` should store parsed values before checking them (see there):
        Spark folds the layers into one projection, and that made a plan whose planning took 23 s
        for a dozen GL rows, against 12 s for the stored layers."""
        return self.kind == "pyspark"

    @property
    def fence_parsed(self) -> bool:
        """Whether `clean_lines` should end each parsing layer in a LIMIT (see there): PostgreSQL
        would otherwise flatten the layers and parse a value again wherever a check refers to it."""
        return self.kind == "postgres"

    @property
    def guard_strip(self) -> bool:
        """Whether `clean_lines` should trim only values with whitespace at an end (see there):
        measured on DuckDB; Spark inlines the test into every use of the value."""
        return self.kind == "duckdb"

    @property
    def cast_dates(self) -> bool:
        """Whether `clean_lines` should parse dates with the engine's cast (see there): DuckDB's
        TRY_CAST gives NULL for a day that does not exist."""
        return self.kind == "duckdb"

    def close(self) -> None:
        for table in list(self._cached):
            self.release(table)
        if self._close is not None:
            self._close()
            self._close = None

    def materialize(self, expr: ibis.Table) -> ibis.Table:
        """Compute `expr` once and keep it in the engine for this session (a temporary table)."""
        self.backend._run_pre_execute_hooks(expr)  # in-memory tables it reads (raw rows from Arrow) registered
        return self.materialize_sql(self.backend.compile(expr), expr.schema())

    def materialize_sql(self, sql: str, schema: ibis.Schema) -> ibis.Table:
        """Compute the query `sql` (whose rows have `schema`) once and keep it for this session."""
        name = new_table_name("checked")
        if self.kind == "pyspark":
            # Spark has no temporary tables: the rows computed now and checkpointed on the executors,
            # as a temporary view of the session. A cached view would keep its whole query plan, and
            # every query reading it (the quarantine reads the bad rows once per kind of problem) would
            # plan it again: a plan of millions of characters, 6-10 s of planning per query.
            self.backend._session.sql(sql).localCheckpoint(eager=True).createOrReplaceTempView(name)
            cached = self.backend.table(name)
        else:
            # Typed as the schema says (as Ibis creates tables), then filled by the query.
            cached = self.backend.create_table(name, schema=schema, temp=True)
            columns = ", ".join(sg.to_identifier(c, quoted=True).sql(self.backend.dialect) for c in schema.names)
            insert = f'INSERT INTO "{name}" ({columns}) {sql}'
            if self.kind == "postgres":
                with self.backend.con.cursor() as cursor:
                    cursor.execute(insert)
                    # Temporary tables get no statistics by themselves; without them the planner may
                    # take a table of a million rows for a small one (and nest a loop over it).
                    cursor.execute(f'ANALYZE "{name}"')
            else:
                self.backend.con.execute(insert)
        self._cached.append(cached)
        return cached

    @property
    def stores_while_cleaning(self) -> bool:
        """Whether a month is stored into its line table as it is cleaned (`clean(..., into=...)`,
        see `clean_lines`'s `store`): on DuckDB, where the checked month would otherwise be
        written to a temporary table (spilling beyond the memory limit) and copied from there."""
        return self.kind == "duckdb"

    def clean(self, raw: ibis.Table, spec, references: dict | None, period: str | None, into: str | None = None):
        """`core.ingestion.line_cleaning.clean_lines` of `raw` with this engine's options, from a
        plan compiled once per process (see `plan_cleaning`); the tables it stores are listed in
        the result's `scratch`, for the caller to release. With `into` (a line table; only where
        `stores_while_cleaning`) the period's rows of that table are replaced by the month's kept
        rows as it is cleaned, in one transaction, and `checked` holds only the bad rows
        (`rows_stored` counts the others)."""
        from dataclasses import replace

        from allocation_pipeline.core.ingestion.line_cleaning import plan_cleaning

        if into is not None and (not self.stores_while_cleaning or period is None):
            raise WarehouseError(f"a {self.kind} engine does not store a month while cleaning it; store `stored` with replace_period")
        target = self.backend.table(into) if into is not None else None
        plan = plan_cleaning(
            self.backend, raw.schema(), spec, references, period, duplicates=self.duplicates, store_parsed=self.store_parsed, guard_strip=self.guard_strip,
            fence_parsed=self.fence_parsed, cast_dates=self.cast_dates, stored_schema=None if target is None else target.schema(),
        )
        self.backend._run_pre_execute_hooks(raw)
        raw_sql = self.backend.compile(raw)

        def query(sql, schema):
            return self.backend.sql(sql, schema=schema)

        if target is None:
            return plan.bind(raw_sql, self.materialize_sql, query)
        con = self.backend.con
        quoted = sg.to_identifier(into, quoted=True).sql(self.backend.dialect)

        def store(sql: str, schema: ibis.Schema) -> None:
            columns = ", ".join(sg.to_identifier(c, quoted=True).sql(self.backend.dialect) for c in schema.names)
            con.execute(f"INSERT INTO {quoted} ({columns}) {sql}")

        def unstore(sql: str) -> None:
            con.execute(
                f"DELETE FROM {quoted} USING ({sql}) AS repeated WHERE {quoted}.period = ? "
                f"AND {quoted}.source_file = repeated.source_file AND {quoted}.row_number = repeated.row_number",
                [period],
            )

        def nothing_left() -> bool:
            # Stored rows are raw rows: as many of them as raw rows means none is left out.
            (raw_rows,) = con.execute(f"SELECT count(*) FROM ({raw_sql}) AS raw_rows").fetchone()
            (stored,) = con.execute(f"SELECT count(*) FROM {quoted} WHERE period = ?", [period]).fetchone()
            return raw_rows == stored

        con.execute("BEGIN")
        try:
            con.execute(f"DELETE FROM {quoted} WHERE period = ?", [period])
            cleaned = plan.bind(raw_sql, self.materialize_sql, query, self.backend.compile(self.lines(into, period)), store, unstore, nothing_left)
            (rows,) = con.execute(f"SELECT count(*) FROM {quoted} WHERE period = ?", [period]).fetchone()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return replace(cleaned, rows_stored=int(rows))

    def drop_scratch(self) -> None:
        """Drop the scratch tables raw rows were uploaded into (PostgreSQL)."""
        for name in getattr(self.backend, "scratch_tables", []):
            with self.backend.con.cursor() as cursor:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
        if hasattr(self.backend, "scratch_tables"):
            self.backend.scratch_tables.clear()

    def release(self, table: ibis.Table) -> None:
        """Drop a table made by `materialize` (and any scratch tables of raw rows)."""
        self.drop_scratch()
        if not any(table is t for t in self._cached):
            return
        self._cached = [t for t in self._cached if t is not table]
        name = table.get_name()
        if self.kind == "pyspark":
            self.backend._session.catalog.dropTempView(name)
            return
        if self.kind in ("duckdb", "sqlite"):
            self.backend.con.execute(f'DROP TABLE IF EXISTS "{name}"')
        else:
            with self.backend.con.cursor() as cursor:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')

    def lines(self, table: str, period: str | None = None) -> ibis.Table:
        """A line table (of one period, when given)."""
        if self.kind == "pyspark":
            if period is None:
                raise WarehouseError("on Spark the line tables are kept per period: give the period")
            return self.backend.table(_spark_table(table, period))
        lines = self.backend.table(table)
        return lines if period is None else lines.filter(lines["period"] == period)

    def replace_period(self, table: str, period: str, rows: ibis.Table) -> None:
        """Replace the period's rows of `table` by `rows`, atomically where the engine has transactions."""
        if self.kind == "pyspark":
            self.backend.create_table(_spark_table(table, period), rows, overwrite=True)
            return
        target = self.backend.table(table)
        rows = rows.select(*[c for c in target.columns if c in rows.columns])
        if self.kind in ("duckdb", "sqlite"):
            con = self.backend.con
            con.execute("BEGIN")
            try:
                con.execute(f'DELETE FROM "{table}" WHERE period = ?', [period])
                self.backend.insert(table, rows)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return
        with self.backend.con.transaction():
            with self.backend.con.cursor() as cursor:
                cursor.execute(f'DELETE FROM "{table}" WHERE period = %s', [period])
            self.backend.insert(table, rows)

    def load_period(self, table: str, period: str, source: LineEngine) -> int:
        """Replace the period's rows of `table` by the same table's period in `source` (another
        engine, e.g. the staging DuckDB a month of files was cleaned in), in one transaction,
        streamed in chunks of COPY_CHUNK_ROWS rows (PostgreSQL: COPY). Returns the rows loaded."""
        from allocation_pipeline.warehouse.bulk import COPY_CHUNK_ROWS, copy_batches_into

        if self.kind != "postgres":
            raise WarehouseError(f"loading a cleaned month from another engine is for PostgreSQL engines, not {self.kind}")
        columns = self.backend.table(table).columns
        rows = source.lines(table, period).select(*columns)
        batches = source.record_batches(rows, COPY_CHUNK_ROWS)
        with self.backend.con.transaction():
            with self.backend.con.cursor() as cursor:
                cursor.execute(f'DELETE FROM "{table}" WHERE period = %s', [period])
            return copy_batches_into(self.backend.con, table, columns, batches)

    def record_batches(self, expr: ibis.Table, rows: int):
        """The rows of `expr` as Arrow record batches of at most `rows` rows, read as they are used."""
        if self.kind == "duckdb":
            # Ibis 12's to_pyarrow_batches calls a DuckDB method that DuckDB 2.0 renamed.
            self.backend._run_pre_execute_hooks(expr)
            return self.backend.con.sql(self.backend.compile(expr)).to_arrow_reader(rows)
        return self.backend.to_pyarrow_batches(expr, chunk_size=rows)

    def execute(self, expr) -> pd.DataFrame:
        return self.backend.to_pyarrow(expr).to_pandas() if isinstance(expr, ibis.Table) else self.backend.execute(expr)


@contextmanager
def staging_engine() -> Iterator[LineEngine]:
    """An in-process DuckDB, in memory, with the line tables: where a month read from files is
    cleaned before its kept lines are loaded into a PostgreSQL engine (see `stages_files`). It
    takes the DuckDB settings (memory limit, spill directory); without a spill directory it spills
    into a temporary one, removed with it."""
    from allocation_pipeline.warehouse.engine import duckdb_config

    config = duckdb_config()
    with tempfile.TemporaryDirectory(prefix="allocation-staging-") as spill:
        config.setdefault("temp_directory", spill)
        backend = ibis.duckdb.connect(**config)
        engine = LineEngine("duckdb://", backend, "duckdb", backend.disconnect)
        try:
            for name in LINE_TABLES:
                backend.con.execute(str(sql_text(f"create_table_{name}")))
            yield engine
        finally:
            engine.close()


def stages_files(engine: LineEngine, sources: list) -> bool:
    """Whether a month whose sources are `sources` (FilesSource/SqlSource of the sources file) is
    cleaned in a staging DuckDB and its kept lines loaded into `engine`, instead of being cleaned
    in the engine itself: for a PostgreSQL engine, unless a source lives in the engine's own
    database (then the rows are cleaned where they are, without a copy). PostgreSQL cannot read
    files: their raw rows would be copied in only to be parsed there with regular expressions
    (1M GL lines: the GL step 36-38 s, against a 3.9 s COPY of the same rows)."""
    from allocation_pipeline.core.sources.config import SqlSource
    from allocation_pipeline.core.sources.lines import same_database

    if engine.kind != "postgres":
        return False
    return not any(isinstance(s, SqlSource) and same_database(s.url, engine.url) for s in sources)


@contextmanager
def ledger_lines(conn, lines: LineEngine | None = None) -> Iterator[LineEngine]:
    """The engine holding the lines behind the ledger connection `conn`: `lines` when the caller
    has it (the pipeline's engine resource), else `$ALLOCATION_ENGINE_URL`, else the ledger's own
    URL (for a SQLite ledger, the DuckDB file beside it). Opened for the block and closed after;
    a DuckDB file the ledger already holds is not opened again (see DuckDBFile)."""
    if lines is not None:
        yield lines
        return
    url = os.environ.get(settings.ENGINE_URL_ENV) or conn.engine.url.render_as_string(hide_password=False)
    engine = open_line_engine(url)
    try:
        yield engine
    finally:
        engine.close()


def open_line_engine(url: str) -> LineEngine:
    """Connect to the engine at `url` and create the line tables that do not exist yet.

    `duckdb:///path` shares the process's open DuckDB file with the ledger (see DuckDBFile);
    `postgresql://...` (any SQLAlchemy-style URL, `?options=-csearch_path%3D...` honoured);
    `spark:<master>[?key=value&...]`, e.g. `spark:local[2]`, with Spark settings as query keys.
    """
    if url.startswith(("spark:", "pyspark:")):
        return _open_spark(url)
    parsed = make_url(url)
    backend_name = parsed.get_backend_name()
    if backend_name == "duckdb":
        file = DuckDBFile.of(parsed.database or ":memory:")
        cursor = file.acquire()
        engine = LineEngine(url, ibis.duckdb.from_connection(cursor), "duckdb", lambda: file.release(cursor))
        for name in LINE_TABLES:
            cursor.execute(str(sql_text(f"create_table_{name}")))
        return engine
    if backend_name == "sqlite":
        # SQLite lacks what the cleaning expressions need (TRY_CAST, regular expressions): a
        # SQLite ledger's engine is a DuckDB file beside it.
        return open_line_engine(f"duckdb:///{sqlite_engine_path(parsed.database)}")
    if backend_name == "postgresql":
        query = dict(parsed.query)
        try:
            backend = ibis.postgres.connect(
                host=parsed.host or "localhost", port=parsed.port or 5432, user=parsed.username, password=parsed.password,
                database=parsed.database, **({"options": query["options"]} if "options" in query else {}),
            )
        except Exception as exc:
            raise WarehouseError(f"engine {describe(url)} cannot be reached: {exc}") from exc
        with backend.con.cursor() as cursor:
            for name in LINE_TABLES:
                cursor.execute(str(sql_text(f"create_table_{name}")))
        return LineEngine(url, backend, "postgres", backend.disconnect)
    raise WarehouseError(f"engine URL {describe(url)}: use duckdb:///file, postgresql://... or spark:<master>")


def sqlite_engine_path(database: str) -> str:
    """The DuckDB engine file used with a SQLite ledger file: `<name>.engine.duckdb` beside it."""
    path = Path(database)
    return str(path.with_name(path.stem + ".engine.duckdb"))


def _open_spark(url: str) -> LineEngine:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise WarehouseError("a Spark engine needs the `spark` extra: pip install 'allocation-pipeline[spark]'") from exc
    rest = url.split(":", 1)[1]
    master, _, query = rest.partition("?")
    options = dict(parse_qsl(query))
    options.setdefault("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "allocation-spark-warehouse"))
    builder = SparkSession.builder.master(master or "local[*]").appName("allocation_pipeline")
    for key, value in {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC", **options}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    return LineEngine(url, ibis.pyspark.connect(session), "pyspark")


def _spark_table(table: str, period: str) -> str:
    return f"{table}__{period.replace('-', '_')}"


# --- what the pipeline asks of the lines ---------------------------------------------------------


def balances(lines: ibis.Table) -> ibis.Table:
    """Debits, credits, net balance (cents) and line count per BALANCE_KEYS: one GROUP BY."""
    return lines.group_by(BALANCE_KEYS).aggregate(
        debit_cents=(lines["debit"].sum() * 100).cast(dt.int64),
        credit_cents=(lines["credit"].sum() * 100).cast(dt.int64),
        lines=lines.count(),
    )


def period_balances(engine: LineEngine, period: str) -> pd.DataFrame:
    """The month's GL balances (gl_balances rows without the period), summed in the engine."""
    frame = engine.execute(balances(engine.lines("gl_lines", period)))
    frame = frame.astype({"debit_cents": "int64", "credit_cents": "int64", "lines": "int64"})
    frame["balance_cents"] = frame["debit_cents"] - frame["credit_cents"]
    return frame.sort_values(BALANCE_KEYS, na_position="first", ignore_index=True)


def document_lines(engine: LineEngine, document_id: str, period: str | None = None) -> pd.DataFrame:
    """One document's GL lines (entity, account, cost center, product, region, currency, cents)."""
    lines = engine.lines("gl_lines", period)
    own = lines.filter(lines["document_id"] == document_id).order_by(["line"])
    frame = engine.execute(
        own.select(
            "entity", "document_id", "line", "account", "cost_center", "product", "region", "currency",
            debit_cents=(own["debit"] * 100).cast(dt.int64), credit_cents=(own["credit"] * 100).cast(dt.int64),
        )
    )
    return frame.astype({"debit_cents": "int64", "credit_cents": "int64"})


def unbalanced_documents(engine: LineEngine, period: str, limit: int = 50) -> tuple[int, pd.DataFrame]:
    """How many of the month's GL documents do not balance, and the first `limit` of them."""
    lines = engine.lines("gl_lines", period)
    sums = lines.group_by(["entity", "document_id"]).aggregate(debit=lines["debit"].sum(), credit=lines["credit"].sum())
    unbalanced = sums.filter(sums["debit"] != sums["credit"])
    # One pass over the month: the count rides along with the first rows shown.
    shown = unbalanced.mutate(_count=unbalanced.count().over(ibis.window())).order_by(["entity", "document_id"]).limit(limit)
    frame = engine.execute(
        shown.select("entity", "document_id", "_count", difference_cents=((shown["debit"] - shown["credit"]) * 100).cast(dt.int64))
    )
    count = int(frame["_count"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns="_count")
    return count, frame


def document_gl_amounts(engine: LineEngine, document_id: str) -> pd.DataFrame:
    """A document's GL amounts per entity and account (debit and credit cents), with its period and
    first cost center; empty when no month's GL holds the document."""
    lines = engine.lines("gl_lines")
    own = lines.filter(lines["document_id"] == document_id)
    sums = own.group_by(["entity", "account"]).aggregate(
        debit_cents=(own["debit"].sum() * 100).round().cast(dt.int64),
        credit_cents=(own["credit"].sum() * 100).round().cast(dt.int64),
        period=own["period"].min(),
        cost_center=own["cost_center"].min(),
    )
    return engine.execute(sums.order_by(["account", "entity"]))


def document_gl_lines(engine: LineEngine, entity: str, document_ids: list[str]) -> pd.DataFrame:
    """The GL lines of an entity's documents (any month), ordered by document and line; money in cents."""
    columns = ["document_id", "document_type", "period", "line", "posting_date", "account", "cost_center", "product", "region",
               "debit_cents", "credit_cents", "description"]
    if not document_ids:
        return pd.DataFrame(columns=columns)
    lines = engine.lines("gl_lines")
    own = lines.filter((lines["entity"] == entity) & lines["document_id"].isin(sorted(set(document_ids))))
    own = own.mutate(debit_cents=(own["debit"] * 100).round().cast(dt.int64), credit_cents=(own["credit"] * 100).round().cast(dt.int64))
    return engine.execute(own.select(*columns).order_by(["document_id", "line"]))


def gl_document_ids(engine: LineEngine, typed: str) -> list[str]:
    """The stored ids of GL documents (any month) equal to `typed` but for case."""
    lines = engine.lines("gl_lines")
    same = lines.filter(lines["document_id"].lower() == typed.lower()).select("document_id").distinct()
    return sorted(str(i) for i in engine.execute(same)["document_id"])


def document_detail_lines(engine: LineEngine, document_id: str) -> pd.DataFrame:
    """A GL document's lines (any month) as a person reads them, money in cents, ordered by line."""
    lines = engine.lines("gl_lines")
    own = lines.filter(lines["document_id"] == document_id)
    own = own.mutate(debit_cents=(own["debit"] * 100).round().cast(dt.int64), credit_cents=(own["credit"] * 100).round().cast(dt.int64))
    columns = ["entity", "period", "document_id", "document_type", "line", "posting_date", "account", "cost_center", "product", "region",
               "currency", "debit_cents", "credit_cents", "description"]
    return engine.execute(own.select(*columns).order_by(["entity", "line"]))


def ap_document_lines(engine: LineEngine, document_id: str) -> pd.DataFrame:
    """An AP invoice's lines (any month), amounts in cents, ordered by line."""
    lines = engine.lines("ap_invoices")
    own = lines.filter(lines["document_id"] == document_id)
    own = own.mutate(amount_cents=(own["amount"] * 100).round().cast(dt.int64))
    columns = ["entity", "period", "document_id", "line", "vendor", "invoice_date", "account", "cost_center", "currency", "amount_cents", "description"]
    return engine.execute(own.select(*columns).order_by(["entity", "line"]))


def largest_documents(engine: LineEngine, period: str, entity: str, accounts: list[str], top: int) -> pd.DataFrame:
    """Per cost center and account (of `accounts`) of the entity's month: the `top` documents by
    absolute amount (ties by document id), with the number of documents, lines and the total of
    the pair. One GROUP BY over the month's lines, then a ranking of the documents in the engine."""
    columns = ["cost_center", "account", "document_id", "document_type", "posting_date", "description", "lines", "amount_cents",
               "position", "account_documents", "account_lines", "account_total_cents"]
    if not accounts:
        return pd.DataFrame(columns=columns)
    lines = engine.lines("gl_lines", period)
    lines = lines.filter((lines["entity"] == entity) & lines["account"].isin(sorted(set(accounts))))
    documents = lines.group_by(["cost_center", "account", "document_id", "document_type"]).aggregate(
        posting_date=lines["posting_date"].min(),
        description=lines["description"].min(),
        lines=lines.count(),
        amount=(lines["debit"] - lines["credit"]).sum(),
    )
    pair = ibis.window(group_by=[documents["cost_center"], documents["account"]])
    ranking = ibis.window(group_by=[documents["cost_center"], documents["account"]], order_by=[documents["amount"].abs().desc(), documents["document_id"]])
    ranked = documents.mutate(
        position=ibis.row_number().over(ranking) + 1,
        account_documents=documents.count().over(pair),
        account_lines=documents["lines"].sum().over(pair),
        account_total=documents["amount"].sum().over(pair),
    )
    top_rows = ranked.filter(ranked["position"] <= top)
    top_rows = top_rows.mutate(
        amount_cents=(top_rows["amount"] * 100).round().cast(dt.int64), account_total_cents=(top_rows["account_total"] * 100).round().cast(dt.int64)
    )
    frame = engine.execute(top_rows.select(*columns).order_by(["cost_center", "account", "position"]))
    return frame.astype({"lines": "int64", "position": "int64", "account_documents": "int64", "account_lines": "int64"})


def new_table_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def timesheet_hours(engine: LineEngine, period: str) -> pd.DataFrame:
    """The month's cleaned timesheet rows the drivers need (period, cost center, activity, hours),
    in file order so that sums come out as they did from the cleaned frame."""
    rows = engine.lines("timesheets", period)
    frame = engine.execute(rows.order_by(["source_file", "row_number"]).select("period", "cost_center", "activity", "hours"))
    return frame.astype({"period": "string", "cost_center": "string", "activity": "string", "hours": "float64"})
