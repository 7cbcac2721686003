"""Cleaning: parse an extract's text into typed columns, validate it against its pandera model,
and split it into kept rows and quarantine rows (one per problem, each with its reason)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from allocation_pipeline.core.ingestion import schemas
from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.money import parse_cents

QUARANTINE_COLUMNS = ["extract", "source_file", "row_number", "column", "value", "reason"]
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class ExtractSpec:
    """How one extract is read and checked.

    `period_from` names the column that places a row in a fiscal period: a date column
    (the period is its YYYY-MM) or a text column already holding YYYY-MM; None for master data.
    `references` maps a column to the master-data set its values must belong to.
    """

    name: str
    model: type[pa.DataFrameModel]
    period_from: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        return self.period_from is not None

    def file_columns(self) -> tuple[list[str], list[str]]:
        """(required, optional) column names as they appear in the file."""
        required, optional = [], []
        for name, column in self.model.to_schema().columns.items():
            metadata = column.metadata or {}
            file_name = metadata.get("money", name)
            (optional if metadata.get("optional") else required).append(file_name)
        return required, optional


EXTRACT_SPECS: dict[str, ExtractSpec] = {
    spec.name: spec
    for spec in (
        ExtractSpec("entities", schemas.Entities),
        ExtractSpec("accounts", schemas.Accounts),
        ExtractSpec("cost_centers", schemas.CostCenters, references={"entity": "entity"}),
        ExtractSpec("dimension_members", schemas.DimensionMembers),
        ExtractSpec("fiscal_periods", schemas.FiscalPeriods, references={"entity": "entity"}),
        ExtractSpec(
            "gl_lines",
            schemas.GLLines,
            period_from="posting_date",
            references={"entity": "entity", "account": "account", "cost_center": "cost center"},
        ),
        ExtractSpec(
            "ap_invoices",
            schemas.APInvoices,
            period_from="invoice_date",
            references={"entity": "entity", "account": "account", "cost_center": "cost center"},
        ),
        ExtractSpec("timesheets", schemas.Timesheets, period_from="work_date", references={"cost_center": "cost center"}),
        ExtractSpec("headcount", schemas.Headcount, period_from="period", references={"cost_center": "cost center"}),
        ExtractSpec("usage_metrics", schemas.UsageMetrics, period_from="period"),
        ExtractSpec(
            "allocation_matrix",
            schemas.AllocationMatrix,
            period_from="period",
            references={"entity": "entity", "source": "cost center", "target": "cost center"},
        ),
    )
}


@dataclass(frozen=True)
class CleanResult:
    """Kept rows (typed, with `period` for partitioned extracts) and quarantine rows.

    rows_in = rows_kept + rows_quarantined always holds; a quarantined row may have several
    problems and so several quarantine rows.
    """

    extract: str
    kept: pd.DataFrame
    quarantine: pd.DataFrame
    rows_in: int

    @property
    def rows_kept(self) -> int:
        return len(self.kept)

    @property
    def rows_quarantined(self) -> int:
        if self.quarantine.empty:
            return 0
        return int(self.quarantine[["source_file", "row_number"]].drop_duplicates().shape[0])

    def reasons(self) -> pd.DataFrame:
        """Quarantine rows counted by column and reason, most frequent first."""
        if self.quarantine.empty:
            return pd.DataFrame({"column": [], "reason": [], "rows": []})
        general = self.quarantine.assign(reason=self.quarantine["reason"].str.replace(r"'[^']*'", "'…'", regex=True))
        counts = general.groupby(["column", "reason"], dropna=False).size().rename("rows").reset_index()
        return counts.sort_values(["rows", "column"], ascending=[False, True], ignore_index=True)


def clean_extract(
    raw: RawExtract,
    spec: ExtractSpec,
    references: dict[str, pd.Series | set | list] | None = None,
    period: str | None = None,
) -> CleanResult:
    """Parse, validate and split one extract. `references` maps a spec reference name to its values.

    For partitioned extracts with `period` given, rows of other periods are left out (they
    belong to other partitions), except in a file named after the period, where a row of another
    period is a problem and is quarantined.

    The line extracts (GL, AP, timesheets) are cleaned by the same expressions the engine runs
    (`core.ingestion.line_cleaning`), here on an in-process DuckDB.
    """
    from allocation_pipeline.core.ingestion.line_cleaning import LINE_EXTRACTS, clean_lines_locally

    if spec.name in LINE_EXTRACTS:
        return clean_lines_locally(raw, spec, references, period)
    return clean_frame(raw, spec, references, period)


def clean_frame(
    raw: RawExtract,
    spec: ExtractSpec,
    references: dict[str, pd.Series | set | list] | None = None,
    period: str | None = None,
) -> CleanResult:
    """`clean_extract` in pandas, for the small extracts (master data, headcount, usage metrics, matrix)."""
    frame = raw.frame
    problems: list[pd.DataFrame] = []
    schema = spec.model.to_schema()
    typed = pd.DataFrame(index=frame.index)
    unparsed = pd.Series(False, index=frame.index)

    for name, column in schema.columns.items():
        metadata = column.metadata or {}
        file_name = metadata.get("money", name)
        values = frame[file_name]
        parsed, bad, reason = _parse(values, str(column.dtype), bool(metadata.get("money")))
        missing = parsed.isna() & ~bad
        if not column.nullable:
            problems.append(_problems(frame, missing, file_name, "missing value"))
            unparsed |= missing
        problems.append(_problems(frame, bad, file_name, reason))
        unparsed |= bad
        typed[name] = parsed

    # Rows of other periods belong to other partitions, unless the file holds one period only.
    in_scope = pd.Series(True, index=frame.index)
    if spec.partitioned:
        row_period = _row_period(typed[spec.period_from])
        typed["period"] = row_period
        if period is not None:
            other = row_period.notna() & (row_period != period)
            single_period_file = _per_file(frame["source_file"], lambda f: _file_period(f) == period).astype(bool)
            wrong_file = other & single_period_file
            problems.append(
                _problems(frame, wrong_file, spec.period_from, f"outside period {period}, which is the only period this file holds")
            )
            unparsed |= wrong_file
            in_scope = ~(other & ~single_period_file)

    candidates = ~unparsed & in_scope
    problems.append(_validate(schema, typed[candidates], frame, spec))
    problems.append(_duplicates(schema, typed, frame, candidates))
    for column, reference in (spec.references or {}).items():
        known = (references or {}).get(reference)
        if known is None:
            continue
        known_values = pd.Index(pd.Series(list(known) if isinstance(known, set) else known, dtype="string").dropna().unique())
        unknown = candidates & typed[column].notna() & ~typed[column].isin(known_values)
        problems.append(_problems(frame, unknown, column, f"unknown {reference}", quote_value=True))

    quarantine = pd.concat([raw.unreadable.assign(extract=spec.name)] + [p for p in problems if not p.empty], ignore_index=True)
    quarantine = quarantine[QUARANTINE_COLUMNS].assign(extract=spec.name)
    quarantine["column"] = quarantine["column"].astype("string")
    quarantine = quarantine[_in_scope_rows(quarantine, frame, in_scope)]
    is_bad = _row_keys(frame).isin(_row_keys(quarantine))
    keep = in_scope & ~is_bad
    kept = typed[keep].copy()
    kept["source_file"] = frame.loc[keep, "source_file"].astype("string")
    kept["row_number"] = frame.loc[keep, "row_number"].astype("int64")
    kept = _finalise_types(kept, schema)
    quarantine = quarantine.sort_values(["source_file", "row_number", "column"], na_position="first", ignore_index=True)
    quarantine["row_number"] = quarantine["row_number"].astype("int64")
    rows_in = int(in_scope.sum()) + len(raw.unreadable)
    return CleanResult(extract=spec.name, kept=kept.reset_index(drop=True), quarantine=quarantine, rows_in=rows_in)


def _in_scope_rows(quarantine: pd.DataFrame, frame: pd.DataFrame, in_scope: pd.Series) -> pd.Series:
    """Drop problems of rows that belong to other partitions (their own runs report them)."""
    if quarantine.empty or bool(in_scope.all()):
        return pd.Series(True, index=quarantine.index)
    return pd.Series(~_row_keys(quarantine).isin(_row_keys(frame[~in_scope])), index=quarantine.index)


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """One hashable key per (file, row) for fast membership tests."""
    return frame["source_file"].astype("string") + ":" + frame["row_number"].astype("int64").astype("string")


def _parse(values: pd.Series, dtype: str, money: bool) -> tuple[pd.Series, pd.Series, str]:
    """Parsed values (NA where missing or bad), a mask of present-but-bad values, and the reason."""
    if money:
        cents, bad = parse_cents(values)
        return cents, bad, "not an amount (at most 16 digits and two decimal places)"
    text = None
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        text = values.astype("string").str.strip()
        present = text.notna() & (text != "")
    else:
        present = values.notna()
    if dtype.startswith("string") or dtype in ("str", "object"):
        parsed = text if text is not None else values.astype("string")
        return parsed.where(present), pd.Series(False, index=values.index), ""
    if dtype.startswith("int"):
        numbers = pd.to_numeric(text if text is not None else values, errors="coerce")
        as_float = numbers.astype("float64")
        whole = numbers.notna() & (as_float == np.floor(as_float)) & (as_float.abs() < 2.0**53)
        bad = present & ~whole
        return numbers.where(whole).astype("Int64"), bad.fillna(False).astype(bool), "not a whole number"
    if dtype.startswith("float"):
        numbers = pd.to_numeric(text if text is not None else values, errors="coerce").astype("float64")
        finite = np.isfinite(numbers)
        bad = present & ~finite
        return numbers.where(finite), bad.fillna(False).astype(bool), "not a number"
    if dtype.startswith("datetime"):
        if text is not None:
            dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        else:
            dates = pd.to_datetime(values, errors="coerce")
        # pandas reads year 0 ("0000-01-01"), which is no calendar date (the engines reject it too).
        dates = dates.where(dates.isna() | (dates.dt.year >= 1))
        bad = present & dates.isna()
        return dates, bad.fillna(False).astype(bool), "not a date (expected YYYY-MM-DD)"
    if dtype == "bool":
        if text is None:
            return values.astype("boolean"), pd.Series(False, index=values.index), ""
        lowered = text.str.lower()
        parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
        parsed[lowered.isin(_TRUE).fillna(False)] = True
        parsed[lowered.isin(_FALSE).fillna(False)] = False
        bad = present & parsed.isna()
        return parsed, bad.fillna(False).astype(bool), "not true or false"
    raise TypeError(f"no parser for column type {dtype}")


def _row_period(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        # Formatting only the distinct months is much faster than strftime on every row.
        months = (values.dt.year * 100 + values.dt.month).astype("Int64")
        return _per_file(months, lambda m: f"{m // 100:04d}-{m % 100:02d}").astype("string")
    return values.astype("string")


def _per_file(values: pd.Series, function) -> pd.Series:
    """`function` applied to each distinct value only (few files, few months, many rows)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([function(u) for u in uniques] + [None], dtype=object)  # code -1: missing
    return pd.Series(mapped[codes], index=values.index)


