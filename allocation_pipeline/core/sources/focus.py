"""FOCUS cloud billing: a FOCUS 1.x cost and usage export (CSV or Parquet, one or many files) read
as usage metrics per month and cost object; spend no cost object claims is measured, never dropped."""

from __future__ import annotations

import csv
import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.sources.config import FocusSource, SourcesError

# The columns of a FOCUS 1.0 dataset, with the seven FOCUS 1.1 added (the specification's order).
FOCUS_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId", "CapacityReservationStatus",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit",
    "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails",
    "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
)
# How many unmapped groups the report lists (largest first).
TOP_UNMAPPED = 10


@dataclass(frozen=True)
class FocusRead:
    """Usage metric rows read from a FOCUS export, and what no cost object claimed.

    `total` and `unmapped` are the period's spend (the `cost` column, BillingCurrency), `unmapped`
    the part with no tag and no mapping (0 when every row found a cost object); `unmapped_by`
    breaks it down by the column the mapping looks at (or ServiceName for tags only).
    """

    raw: RawExtract
    cost: str
    currency: str | None
    total: float
    unmapped: float
    unmapped_by: pd.DataFrame
    unmapped_column: str
    assigned_to: str | None
    period: str | None

    @property
    def unmapped_share(self) -> float:
        return self.unmapped / self.total if self.total else 0.0

    def summary(self, where: str) -> str | None:
        """A warning sentence when spend found no cost object, else None."""
        if not self.unmapped:
            return None
        top = ", ".join(f"{self.unmapped_column} {row.key}: {row.amount:,.2f}" for row in self.unmapped_by.head(3).itertuples())
        fate = f"assigned to {self.assigned_to}" if self.assigned_to else "left out of every usage metric"
        month = f" in {self.period}" if self.period else ""
        return (
            f"{where}: {self.unmapped:,.2f} of {self.total:,.2f} {self.currency or ''} {self.cost}{month} "
            f"({self.unmapped_share:.1%}) has no cost object, {fate}; largest: {top}"
        )


def read_focus(source: FocusSource, root: Path | str, extract: str = "usage_metrics", period: str | None = None) -> FocusRead:
    """The export's spend per period, metric and cost object as usage metric rows.

    Every matching file is read and checked before anything is returned, so a bad file fails the
    whole source (SourcesError naming the file and the problem) and nothing is half-loaded.
    """
    root = Path(root)
    pattern = source.files.replace("{period}", period) if period else source.files
    where = f"{extract} (focus {pattern})"
    if "{period}" in pattern:
        raise SourcesError(where, "the file pattern holds {period}, so the source can only be read for one month")
    paths = sorted(Path(p) for p in glob.glob(str(root / pattern), recursive=True) if Path(p).is_file())
    if not paths:
        raise SourcesError(where, f"no file matches {pattern} under the extracts directory")
    mapping = _mapping_table(source, root, where)
    needed = _needed_columns(source)
    frames = [_read_file(path, str(path.relative_to(root)), needed, source) for path in paths]
    rows = pd.concat(frames, ignore_index=True)
    rows["period"] = _periods(rows, source.period_from, where)
    if period is not None:
        rows = rows[rows["period"] == period]
    if source.charge_categories is not None:
        rows = rows[rows["ChargeCategory"].isin(source.charge_categories)]
    currencies = sorted(rows["BillingCurrency"].dropna().unique())
    if len(currencies) > 1:
        raise SourcesError(where, f"more than one BillingCurrency ({', '.join(currencies)}); give each currency its own source")
    rows["cost_object"] = _cost_objects(rows, source, mapping)
    unmapped_rows = rows[rows["cost_object"].isna()]
    breakdown_column = source.cost_center.by or "ServiceName"
    unmapped_by = (
        unmapped_rows.groupby(unmapped_rows[breakdown_column].astype("string").fillna("(none)"))["cost"]
        .sum()
        .rename("amount")
        .rename_axis("key")
        .reset_index()
        .sort_values("amount", ascending=False, key=abs, ignore_index=True)
        .head(TOP_UNMAPPED)
    )
    if source.cost_center.unmapped:
        rows["cost_object"] = rows["cost_object"].fillna(source.cost_center.unmapped)
    metrics = _metric_rows(rows[rows["cost_object"].notna()], source)
    location = pattern
    metrics["source_file"] = [f"{location}[metric={m}, {source.dimension}={c}]" for m, c in zip(metrics["metric"], metrics["cost_object"])]
    metrics["row_number"] = np.arange(1, len(metrics) + 1, dtype="int64")
    metrics["dimension"] = source.dimension
    metrics["value"] = metrics["value"].round(6)
    frame = metrics[["period", "metric", "dimension", "cost_object", "value", "source_file", "row_number"]]
    raw = RawExtract(extract=extract, frame=frame, files=[str(p.relative_to(root)) for p in paths])
    return FocusRead(
        raw=raw,
        cost=source.cost,
        currency=currencies[0] if currencies else None,
        total=float(rows["cost"].sum()),
        unmapped=float(unmapped_rows["cost"].sum()),
        unmapped_by=unmapped_by,
        unmapped_column=breakdown_column,
        assigned_to=source.cost_center.unmapped,
        period=period,
    )


def _needed_columns(source: FocusSource) -> list[str]:
    # ServiceName (mandatory in FOCUS) breaks down the spend no tag claims.
    columns = [source.period_from, source.cost, "BillingCurrency", "ServiceName"]
    if source.cost_center.tag:
        columns.append("Tags")
    if source.cost_center.by:
        columns.append(source.cost_center.by)
    if source.charge_categories is not None:
        columns.append("ChargeCategory")
    for metric in source.metrics:
        columns += list(metric.where) + ([metric.per] if metric.per else [])
    return list(dict.fromkeys(columns))


