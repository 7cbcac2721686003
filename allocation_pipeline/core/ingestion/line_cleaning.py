"""Cleaning of the extracts that grow with the business (GL lines, AP invoices, timesheets) as
set-based Ibis expressions, run in whichever engine holds the raw rows (DuckDB, PostgreSQL, Spark).

The outcomes are those of `core.ingestion.cleaning.clean_extract`: the same quarantine columns, reasons and
1-based row numbers, rows in = rows kept + rows quarantined. The checks are the pandera models'
own (`core.ingestion.schemas`): each column check is evaluated through pandera's Ibis implementation
(`pandera.backends.ibis.builtin_checks`) and each dataframe check's function is applied to the
typed table, so the contract is written once.
"""

from __future__ import annotations

import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
import pandera.pandas as pa

from allocation_pipeline.core.ingestion.cleaning import QUARANTINE_COLUMNS, ExtractSpec, _reason
from allocation_pipeline.core.ingestion.extracts import SUFFIXES
from allocation_pipeline.core.money import MAX_INTEGER_DIGITS

# Extracts cleaned in the engine; the small ones (master data, headcount, usage, matrix) stay in pandas.
LINE_EXTRACTS = ("gl_lines", "ap_invoices", "timesheets")
# The reference name under which clean_lines takes {entity: currency} for the currency check.
ENTITY_CURRENCY = "entity currency"

_AMOUNT = rf"^[+-]?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,2}})?$"
_DATE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"
_NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_RAW = "raw__"  # prefix of the raw text columns kept next to the typed ones
_AMOUNT_PREFIX = "amount__"  # prefix of money as exact decimals (file column name after it)
_TEXT, _PARSED, _OK = "text__", "parsed__", "ok__"  # stripped text, parsed value, parsed-ok flag
_FENCE_ROWS = 2**62  # a LIMIT no month reaches (see `fence_parsed`)


@dataclass(frozen=True)
class CleanedLines:
    """Expressions over one materialized `checked` table (every in-scope row, typed, with a flag
    per problem): `kept` (typed columns, `period`, `source_file`, `row_number`; money in cents),
    `stored` (the kept rows as the line tables hold them: money as exact decimals under the file's
    column names) and `quarantine` (QUARANTINE_COLUMNS, one row per problem; rows the reader could
    not split are not in it)."""

    extract: str
    checked: ibis.Table
    kept: ibis.Table | None  # None when the month was stored as it was cleaned (see `clean_lines`'s `store`)
    stored: ibis.Table | None
    quarantine: ibis.Table
    columns: tuple[str, ...]  # typed columns of the model, in order
    scratch: tuple[ibis.Table, ...] = ()  # the tables `materialize` made, for the caller to drop when done
    rows_stored: int | None = None  # rows stored in the line table as the month was cleaned (then not in `checked`)


@dataclass(frozen=True)
class _Problem:
    flag: str  # boolean column of `checked`
    column: str | None  # file column at fault (None: the whole row)
    value: object  # function of `checked` -> text value expression
    reason: object  # function of `checked` -> text reason expression