def _file_period(source_file: str) -> str | None:
    stem = source_file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem if re.fullmatch(r"\d{4}-\d{2}", stem) else None


def _problems(frame: pd.DataFrame, mask: pd.Series, column: str | None, reason: str, quote_value: bool = False) -> pd.DataFrame:
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    rows = frame.loc[mask]
    value = rows[column].astype("string") if column is not None else pd.Series(pd.NA, index=rows.index, dtype="string")
    reasons = ((reason + " '") + value.fillna("") + "'") if quote_value else pd.Series(reason, index=rows.index)
    return pd.DataFrame(
        {
            "extract": "",
            "source_file": rows["source_file"].astype("string"),
            "row_number": rows["row_number"].astype("int64"),
            "column": column,
            "value": value,
            "reason": reasons,
        }
    )


def _validate(schema: pa.DataFrameSchema, typed: pd.DataFrame, frame: pd.DataFrame, spec: ExtractSpec) -> pd.DataFrame:
    """Run the pandera model (uniqueness aside) and turn its failure cases into quarantine rows."""
    if typed.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    # Uniqueness is checked by `_duplicates`, which can say where the first occurrence is.
    schema = copy.deepcopy(schema)
    schema.unique = None
    for name, column in schema.columns.items():
        if column.unique:
            schema = schema.update_column(name, unique=False)
    prepared = _finalise_types(typed.drop(columns=[c for c in typed.columns if c not in schema.columns]), schema)
    try:
        schema.validate(prepared, lazy=True)
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    cases = cases[cases["index"].notna()].copy()
    if cases.empty:
        raise ValueError(f"{spec.name}: validation failed without row positions: {errors}")
    cases["index"] = cases["index"].astype("int64")
    whole_row = cases["schema_context"] == "DataFrameSchema"
    cases.loc[whole_row, "column"] = None
    cases = cases.drop_duplicates(subset=["index", "column", "check"])
    money_sources = {n: (c.metadata or {}).get("money", n) for n, c in schema.columns.items()}
    rows = frame.loc[cases["index"].to_numpy()]
    file_columns = [money_sources.get(c, c) if isinstance(c, str) else None for c in cases["column"]]
    values = [None if col is None else (None if pd.isna(v) else str(v)) for col, v in zip(file_columns, [rows.iloc[i][c] if c else None for i, c in enumerate(file_columns)])]
    return pd.DataFrame(
        {
            "extract": "",
            "source_file": rows["source_file"].astype("string").to_numpy(),
            "row_number": rows["row_number"].astype("int64").to_numpy(),
            "column": file_columns,
            "value": values,
            "reason": [_reason(str(check), money_sources.get(col) != col if isinstance(col, str) else False) for check, col in zip(cases["check"], cases["column"])],
        }
    )


