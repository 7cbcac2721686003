"""The sources file: where each extract is read from (files, a SQL table or query, FOCUS cloud
billing, an Excel sheet), as typed pydantic models; every problem is reported at once with its place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS

# Extracts that grow with the business; the others are small enough for a workbook.
LINE_LEVEL_EXTRACTS = ("gl_lines", "ap_invoices", "timesheets")
METRIC_NAME = r"^[a-z][a-z0-9_]*$"
# FOCUS columns that hold an amount in BillingCurrency; EffectiveCost (amortized) is the default.
FOCUS_COST_COLUMNS = ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost")


class SourcesError(ValueError):
    """A sources file or a source that cannot be used. `problems` lists each one with its place."""

    def __init__(self, location: str, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.location = location
        joined = self.problems[0] if len(self.problems) == 1 else "\n  " + "\n  ".join(self.problems)
        super().__init__(f"{location}: {joined}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSource(_Model):
    """The default: `NAME.csv`, `NAME.parquet` or a folder `NAME/` in the extracts directory."""

    kind: Literal["files"]


class SqlSource(_Model):
    """A table, view or query in a database reached by a SQLAlchemy-style URL.

    `columns` maps an extract column to the source column holding it (same name when absent).
    `key` names the source columns that identify a row (default: the extract's unique key, mapped
    through `columns`); quarantine rows name these values instead of a file row.
    `period_column` (a date column of the source) lets the database select the month's rows.
    """

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    table: str | None = None
    query: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    key: list[str] | None = None
    period_column: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> "SqlSource":
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' (a table or view, schema.name allowed) or 'query'")
        if self.key is not None and not self.key:
            raise ValueError("'key' needs at least one column")
        return self

    @property
    def label(self) -> str:
        return self.table or "query"


class FocusCostCenter(_Model):
    """How a FOCUS row finds its cost object: a tag in `Tags`, else `by` (a FOCUS column such as
    SubAccountId or ServiceName) looked up in `map` and/or `map_file` (a CSV with the columns
    `<by>` and the dimension, e.g. SubAccountId,cost_center). `unmapped` names a cost object that
    takes what neither finds (still reported); without it, that spend is reported and left out."""

    tag: str | None = None
    by: str | None = None
    map: dict[str, str] = Field(default_factory=dict)
    map_file: str | None = None
    unmapped: str | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        # YAML reads an account id such as 123456789012 as a number; the FOCUS column is text.
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _some_mapping(self) -> "FocusCostCenter":
        if self.tag is None and self.by is None:
            raise ValueError("give 'tag' (a key in the Tags column) and/or 'by' with 'map' or 'map_file'")
        if self.by is not None and not self.map and self.map_file is None:
            raise ValueError(f"'by: {self.by}' needs 'map' or 'map_file'")
        if self.by is None and (self.map or self.map_file):
            raise ValueError("'map' and 'map_file' need 'by' (the FOCUS column they look up, e.g. SubAccountId)")
        return self


class FocusMetric(_Model):
    """One driver from the spend: `name` alone sums every row; `where` keeps rows whose FOCUS
    column has one of the given values; `per` makes one metric per value of a FOCUS column,
    named `<name>_<value>` (e.g. per ServiceCategory: spend_compute, spend_databases)."""

    name: str = Field(pattern=METRIC_NAME)
    where: dict[str, str | list[str]] = Field(default_factory=dict)
    per: str | None = None

    def where_values(self) -> dict[str, list[str]]:
        return {column: [values] if isinstance(values, str) else list(values) for column, values in self.where.items()}


class FocusSource(_Model):
    """A FOCUS 1.x cloud billing export (CSV or Parquet, one or many files) read as usage metrics.

    `files` is a glob relative to the extracts directory; `{period}` in it stands for the month
    (YYYY-MM). Rows are placed in a month by `period_from`; `cost` is the amount summed.
    """

    kind: Literal["focus"]
    files: str = Field(min_length=1)
    format: Literal["csv", "parquet"] | None = None
    cost: Literal[FOCUS_COST_COLUMNS] = "EffectiveCost"  # type: ignore[valid-type]
    period_from: Literal["ChargePeriodStart", "BillingPeriodStart"] = "ChargePeriodStart"
    charge_categories: list[str] | None = None
    dimension: str = "cost_center"
    cost_center: FocusCostCenter
    metrics: list[FocusMetric] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct_metrics(self) -> "FocusSource":
        names = [m.name for m in self.metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric name(s) {', '.join(repeated)} given more than once")
        return self


class ExcelSource(_Model):
    """A sheet of an .xlsx workbook (relative paths from the extracts directory). `header_row` is
    the worksheet row holding the column names; `columns` maps an extract column to its header."""

    kind: Literal["excel"]
    workbook: str = Field(min_length=1)
    sheet: str | None = None
    header_row: int = Field(default=1, ge=1)
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("workbook")
    @classmethod
    def _xlsx(cls, value: str) -> str:
        if not value.lower().endswith((".xlsx", ".xlsm")):
            raise ValueError(f"'{value}' is not an .xlsx workbook (save it as .xlsx; .xls and .ods are not read)")
        return value


Source = Annotated[Union[FilesSource, SqlSource, FocusSource, ExcelSource], Field(discriminator="kind")]
# An extract may come from several sources whose rows are put together (usage metrics from a file
# and from the cloud bill, say).
SourceList = Annotated[list[Source], Field(min_length=1)]


class SourcesFile(_Model):
    """The whole file: `sources:` maps an extract name to one source or a list of them."""

    sources: dict[str, SourceList]

    @field_validator("sources", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    def sources_of(self, extract: str) -> list[Source]:
        """The sources of `extract`; an extract the file does not name is read from files."""
        return list(self.sources.get(extract) or [FilesSource(kind="files")])


_ADAPTER = TypeAdapter(SourcesFile)


def parse_sources(document: Any, location: str = "sources") -> SourcesFile:
    """Validate a parsed sources document; every problem is in one SourcesError, each with its place."""
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise SourcesError(location, "expected a mapping with a 'sources' mapping (extract name: source)")
    singles = {name for name, given in document["sources"].items() if not isinstance(given, list)}
    problems = _extract_problems(document["sources"])
    try:
        parsed = _ADAPTER.validate_python(document)
    except ValidationError as exc:
        problems += [_problem(error, singles) for error in exc.errors()]
    if problems:
        raise SourcesError(location, problems)
    return parsed


def _extract_problems(sources: dict) -> list[str]:
    """Extract names the pipeline does not know, and kinds that do not fit the extract."""
    problems = []
    for extract, given in sources.items():
        if extract not in EXTRACT_SPECS:
            problems.append(f"sources.{extract}: unknown extract (extracts: {', '.join(EXTRACT_SPECS)})")
            continue
        for source in given if isinstance(given, list) else [given]:
            kind = source.get("kind") if isinstance(source, dict) else None
            if kind == "focus" and extract != "usage_metrics":
                problems.append(f"sources.{extract}: kind focus reads cloud billing as usage_metrics only")
            if kind == "excel" and extract in LINE_LEVEL_EXTRACTS:
                problems.append(f"sources.{extract}: kind excel is for the small extracts, not {', '.join(LINE_LEVEL_EXTRACTS)}")
    return problems


def load_sources(path: str | Path) -> SourcesFile:
    path = Path(path)
    if not path.is_file():
        raise SourcesError(str(path), "sources file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SourcesError(str(path), f"not valid YAML ({exc})") from None
    return parse_sources(document, str(path))


def _problem(error: dict, singles: set[str]) -> str:
    """One pydantic error as `sources.gl_lines.url: field required`, without the union's branch
    names, and without a list position where the file gives one source, not a list."""
    parts: list[str] = []
    loc = list(error["loc"])
    for i, part in enumerate(loc):
        if isinstance(part, int):
            if not (i >= 2 and loc[0] == "sources" and loc[1] in singles):
                parts.append(f"[{part + 1}]")
        elif part in ("files", "sql", "focus", "excel") and i > 0 and isinstance(loc[i - 1], int):
            continue  # the discriminated union's branch name: the kind, already implied
        elif re.fullmatch(r"list\[.*\]|tagged-union\[.*\]|function-after\[.*\]", str(part)):
            continue
        else:
            parts.append(f".{part}" if parts else str(part))
    where = "".join(parts) or "file"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        message = "kind must be one of files, sql, focus, excel"
    elif error["type"] == "union_tag_not_found":
        message = "each source needs a 'kind' (files, sql, focus or excel)"
    elif error["type"] == "extra_forbidden":
        message = "unknown setting"
    elif error["type"] == "string_pattern_mismatch" and loc[-1] == "name":
        message = f"metric name {error['input']!r} must be lower case letters, digits and _ (e.g. cloud_spend)"
    return f"{where}: {message}"