def clean_lines(
    raw: ibis.Table,
    spec: ExtractSpec,
    references: dict[str, object] | None = None,
    period: str | None = None,
    materialize=None,
    duplicates: str = "window",
    store_parsed: bool = False,
    guard_strip: bool = False,
    fence_parsed: bool = False,
    cast_dates: bool = False,
    store=None,
    stored_rows: ibis.Table | None = None,
    unstore=None,
    leftovers=None,
) -> CleanedLines:
    """Parse, check and split raw rows (see `core.ingestion.extracts.RawTable`: text columns plus the row key
    `source_file`, `row_number`). `references` maps a spec reference name ("entity", "account",
    "cost center") to its known values, and ENTITY_CURRENCY to {entity: currency}. For `period`
    see `clean_extract`. `materialize(expr) -> ibis.Table` stores the checked rows once in the
    engine (a temporary table), so that kept rows and quarantine are read from it instead of
    parsing the files again; without it the expressions stay lazy. `duplicates` is how repeated
    keys are found, with the same outcome: "window" (one window over every row) or "join" (a
    GROUP BY finds the repeated keys, only their rows are ranked and joined back: faster on DuckDB
    and Spark, but PostgreSQL plans the join as a nested loop). `store_parsed` materializes the
    parsed values before the checks (PostgreSQL flattens subqueries and would parse a value again
    wherever a check refers to it; Spark folds the layers into expressions that take long to plan).
    `fence_parsed` gets the same from PostgreSQL without storing anything: each layer ends in a
    LIMIT no month reaches, and PostgreSQL does not flatten a subquery with a LIMIT into the query
    above it (1M GL lines: the cleaning 30.8 s with a temporary table per layer, 21.9 s fenced).
    `guard_strip` trims only values that start or end with whitespace, with the same outcome (see
    `_strip`; measured on DuckDB, where it pays). `cast_dates` parses a date that has the shape
    YYYY-MM-DD with the engine's own cast (which must give NULL for a day that does not exist, as
    DuckDB's TRY_CAST does) instead of field by field (see `_parsers`).

    `store(expr)`, with `stored_rows` (the line table's rows of the period, emptied beforehand),
    `leftovers(expr)` and `unstore(expr)`, stores the month while it is parsed: the rows without a
    problem of their own go straight into the line table, and only the rest (the raw rows absent
    from `stored_rows`, which `leftovers` stores like `materialize`, or finds empty without a join
    when as many rows were stored as there are raw rows) are parsed again and kept as the checked
    rows; a stored row that repeats a key is parsed again too and taken out (`unstore` gets its
    `source_file` and `row_number`). The outcome is the same; the month is written once instead
    of into a temporary table first (DuckDB, 10M GL lines: the checked table and the copy into
    the line table took 16.4 s and 7.8 s, storing while parsing 17.8 s). Needs `materialize` and
    duplicates="join". `kept` and `stored` are then None, and `checked` holds the bad rows only."""
    schema = spec.model.to_schema()
    references = references or {}
    keys = _unique_keys(schema)
    deferred = materialize is not None and duplicates == "join" and bool(keys)
    if store is not None and not deferred:
        raise ValueError("storing while cleaning needs materialize and duplicates='join'")
    scratch = []  # tables made by `materialize`
    stage, renamed, problems, keep_columns, amounts, money_columns = _checked_stage(
        raw, spec, schema, references, period, materialize, duplicates, store_parsed, guard_strip, fence_parsed, cast_dates, deferred, keys, scratch
    )
    if store is not None:
        store(stage.filter(~stage["_bad"]).select(
            *[c for c in keep_columns if c not in money_columns], **{a.removeprefix(_AMOUNT_PREFIX): stage[a] for a in amounts}
        ))

        def on(left, right):
            return [left["source_file"] == right["source_file"], left["row_number"] == right["row_number"]]

        def again(rows: ibis.Table) -> ibis.Table:
            checked = materialize(_checked_stage(
                rows, spec, schema, references, period, materialize, duplicates, store_parsed, guard_strip, fence_parsed, cast_dates, deferred, keys, scratch
            )[0])
            scratch.append(checked)
            return checked

        left = leftovers(raw.anti_join(stored_rows, on(raw, stored_rows)))
        scratch.append(left)
        rest = again(left)
        # Repeated keys are looked for among the rows that parsed: the stored ones and the rest's candidates.
        columns = [*sorted({c for key in keys for c in key}), "source_file", "row_number"]
        candidates = rest.select(*columns, "_candidate")
        types = candidates.schema()
        stored_keys = stored_rows.mutate(_candidate=ibis.literal(True)).select(*columns, "_candidate")
        candidates = candidates.union(stored_keys.select(**{c: stored_keys[c].cast(types[c]) for c in types.names}), distinct=False)
        laters = []
        for index, key in enumerate(keys):
            later = materialize(_later_occurrences(candidates, key, f"dup__{index}"))  # the repeated rows only: few
            scratch.append(later)
            laters.append(later)
        repeated = ibis.union(*(
            later.select(source_file=later[f"dup__{index}__sf"], row_number=later[f"dup__{index}__rn"]) for index, later in enumerate(laters)
        ), distinct=True)
        repeated = materialize(repeated.semi_join(stored_rows, on(repeated, stored_rows)))  # stored rows that repeat a key
        scratch.append(repeated)
        checked = rest.union(again(raw.semi_join(repeated, on(raw, repeated))), distinct=False)
        unstore(repeated)
    else:
        checked = stage
        if materialize is not None:
            checked = materialize(stage)
            scratch.append(checked)
        laters = []
        if deferred:
            for index, key in enumerate(keys):
                later = materialize(_later_occurrences(checked, key, f"dup__{index}"))  # the repeated rows only: few
                scratch.append(later)
                laters.append(later)
    if deferred:
        for index, later in enumerate(laters):
            flag = f"dup__{index}"
            checked = checked.left_join(later, [checked["source_file"] == later[f"{flag}__sf"], checked["row_number"] == later[f"{flag}__rn"]])
            checked = checked.drop(f"{flag}__sf", f"{flag}__rn")
            checked = checked.mutate(**{flag: checked[f"{flag}__row"].notnull()})
            checked = checked.mutate(_bad=checked["_bad"] | checked[flag])
        checked = checked.drop("_candidate")
    return _split(checked, renamed, spec, schema, problems, keep_columns, amounts, money_columns, materialize, scratch, fused=store is not None)