def _reason(check: str, is_money: bool) -> str:
    """A pandera check name in words."""
    match = re.fullmatch(r"(\w+)\((.*)\)", check, flags=re.S)
    if not match:
        return check
    name, argument = match.groups()
    if is_money and name.startswith(("greater", "less")):
        argument = f"{int(argument) / 100:.2f}" if argument.lstrip("-").isdigit() else argument
    words = {
        "greater_than_or_equal_to": "must not be below {}",
        "greater_than": "must be greater than {}",
        "less_than_or_equal_to": "must not be above {}",
        "less_than": "must be less than {}",
        "isin": "must be one of {}",
        "str_matches": "does not have the expected format {}",
        "not_nullable": "missing value",
        "in_range": "must be in range {}",
    }
    if name in words:
        text = argument.strip("[]").replace("'", "") if name == "isin" else argument.strip("'")
        return words[name].format(text)
    return check


def _duplicates(schema: pa.DataFrameSchema, typed: pd.DataFrame, frame: pd.DataFrame, candidates: pd.Series) -> pd.DataFrame:
    """Later occurrences of a unique key, each pointing at the first occurrence's row."""
    keys: list[list[str]] = []
    if schema.unique:
        keys.append(list(schema.unique))
    keys += [[name] for name, column in schema.columns.items() if column.unique]
    found = []
    scoped = typed[candidates]
    for key in keys:
        if scoped.empty:
            break
        repeated = scoped.duplicated(subset=key, keep="first")
        if not repeated.any():
            continue
        first_row = frame.loc[scoped.index, "row_number"].groupby([scoped[k] for k in key], dropna=False).transform("first")
        first_file = frame.loc[scoped.index, "source_file"].groupby([scoped[k] for k in key], dropna=False).transform("first")
        mask = pd.Series(False, index=frame.index)
        mask[repeated[repeated].index] = True
        problem = _problems(frame, mask, None, "")
        label = ", ".join(key)
        where = [
            f"row {r}" if f == sf else f"{f} row {r}"
            for f, r, sf in zip(first_file[repeated].astype(str), first_row[repeated], frame.loc[repeated[repeated].index, "source_file"])
        ]
        problem["column"] = key[0] if len(key) == 1 else None
        problem["value"] = scoped.loc[repeated, key].astype("string").agg(" / ".join, axis=1).to_numpy()
        problem["reason"] = [f"duplicate {label} (first at {w})" for w in where]
        found.append(problem)
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=QUARANTINE_COLUMNS)


def _finalise_types(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Nullable parse types to the model's plain dtypes (no NA remains in required columns)."""
    out = frame.copy()
    for name, column in schema.columns.items():
        if name not in out:
            continue
        dtype = str(column.dtype)
        if dtype.startswith("int") and not column.nullable:
            out[name] = out[name].astype("int64")
        elif dtype == "bool" and not column.nullable:
            out[name] = out[name].astype(bool)
        elif dtype.startswith("float"):
            out[name] = out[name].astype("float64")
        elif dtype.startswith("string") or dtype == "str":
            out[name] = out[name].astype("string")
    return out