def _read_file(path: Path, name: str, needed: list[str], source: FocusSource) -> pd.DataFrame:
    where = f"usage_metrics (focus {name})"
    kind = source.format or ("parquet" if path.suffix.lower() == ".parquet" else "csv")
    try:
        if kind == "parquet":
            columns = pq.read_schema(path).names
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                columns = [c.strip() for c in next(csv.reader(handle), [])]
    except Exception as exc:  # damaged Parquet, undecodable text
        raise SourcesError(where, f"not a readable {kind} file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in needed if c not in columns]
    if missing:
        spec = [c for c in columns if c in FOCUS_COLUMNS]
        hint = "" if spec else " - this does not look like a FOCUS export (no FOCUS column in its header)"
        raise SourcesError(where, f"missing FOCUS column(s) {', '.join(missing)}{hint}")
    try:
        if kind == "parquet":
            table = pq.read_table(path, columns=needed)
        else:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(include_columns=needed, column_types={c: "string" for c in needed}),
            )
    except Exception as exc:
        raise SourcesError(where, f"cannot be read ({str(exc).splitlines()[0]})") from None
    frame = table.to_pandas(maps_as_pydicts="strict") if kind == "parquet" else table.to_pandas()
    cost = pd.to_numeric(frame[source.cost], errors="coerce")
    bad = cost.isna() & frame[source.cost].notna() & (frame[source.cost].astype("string").str.strip() != "")
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise SourcesError(where, f"{source.cost} is not a number in {int(bad.sum())} row(s) (data rows {rows})")
    frame["cost"] = cost.fillna(0.0)
    return frame


def _periods(rows: pd.DataFrame, column: str, where: str) -> pd.Series:
    values = rows[column]
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values.astype("string"), utc=True, format="ISO8601", errors="coerce")
    elif values.dt.tz is not None:
        values = values.dt.tz_convert("UTC")
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
        raise SourcesError(where, f"{column} is missing or not an ISO date-time in {int(values.isna().sum())} row(s) (first: data row {first})")
    return values.dt.strftime("%Y-%m")


def _mapping_table(source: FocusSource, root: Path, where: str) -> dict[str, str]:
    mapping = dict(source.cost_center.map)
    if source.cost_center.map_file is None:
        return mapping
    path = root / source.cost_center.map_file
    if not path.is_file():
        raise SourcesError(where, f"map_file {source.cost_center.map_file} not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    wanted = [source.cost_center.by, source.dimension]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise SourcesError(where, f"map_file {source.cost_center.map_file} lacks column(s) {', '.join(missing)} (found: {', '.join(table.columns)})")
    repeated = table[table.duplicated(wanted[0], keep=False)][wanted[0]].unique()
    if len(repeated):
        raise SourcesError(where, f"map_file {source.cost_center.map_file} maps {', '.join(repeated[:3])} more than once")
    return {**dict(zip(table[wanted[0]].str.strip(), table[wanted[1]].str.strip())), **mapping}


def _cost_objects(rows: pd.DataFrame, source: FocusSource, mapping: dict[str, str]) -> pd.Series:
    """Each row's cost object: the tag first, else the mapped column; NA when neither has one."""
    found = pd.Series(pd.NA, index=rows.index, dtype="string")
    if source.cost_center.tag:
        codes, uniques = pd.factorize(rows["Tags"].map(_tags_key), use_na_sentinel=True)
        values = np.array([_tag_value(u, source.cost_center.tag) for u in uniques] + [None], dtype=object)
        found = pd.Series(values[codes], index=rows.index, dtype="string")
    if source.cost_center.by:
        looked_up = rows[source.cost_center.by].astype("string").str.strip().map(mapping).astype("string")
        found = found.fillna(looked_up)
    return found.where(found.str.strip() != "")


def _tags_key(value) -> str | None:
    """Tags as JSON text (CSV) or a mapping (Parquet map/struct), made hashable as JSON text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return json.dumps(dict(value), sort_keys=True)


def _tag_value(text: str | None, tag: str) -> str | None:
    if not text:
        return None
    try:
        tags = json.loads(text)
    except ValueError:
        return None
    value = tags.get(tag) if isinstance(tags, dict) else None
    return str(value).strip() if value not in (None, "") else None


def _metric_rows(rows: pd.DataFrame, source: FocusSource) -> pd.DataFrame:
    parts = []
    for metric in source.metrics:
        selected = rows
        for column, values in metric.where_values().items():
            selected = selected[selected[column].astype("string").isin(values)]
        if metric.per:
            names = metric.name + "_" + selected[metric.per].astype("string").fillna("none").map(_slug)
        else:
            names = pd.Series(metric.name, index=selected.index)
        sums = selected.groupby([selected["period"], names.rename("metric"), selected["cost_object"]])["cost"].sum()
        parts.append(sums.rename("value").reset_index())
    if not parts:
        return pd.DataFrame({"period": [], "metric": [], "cost_object": [], "value": []})
    return pd.concat(parts, ignore_index=True).sort_values(["period", "metric", "cost_object"], ignore_index=True)


def _slug(value: str) -> str:
    """A FOCUS value as part of a metric name: `AI and Machine Learning` -> `ai_and_machine_learning`."""
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_") or "none"