def _checked_stage(
    raw, spec, schema, references, period, materialize, duplicates, store_parsed, guard_strip, fence_parsed, cast_dates, deferred, keys, scratch
):
    """The typed rows in scope with a flag per problem (`_bad` when any; repeated keys left out
    when `deferred`), and what `_split` needs to know of them."""
    problems: list[_Problem] = []
    money_columns = {name for name, column in schema.columns.items() if (column.metadata or {}).get("money")}
    file_columns = {name: (column.metadata or {}).get("money", name) for name, column in schema.columns.items()}

    # 1. Typed values next to the raw text, with a flag per column for missing and unparseable values.
    renamed = raw.rename({f"{_RAW}{c}": c for c in set(file_columns.values())})
    # Each value is parsed once into its own column (layer 1); the flags refer to those columns
    # (layer 2). Written as one expression, every flag would repeat the parsing.
    strip = _strip if guard_strip else (lambda value: value.strip())
    texts = {f"{_TEXT}{c}": strip(renamed[f"{_RAW}{c}"]) for c in set(file_columns.values())}
    stage = renamed.mutate(**texts)
    layers: list[dict] = [{}, {}, {}, {}]
    reasons = {}
    for name, column in schema.columns.items():
        money = bool((column.metadata or {}).get("money"))
        steps, reasons[name] = _parsers(name, file_columns[name], str(column.dtype), money, cast_dates)
        for layer, builders in zip(layers, steps):
            layer.update(builders)
    # One projection per layer: each value is parsed once and the flags refer to it. Inlined
    # into one projection, the date parts alone repeat the date's regular expression some fifty
    # times, and DuckDB's common subexpression elimination does not reach into CASE branches
    # (measured at 1M GL lines: 15.9 s inlined, 9.8 s layered).
    for index, builders in enumerate(layers):
        if builders:
            stage = stage.mutate(**{column: build(stage) for column, build in builders.items()})
        if builders and index != 2 and store_parsed and materialize is not None:
            stage = materialize(stage)
            scratch.append(stage)
        elif builders and index != 2 and fence_parsed:
            stage = stage.limit(_FENCE_ROWS)
    typed, flags = {}, {}
    unparsed = ibis.literal(False)
    for name, column in schema.columns.items():
        source = file_columns[name]
        text = stage[f"{_TEXT}{source}"]
        present = text.notnull() & (text != "")
        parsed, ok = stage[f"{_PARSED}{name}"], stage[f"{_OK}{name}"]
        # Text is its own parse: NULLIF keeps it a function of the one column (which DuckDB
        # evaluates once per distinct value of a dictionary-encoded column).
        typed[name] = text.nullif("") if not reasons[name] and parsed.type().is_string() else present.ifelse(parsed, ibis.null(parsed.type()))
        if not column.nullable:
            flags[f"missing__{name}"] = ~present
            problems.append(_Problem(f"missing__{name}", source, _raw_value(source), _text("missing value")))
            unparsed |= ~present
        if reasons[name]:
            flags[f"bad__{name}"] = present & ~ok.fill_null(False)
            problems.append(_Problem(f"bad__{name}", source, _raw_value(source), _text(reasons[name])))
            unparsed |= flags[f"bad__{name}"]
    amounts_parsed = [c for c in stage.columns if c.startswith(_AMOUNT_PREFIX)]
    texts_kept = [c for c in stage.columns if c.startswith(_TEXT)]  # for the checks of references (see `_text_of`)
    stage = stage.select(*renamed.columns, *amounts_parsed, *texts_kept, **typed, **flags, _unparsed=unparsed)

    # 2. Which period each row belongs to; rows of other periods belong to other partitions,
    # unless the file is named after this period (then they are a problem of this one).
    if spec.partitioned:
        when = stage[spec.period_from]
        if period is not None:
            year, month = (int(p) for p in period.split("-"))
            other = when.notnull() & ((when.year() * 100 + when.month()) != year * 100 + month)
            names = [f"{period}{suffix}" for suffix in SUFFIXES]
            single = stage["source_file"].isin(names)
            for name in names:
                single |= stage["source_file"].endswith(f"/{name}")
            stage = stage.mutate(
                period=ibis.literal(period, dt.string),
                wrong_file=other & single,
                in_scope=~(other & ~single),
            )
            problems.append(
                _Problem("wrong_file", spec.period_from, _raw_value(spec.period_from), _text(f"outside period {period}, which is the only period this file holds"))
            )
            stage = stage.mutate(_unparsed=stage["_unparsed"] | stage["wrong_file"])
        else:
            label = when.year().cast(dt.string).lpad(4, "0") + ibis.literal("-") + when.month().cast(dt.string).lpad(2, "0")
            stage = stage.mutate(period=label, wrong_file=ibis.literal(False), in_scope=ibis.literal(True))
    else:
        stage = stage.mutate(wrong_file=ibis.literal(False), in_scope=ibis.literal(True))
    stage = stage.mutate(_candidate=~stage["_unparsed"] & stage["in_scope"])

    # 3. The model's checks, duplicates of its unique keys, references and the entity's currency,
    # on rows that parsed (as `clean_extract` does).
    # With "join" and a place to store the checked rows, repeated keys are looked for in the stored
    # rows afterwards. Marked here, the parsed month would be read twice in one statement (the rows
    # to rank, the rows to mark), which the engine keeps as a second full copy: on DuckDB at 10M GL
    # lines, 10 s of the statement's 38 s of CPU writing and reading that copy, 3 s joining back.
    dup_flags = {}
    for index, key in enumerate(keys):
        # Later occurrences of a key among the rows that parsed, each with where the first one is.
        flag = f"dup__{index}"
        if not deferred:
            stage = _mark_duplicates(stage, key, flag, duplicates)
            dup_flags[flag] = f"{flag}__row"
        problems.append(_Problem(flag, key[0] if len(key) == 1 else None, _key_value(key), _duplicate_reason(flag, key)))
    checks = {flag: stage[row].notnull() for flag, row in dup_flags.items()}
    candidate = stage["_candidate"]
    for name, column in schema.columns.items():
        for position, check in enumerate(column.checks):
            passed = _column_check(stage, name, check)
            flag = f"check__{name}__{position}"
            checks[flag] = candidate & stage[name].notnull() & ~passed.fill_null(True)
            is_money = file_columns[name] != name
            problems.append(_Problem(flag, file_columns[name], _raw_value(file_columns[name]), _text(_reason(str(check.error), is_money))))
    for position, check in enumerate(schema.checks):
        flag = f"rowcheck__{position}"
        checks[flag] = candidate & ~check._check_fn(stage).fill_null(True)
        problems.append(_Problem(flag, None, lambda t: ibis.null(dt.string), _text(check.error or check.name)))
    for column, reference in (spec.references or {}).items():
        known = references.get(reference)
        if known is None:
            continue
        values = list(_known_values(known))
        flag = f"unknown__{column}"
        # On the trimmed text, which is the value wherever there is one: a function of the one
        # column, where the typed value is one of several (see above).
        checks[flag] = candidate & stage[column].notnull() & ~_text_of(stage, file_columns, column).isin(values)
        problems.append(_Problem(flag, column, _raw_value(column), _quoted(f"unknown {reference} '", column)))
    currencies = references.get(ENTITY_CURRENCY)
    if currencies and "currency" in schema.columns and "entity" in schema.columns:
        entity, currency = _text_of(stage, file_columns, "entity"), _text_of(stage, file_columns, "currency")
        expected = ibis.cases(*((entity == e, ibis.literal(c, dt.string)) for e, c in sorted(dict(currencies).items())), else_=ibis.null(dt.string))
        checks["currency_of_entity"] = candidate & stage["currency"].notnull() & expected.notnull() & (currency != expected)
        checks["currency_expected"] = expected
        problems.append(_Problem("currency_of_entity", "currency", _raw_value("currency"), _currency_reason))
    stage = stage.mutate(**checks)
    flags_all = [p.flag for p in problems if p.flag in stage.columns]  # repeated keys, when deferred, come later
    bad = ibis.literal(False)
    for flag in flags_all:
        bad |= stage[flag]
    stage = stage.filter(stage["in_scope"]).mutate(_bad=bad)
    keep_columns = list(schema.columns) + (["period"] if spec.partitioned else []) + ["source_file", "row_number"]
    amounts = [c for c in stage.columns if c.startswith(_AMOUNT_PREFIX)]
    # The raw text is not kept for every row, only looked up again for the bad ones (it is what
    # the quarantine shows), which keeps the checked table about half as wide.
    stage = stage.select(*keep_columns, *amounts, "_bad", *flags_all, *_extra_columns(checks), *(["_candidate"] if deferred else []))
    return stage, renamed, problems, keep_columns, amounts, money_columns


