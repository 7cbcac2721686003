"""Test inputs for the sources: FOCUS-shaped billing files (every column of the specification's
list, plausible values) and small Excel workbooks."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from allocation_pipeline.core.sources.focus import FOCUS_COLUMNS

TIMESTAMP_COLUMNS = {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
NUMBER_COLUMNS = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity", "PricingQuantity",
                  "ListUnitPrice", "ContractedUnitPrice", "CommitmentDiscountQuantity"}


@dataclass
class Charge:
    """One FOCUS row; what the tests vary. `tags` is the Tags object (JSON text in CSV)."""

    service: str
    category: str
    account: str
    cost: float
    tags: dict = field(default_factory=dict)
    day: dt.date = dt.date(2026, 10, 5)
    charge_category: str = "Usage"
    currency: str = "USD"


def focus_row(charge: Charge) -> dict:
    start = dt.datetime.combine(charge.day, dt.time(0), tzinfo=dt.timezone.utc)
    month = start.replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    row = {column: None for column in FOCUS_COLUMNS}
    row.update(
        AvailabilityZone="us-east-1a", BilledCost=charge.cost, BillingAccountId="900000000001", BillingAccountName="Example payer",
        BillingCurrency=charge.currency, BillingPeriodEnd=following, BillingPeriodStart=month, ChargeCategory=charge.charge_category,
        ChargeDescription=f"{charge.service} usage", ChargeFrequency="Usage-Based", ChargePeriodEnd=start + dt.timedelta(days=1),
        ChargePeriodStart=start, ConsumedQuantity=1.0, ConsumedUnit="Hours", ContractedCost=charge.cost, ContractedUnitPrice=charge.cost,
        EffectiveCost=charge.cost, InvoiceIssuerName="Example Cloud", ListCost=round(charge.cost * 1.1, 2), ListUnitPrice=round(charge.cost * 1.1, 2),
        PricingCategory="Standard", PricingQuantity=1.0, PricingUnit="Hours", ProviderName="Example Cloud", PublisherName="Example Cloud",
        RegionId="us-east-1", RegionName="US East (N. Virginia)", ResourceId=f"res-{charge.account}-{charge.service}".replace(" ", "-"),
        ResourceType="Virtual Machine", ServiceCategory=charge.category, ServiceName=charge.service, SkuId="SKU1", SkuPriceId="PRICE1",
        SubAccountId=charge.account, SubAccountName=f"account {charge.account}", Tags=json.dumps(charge.tags),
    )
    return row


def write_focus(path: Path, charges: list[Charge], drop: tuple[str, ...] = ()) -> Path:
    """A FOCUS export of `charges` as CSV or Parquet (by the suffix), without the `drop` columns."""
    rows = [focus_row(c) for c in charges]
    columns = {}
    for column in FOCUS_COLUMNS:
        if column in drop:
            continue
        values = [r[column] for r in rows]
        kind = pa.timestamp("s", tz="UTC") if column in TIMESTAMP_COLUMNS else pa.float64() if column in NUMBER_COLUMNS else pa.string()
        columns[column] = pa.array(values, type=kind)
    table = pa.table(columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


def write_workbook(path: Path, sheet: str, rows: list[list], header_row: int = 1, merge: str | None = None, title: str | None = None) -> Path:
    """A workbook whose sheet holds `rows` (the first is the header) from `header_row`."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    if title:
        ws.cell(row=1, column=1, value=title)
    for offset, values in enumerate(rows):
        for column, value in enumerate(values, start=1):
            ws.cell(row=header_row + offset, column=column, value=value)
    if merge:
        ws.merge_cells(merge)
    book.create_sheet("Notes")
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