def _split(checked, renamed, spec, schema, problems, keep_columns, amounts, money_columns, materialize, scratch, fused: bool) -> CleanedLines:
    """Kept, stored and quarantined rows of the checked rows (`fused`: only the bad ones are there)."""
    kept = None if fused else checked.filter(~checked["_bad"]).select(*keep_columns)
    raw_text = renamed.select(
        _raw_file=renamed["source_file"], _raw_row=renamed["row_number"], **{c: renamed[c] for c in renamed.columns if c.startswith(_RAW)}
    )
    bad_rows = checked.filter(checked["_bad"])
    bad_rows = bad_rows.join(raw_text, [bad_rows["source_file"] == raw_text["_raw_file"], bad_rows["row_number"] == raw_text["_raw_row"]])
    bad_rows = bad_rows.drop("_raw_file", "_raw_row")
    if materialize is not None:
        # The bad rows are few: the quarantine below reads them once per kind of problem.
        bad_rows = materialize(bad_rows)
        scratch.append(bad_rows)
    stored = None if fused else checked.filter(~checked["_bad"]).select(
        *[c for c in keep_columns if c not in money_columns], **{a.removeprefix(_AMOUNT_PREFIX): checked[a] for a in amounts}
    )
    pieces = [
        bad_rows.filter(bad_rows[p.flag]).select(
            extract=ibis.literal(spec.name, dt.string),
            source_file=bad_rows["source_file"],
            row_number=bad_rows["row_number"],
            column=ibis.literal(p.column, dt.string) if p.column else ibis.null(dt.string),
            value=p.value(bad_rows),
            reason=p.reason(bad_rows),
        )
        for p in problems
    ]
    quarantine = ibis.union(*pieces, distinct=False) if len(pieces) > 1 else pieces[0]
    return CleanedLines(
        extract=spec.name, checked=checked, kept=kept, stored=stored, quarantine=quarantine[QUARANTINE_COLUMNS], columns=tuple(schema.columns),
        scratch=tuple(scratch),
    )


# --- compiled once, run many times -----------------------------------------------------------------

# Tables a plan refers to before it is bound to a run's own: the raw rows are number 0.
_PLACEHOLDER = "cleaning_plan_table_{}"
_STORED = "cleaning_plan_stored_rows"  # the line table's rows of the period, when the plan stores the month
_PLANS: OrderedDict = OrderedDict()
_PLANS_KEPT = 32
_PLANS_LOCK = threading.Lock()
_PLAN_OUTPUTS = ("checked", "kept", "stored", "quarantine")


@dataclass(frozen=True)
class CleaningPlan:
    """`clean_lines` compiled to one engine's SQL, over placeholder tables. Building and compiling
    the expressions is Python work on graphs of thousands of nodes (on the GL about 1 s, more than
    DuckDB takes to clean 100,000 lines), and it gives the same SQL for every month whose raw
    columns, references and period are the same: it is done once per process (`plan_cleaning`),
    and each run only binds the SQL to its raw rows and its own scratch tables (`bind`).

    `steps` are what to run in order, each (kind, placeholder, SQL, schema): "table" a table to
    materialize, "store" rows to append to the line table, "leftovers" the raw rows not stored (a
    table, empty without running the query when nothing is left), "unstore" the rows
    (`source_file`, `row_number`) to take out of it again (see `clean_lines`'s `store`); `outputs` maps checked,
    kept, stored and quarantine to (SQL, schema), or None when the month is stored as it is cleaned."""

    extract: str
    dialect: str
    steps: tuple[tuple[str, str, str, ibis.Schema], ...]
    outputs: dict[str, tuple[str, ibis.Schema] | None]
    columns: tuple[str, ...]

    @property
    def stores(self) -> bool:
        """Whether the plan stores the month while cleaning it (bind with `store_sql` and friends)."""
        return any(kind == "store" for kind, *_ in self.steps)

    def bind(
        self, raw_sql: str, materialize_sql: Callable[[str, ibis.Schema], ibis.Table], query: Callable[[str, ibis.Schema], ibis.Table],
        stored_sql: str | None = None, store_sql: Callable[[str, ibis.Schema], None] | None = None, unstore_sql: Callable[[str], None] | None = None,
        nothing_left: Callable[[], bool] | None = None,
    ) -> CleanedLines:
        """The plan run on the raw rows `raw_sql` (a query in the plan's dialect): each table step
        stored by `materialize_sql(sql, schema)` (a table of the engine, named as it likes), and the
        outputs as `query(sql, schema)` expressions over those tables. A plan that `stores` also
        needs `stored_sql` (the line table's rows of the period), `store_sql(sql, schema)` (append
        the rows to it) and `unstore_sql(sql)` (delete its rows with those `source_file` and
        `row_number`), and `nothing_left()` (whether every raw row was stored)."""
        names = {self._quoted(_PLACEHOLDER.format(0)): f"({raw_sql})"}
        if stored_sql is not None:
            names[self._quoted(_STORED)] = f"({stored_sql})"
        tables = {}

        def bound(sql: str) -> str:
            for placeholder, name in names.items():
                sql = sql.replace(placeholder, name)
            return sql

        for kind, placeholder, sql, schema in self.steps:
            if kind == "store":
                store_sql(bound(sql), schema)
                continue
            if kind == "unstore":
                unstore_sql(bound(sql))
                continue
            if kind == "leftovers" and nothing_left():
                sql = f"SELECT * FROM ({sql}) AS leftovers WHERE FALSE"  # planned away: no join of the month
            table = materialize_sql(bound(sql), schema)
            names[self._quoted(placeholder)] = self._quoted(table.op().name)  # unqualified: temporary tables resolve first
            tables[placeholder] = table
        checked, kept, stored, quarantine = (
            None if self.outputs[part] is None else query(bound(self.outputs[part][0]), self.outputs[part][1]) for part in _PLAN_OUTPUTS
        )
        return CleanedLines(
            extract=self.extract, checked=checked, kept=kept, stored=stored, quarantine=quarantine, columns=self.columns, scratch=tuple(tables.values())
        )

    def _quoted(self, name: str) -> str:
        import sqlglot as sg

        return sg.to_identifier(name, quoted=True).sql(self.dialect)


def plan_cleaning(
    backend, raw_schema: ibis.Schema, spec: ExtractSpec, references: dict | None, period: str | None,
    duplicates: str = "window", store_parsed: bool = False, guard_strip: bool = False, fence_parsed: bool = False, cast_dates: bool = False,
    stored_schema: ibis.Schema | None = None,
) -> CleaningPlan:
    """`clean_lines` (same arguments; `backend` is the Ibis backend whose SQL it is compiled to)
    as a CleaningPlan, from the process's cache when the same extract, raw columns, references,
    period and options were planned before for the same kind of engine. With `stored_schema` (the
    line table's columns) the plan stores the month while cleaning it (`clean_lines`'s `store`)."""
    key = (
        backend.name, spec.name, spec.model, spec.partitioned, spec.period_from, tuple(sorted((spec.references or {}).items())),
        tuple(raw_schema.items()), _references_key(references), period, duplicates, store_parsed, guard_strip, fence_parsed, cast_dates,
        None if stored_schema is None else tuple(stored_schema.items()),
    )
    with _PLANS_LOCK:
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
    steps: list[tuple[str, str, str, ibis.Schema]] = []

    def record(expr: ibis.Table, kind: str = "table") -> ibis.Table:
        placeholder = _PLACEHOLDER.format(len(steps) + 1)
        steps.append((kind, placeholder, backend.compile(expr), expr.schema()))
        return ibis.table(expr.schema(), name=placeholder)

    storing = {}
    if stored_schema is not None:
        storing = {
            "store": lambda expr: record(expr, "store"),
            "unstore": lambda expr: record(expr, "unstore"),
            "leftovers": lambda expr: record(expr, "leftovers"),
            "stored_rows": ibis.table(stored_schema, name=_STORED),
        }
    with unfused_selects():
        cleaned = clean_lines(
            ibis.table(raw_schema, name=_PLACEHOLDER.format(0)), spec, references, period, materialize=record,
            duplicates=duplicates, store_parsed=store_parsed, guard_strip=guard_strip, fence_parsed=fence_parsed, cast_dates=cast_dates, **storing,
        )
        outputs = {
            part: None if getattr(cleaned, part) is None else (backend.compile(getattr(cleaned, part)), getattr(cleaned, part).schema())
            for part in _PLAN_OUTPUTS
        }
    plan = CleaningPlan(extract=spec.name, dialect=backend.dialect, steps=tuple(steps), outputs=outputs, columns=cleaned.columns)
    with _PLANS_LOCK:
        _PLANS[key] = plan
        while len(_PLANS) > _PLANS_KEPT:
            _PLANS.popitem(last=False)
    return plan


def clear_plans() -> None:
    """Forget every compiled plan (the next cleaning of each extract compiles again)."""
    with _PLANS_LOCK:
        _PLANS.clear()


def _known_values(known) -> tuple[str, ...]:
    """A reference's known values as `clean_lines` checks them: text, sorted, no missing values."""
    values = known.tolist() if isinstance(known, pd.Series) else known
    return tuple(sorted({str(v) for v in values if v is not None and not pd.isna(v)}))


def _references_key(references: dict | None) -> tuple:
    key = []
    for name, known in sorted((references or {}).items()):
        if known is None:
            continue  # as if not given (clean_lines skips it)
        if name == ENTITY_CURRENCY:
            key.append((name, tuple(sorted(dict(known).items()))))
        else:
            key.append((name, _known_values(known)))
    return tuple(key)


@contextmanager
def unfused_selects() -> Iterator[None]:
    """Ibis compiles without trying to merge each projection into the one below it. The layers of
    `clean_lines` are kept apart on purpose (see there), so Ibis's attempts to merge them, each
    weighing the complexity of the whole graph, were about half of the compile time of a line
    extract (GL lines: 1.0 s compiled with merging, 0.6 s without); the engines' own optimizers
    see through the nested projections."""
    before = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = before


def _mark_duplicates(stage: ibis.Table, key: list[str], flag: str, how: str) -> ibis.Table:
    """Adds `<flag>__file` and `<flag>__row` (the first occurrence) to later occurrences of `key`."""
    if how == "window":
        window = ibis.window(group_by=[stage["_candidate"], *(stage[k] for k in key)], order_by=[stage["source_file"], stage["row_number"]])
        stage = stage.mutate(
            **{
                f"{flag}__position": ibis.row_number().over(window),
                f"{flag}__file": stage["source_file"].first().over(window),
                f"{flag}__row": stage["row_number"].first().over(window),
            }
        )
        later = stage["_candidate"] & (stage[f"{flag}__position"] > 0)
        return stage.mutate(**{f"{flag}__row": later.ifelse(stage[f"{flag}__row"], ibis.null(dt.int64))}).drop(f"{flag}__position")
    if how != "join":
        raise ValueError(f"duplicates must be 'window' or 'join', got {how!r}")
    later = _later_occurrences(stage, key, flag)
    joined = stage.left_join(later, [stage["source_file"] == later[f"{flag}__sf"], stage["row_number"] == later[f"{flag}__rn"]])
    return joined.drop(f"{flag}__sf", f"{flag}__rn")


def _later_occurrences(stage: ibis.Table, key: list[str], flag: str) -> ibis.Table:
    """The later occurrences of `key` among the `_candidate` rows of `stage`: `<flag>__sf` and
    `<flag>__rn` (the row), `<flag>__file` and `<flag>__row` (where its first occurrence is)."""

    def key_hash(table: ibis.Table):
        # Grouping a month by a 64-bit hash of the key needs far less memory than by the key itself;
        # the ranking below partitions by the key, so a hash collision is never taken for a duplicate.
        joined_key = _as_text(table[key[0]])
        for column in key[1:]:
            joined_key = joined_key + ibis.literal("\x1f") + _as_text(table[column])
        return joined_key.hash()

    # The candidates are filtered twice, differently, rather than once and shared: a shared filter
    # is a second copy of the month in the engine (a common table expression it stores).
    candidates = stage.filter(stage["_candidate"])
    repeated = candidates.group_by(_key_hash=key_hash(candidates)).aggregate(_count=candidates.count())
    repeated = repeated.filter(repeated["_count"] > 1)
    ranked = stage.filter(stage["_candidate"] & key_hash(stage).isin(repeated["_key_hash"])).select(*key, "source_file", "row_number")
    window = ibis.window(group_by=[ranked[k] for k in key], order_by=[ranked["source_file"], ranked["row_number"]])
    later = ranked.mutate(
        _position=ibis.row_number().over(window), _first_file=ranked["source_file"].first().over(window), _first_row=ranked["row_number"].first().over(window)
    )
    return later.filter(later["_position"] > 0).select(
        **{f"{flag}__sf": later["source_file"], f"{flag}__rn": later["row_number"], f"{flag}__file": later["_first_file"], f"{flag}__row": later["_first_row"]}
    )


def _parsers(name: str, source: str, dtype: str, money: bool, cast_dates: bool = False) -> tuple[list[dict], str]:
    """How to parse one column: per layer, column builders (functions of the stage table); the last
    layer gives `parsed__<name>` (NULL when not ok) and `ok__<name>`; plus the reason when not ok.
    Each builder refers to the columns of earlier layers, so that no engine evaluates a regular
    expression or cast more than once per value (PostgreSQL has no common subexpressions)."""
    text, parsed, ok = f"{_TEXT}{source}", f"{_PARSED}{name}", f"{_OK}{name}"
    matches, number = f"match__{name}", f"number__{name}"
    if money:
        amount = f"{_AMOUNT_PREFIX}{source}"
        return [
            {ok: lambda s: s[text].re_search(_AMOUNT)},
            {amount: lambda s: s[ok].ifelse(s[text].replace("+", ""), "0").cast(dt.Decimal(18, 2))},  # '+' only as the sign
            {parsed: lambda s: (s[amount].cast(dt.Decimal(20, 2)) * 100).cast(dt.int64)},
        ], "not an amount (at most 16 digits and two decimal places)"
    if dtype.startswith("string") or dtype in ("str", "object"):
        return [{parsed: lambda s: s[text], ok: lambda s: ibis.literal(True)}], ""
    if dtype.startswith(("int", "float")):
        # A regular expression decides what is a number before the cast: engines differ on what a
        # failed cast does (NULL, an error).
        steps = [
            {matches: lambda s: s[text].re_search(_NUMBER)},
            {number: lambda s: s[matches].ifelse(s[text], "0").cast(dt.float64)},
        ]
        if dtype.startswith("int"):
            whole = lambda s: s[matches] & (s[number] == s[number].floor()) & (s[number].abs() < 2.0**53)  # noqa: E731
            steps.append({ok: whole, parsed: lambda s: whole(s).ifelse(s[number], 0).cast(dt.int64)})
            return steps, "not a whole number"
        finite = lambda s: s[matches] & (s[number].abs() < float("inf"))  # noqa: E731
        steps.append({ok: finite, parsed: lambda s: ibis.cases((finite(s), s[number]), else_=ibis.null(dt.float64))})
        return steps, "not a number"
    if dtype.startswith("datetime") and cast_dates:
        # The engine's cast of text the pattern has shaped: NULL for a day that does not exist. It
        # reads year 0 as 1 BC, which the field-by-field parse rejects. On DuckDB a cast of each
        # distinct date once, where the field-by-field parse took 0.7 s on 10M GL lines.
        cast = f"cast__{name}"
        return [
            {matches: lambda s: s[text].re_search(_DATE)},
            {cast: lambda s: s[matches].ifelse(s[text], ibis.null(dt.string)).try_cast(dt.date)},
            {},
            {ok: lambda s: s[cast].notnull() & (s[cast].year() >= 1), parsed: lambda s: ibis.cases((s[cast].year() >= 1, s[cast]), else_=ibis.null(dt.date))},
        ], "not a date (expected YYYY-MM-DD)"
    if dtype.startswith("datetime"):
        # Checked field by field: a failing cast to a date raises on some engines (PostgreSQL).
        parts = {part: f"{part}__{name}" for part in ("year", "month", "day")}
        defaults = {"year": 2000, "month": 1, "day": 1}
        valid = f"valid__{name}"

        def part(key: str):
            # Plain string functions on text the pattern has shaped (cheaper than regex captures).
            def build(s):
                rest = s[text].substr(5)  # after "YYYY-"
                dash = rest.find("-")
                value = {"year": s[text].substr(0, 4), "month": rest.substr(0, dash), "day": rest.substr(dash + 1)}[key]
                return ibis.cases((s[matches], value.cast(dt.int32)), else_=defaults[key])

            return build

        def validity(s):
            year, month, day = (s[parts[k]] for k in ("year", "month", "day"))
            leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
            last = ibis.cases((month == 2, leap.ifelse(29, 28)), (month.isin([4, 6, 9, 11]), 30), else_=31)
            return s[matches] & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)

        def date(s):
            year, month, day = (s[valid].ifelse(s[parts[k]], defaults[k]) for k in ("year", "month", "day"))
            return ibis.cases((s[valid], ibis.date(year, month, day)), else_=ibis.null(dt.date))

        return [
            {matches: lambda s: s[text].re_search(_DATE)},
            {parts[k]: part(k) for k in ("year", "month", "day")},
            {valid: validity},
            {parsed: date, ok: lambda s: s[valid]},
        ], "not a date (expected YYYY-MM-DD)"
    if dtype == "bool":
        def value(s):
            lowered = s[text].lower()
            return ibis.cases((lowered.isin(_TRUE), True), (lowered.isin(_FALSE), False), else_=ibis.null(dt.boolean))

        return [{parsed: value}, {ok: lambda s: s[parsed].notnull()}], "not true or false"
    raise TypeError(f"no parser for column type {dtype}")


def _strip(value):
    """`value.strip()`, evaluated only where the first or last character is whitespace: a TRIM of
    every value was most of the cleaning's time on DuckDB (1M GL lines, 12 text columns: 7.1 s
    trimming everything, 2.2 s with this test, 0.3 s reading them). The test is a comparison and
    one suffix test per whitespace character, not the code of the first and last characters (10M
    GL lines, 12 text columns, DuckDB: 2.0 s for this test against 4.2 s). A value below "!"
    starts with whitespace or another control character (or is empty), which TRIM leaves alone."""
    edge = value < "!"
    for character in string.whitespace:
        edge |= value.endswith(character)
    return edge.ifelse(value.strip(), value)


def _text_of(stage: ibis.Table, file_columns: dict, column: str):
    """The trimmed text of a text column: its typed value wherever that is not NULL."""
    return stage[f"{_TEXT}{file_columns[column]}"]


def _column_check(table: ibis.Table, name: str, check: pa.Check):
    """A column check of the model as a boolean expression, through pandera's Ibis implementation."""
    from pandera.api.ibis.types import IbisData
    from pandera.backends.ibis.register import register_ibis_backends

    register_ibis_backends()
    # The model's schema holds copies made before the Ibis implementations were registered: the
    # same built-in check is looked up again by its name and statistics (e.g. ge, {'min_value': 0}).
    builtin = getattr(pa.Check, check.name)(**check.statistics)
    out = builtin._check_fn(IbisData(table, name), **builtin._check_kwargs)
    if isinstance(out, ibis.Table):
        # The built-in checks return table.select(<boolean per column>): take the expression itself.
        return out.op().values[name].to_expr()
    return out


def _unique_keys(schema: pa.DataFrameSchema) -> list[list[str]]:
    keys = [list(schema.unique)] if schema.unique else []
    return keys + [[name] for name, column in schema.columns.items() if column.unique]


def _extra_columns(checks: dict) -> list[str]:
    extra = [f"{c}__{part}" for c in checks if c.startswith("dup__") for part in ("file", "row")]
    return extra + [c for c in checks if c == "currency_expected"]


def _text(value: str):
    return lambda t: ibis.literal(value, dt.string)


def _raw_value(column: str):
    return lambda t: t[f"{_RAW}{column}"]


def _quoted(prefix: str, column: str):
    return lambda t: ibis.literal(prefix, dt.string) + t[f"{_RAW}{column}"].fill_null("") + ibis.literal("'")


def _as_text(value):
    if value.type().is_date():
        return value.strftime("%Y-%m-%d")
    return value.cast(dt.string)


def _key_value(key: list[str]):
    def value(t):
        out = _as_text(t[key[0]])
        for column in key[1:]:
            out = out + ibis.literal(" / ") + _as_text(t[column])
        return out

    return value


def _duplicate_reason(flag: str, key: list[str]):
    label = ", ".join(key)

    def reason(t):
        first_file, first_row = t[f"{flag}__file"], t[f"{flag}__row"].cast(dt.string)
        where = (first_file == t["source_file"]).ifelse(
            ibis.literal("row ") + first_row, first_file + ibis.literal(" row ") + first_row
        )
        return ibis.literal(f"duplicate {label} (first at ") + where + ibis.literal(")")

    return reason


def _currency_reason(t):
    return (
        ibis.literal("currency ") + t["currency"] + ibis.literal(" is not the currency of entity ") + t["entity"]
        + ibis.literal(" (") + t["currency_expected"] + ibis.literal("); lines in other currencies are not translated")
    )


def clean_lines_locally(raw, spec: ExtractSpec, references=None, period: str | None = None):
    """`clean_lines` on a RawExtract already in memory (pandas), run on an in-process DuckDB, with
    the result pulled back as a `core.ingestion.cleaning.CleanResult` (for the CLI's preview and tests)."""
    import pyarrow as pa_arrow

    from allocation_pipeline.core.ingestion.cleaning import CleanResult
    from allocation_pipeline.core.ingestion.extracts import _text_columns

    required, optional = spec.file_columns()
    frame = raw.frame
    arrow = _text_columns(pa_arrow.Table.from_pandas(frame[[*required, *optional]], preserve_index=False), [*required, *optional])
    arrow = arrow.append_column("source_file", pa_arrow.array(frame["source_file"].astype(str).tolist(), pa_arrow.string()))
    arrow = arrow.append_column("row_number", pa_arrow.array(frame["row_number"].astype("int64").to_numpy(), pa_arrow.int64()))
    from allocation_pipeline.warehouse.lines import LineEngine

    engine = LineEngine("duckdb://", ibis.duckdb.connect(), "duckdb")
    try:
        cleaned = engine.clean(ibis.memtable(arrow), spec, references, period)
        kept = engine.backend.to_pyarrow(cleaned.kept.order_by(["source_file", "row_number"])).to_pandas()
        quarantine = engine.backend.to_pyarrow(cleaned.quarantine).to_pandas()
        rows_in = int(engine.backend.execute(cleaned.checked.count()))
    finally:
        engine.backend.disconnect()
    return CleanResult(
        extract=spec.name,
        kept=kept_frame(kept, spec),
        quarantine=quarantine_frame(quarantine, raw.unreadable, spec.name),
        rows_in=rows_in + len(raw.unreadable),
    )


def kept_frame(kept: pd.DataFrame, spec: ExtractSpec) -> pd.DataFrame:
    """Kept rows pulled from the engine, with the dtypes `clean_frame` gives."""
    from allocation_pipeline.core.ingestion.cleaning import _finalise_types

    schema = spec.model.to_schema()
    for name, column in schema.columns.items():
        if str(column.dtype).startswith("datetime"):
            kept[name] = pd.to_datetime(kept[name])
        elif str(column.dtype).startswith("int") and column.nullable:
            kept[name] = kept[name].astype("Int64")
    kept = _finalise_types(kept, schema)
    for name in ("period", "source_file"):
        if name in kept:
            kept[name] = kept[name].astype("string")
    kept["row_number"] = kept["row_number"].astype("int64")
    return kept.reset_index(drop=True)


def quarantine_frame(quarantine: pd.DataFrame, unreadable: pd.DataFrame, extract: str) -> pd.DataFrame:
    """Quarantine rows (with the reader's unreadable rows) sorted like `clean_frame` sorts them."""
    frames = [f for f in (unreadable.assign(extract=extract)[QUARANTINE_COLUMNS], quarantine[QUARANTINE_COLUMNS]) if not f.empty]
    out = pd.concat(frames, ignore_index=True) if frames else quarantine[QUARANTINE_COLUMNS]
    out["column"] = out["column"].astype("string")
    out["row_number"] = out["row_number"].astype("int64")
    return out.sort_values(["source_file", "row_number", "column", "reason"], na_position="first", ignore_index=True)
