"""Data contracts: one pandera model per extract (as cleaned) and per table the core produces.

Extract models describe a cleaned extract. Column names are the file's, except money: a file
column `debit` (text like "1200.50") becomes `debit_cents` (int64 cents), named in the field's
metadata as `{"money": "debit"}`. Dates are parsed from ISO text (YYYY-MM-DD). Optional columns
may be absent from the file; they are then filled with missing values.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
ACCOUNT_TYPES = ["expense", "revenue", "asset", "liability", "equity"]
COST_CENTER_KINDS = ["support", "operating"]
PERIOD_STATUSES = ["open", "closed"]


def _money(source: str, description: str, **kwargs) -> pa.Field:
    return pa.Field(description=f"{description} (cents)", metadata={"money": source}, **kwargs)


def _optional(description: str, **kwargs) -> pa.Field:
    return pa.Field(nullable=True, description=description, metadata={"optional": True}, **kwargs)


class _Extract(pa.DataFrameModel):
    class Config:
        strict = False
        coerce = False


# --- master data -------------------------------------------------------------------------------


class Entities(_Extract):
    """Legal entities and their functional currency."""

    entity: Series[str] = pa.Field(unique=True, description="entity code, e.g. EE")
    name: Series[str] = pa.Field(description="legal name")
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$", description="ISO 4217 currency")


class Accounts(_Extract):
    """Chart of accounts."""

    account: Series[str] = pa.Field(unique=True, str_matches=r"^\d{3,10}$", description="account number")
    name: Series[str] = pa.Field(description="account name")
    type: Series[str] = pa.Field(isin=ACCOUNT_TYPES, description="expense, revenue, asset, liability or equity")
    active: Series[bool] = pa.Field(description="false: no new postings allowed")


class CostCenters(_Extract):
    """Cost centers: support centers serve others; operating centers are final cost objects."""

    cost_center: Series[str] = pa.Field(unique=True, description="cost center id, e.g. EE-IT")
    name: Series[str] = pa.Field(description="cost center name")
    entity: Series[str] = pa.Field(description="owning entity")
    kind: Series[str] = pa.Field(isin=COST_CENTER_KINDS, description="support or operating")
    function: Series[str] = _optional("IT, facilities, HR, finance, management or business")
    parent: Series[str] = _optional("parent cost center, empty at the top")
    active: Series[bool] = pa.Field(description="false: no new postings allowed")


class DimensionMembers(_Extract):
    """Members of the other dimensions (product, region, segment, activity, ...)."""

    dimension: Series[str] = pa.Field(description="dimension name, e.g. product")
    member: Series[str] = pa.Field(description="member id")
    name: Series[str] = pa.Field(description="member name")
    active: Series[bool] = pa.Field(description="false: no new postings allowed")

    class Config:
        unique = ["dimension", "member"]


class FiscalPeriods(_Extract):
    """Fiscal calendar per entity; postings are allowed only into open periods."""

    entity: Series[str] = pa.Field(description="entity code")
    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN, description="YYYY-MM")
    start_date: Series[pd.Timestamp] = pa.Field(description="first day")
    end_date: Series[pd.Timestamp] = pa.Field(description="last day")
    status: Series[str] = pa.Field(isin=PERIOD_STATUSES, description="open or closed")

    class Config:
        unique = ["entity", "period"]


# --- transactions ------------------------------------------------------------------------------


class GLLines(_Extract):
    """General ledger lines; every document balances (debits = credits)."""

    entity: Series[str] = pa.Field(description="entity code")
    document_id: Series[str] = pa.Field(description="GL document id, e.g. EE-BILL000527")
    document_type: Series[str] = pa.Field(description="e.g. JOURNAL, AP_INVOICE, PAYROLL")
    line: Series[int] = pa.Field(ge=1, description="line number within the document")
    posting_date: Series[pd.Timestamp] = pa.Field(description="posting date")
    account: Series[str] = pa.Field(description="account number")
    cost_center: Series[str] = pa.Field(description="cost center id")
    product: Series[str] = _optional("product member")
    region: Series[str] = _optional("region member")
    debit_cents: Series[int] = _money("debit", "debit amount", ge=0)
    credit_cents: Series[int] = _money("credit", "credit amount", ge=0)
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$", description="transaction currency")
    description: Series[str] = _optional("line text")

    class Config:
        unique = ["entity", "document_id", "line"]

    @pa.dataframe_check(error="debit and credit are both non-zero")
    def one_sided(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["debit_cents"] == 0) | (df["credit_cents"] == 0)


class APInvoices(_Extract):
    """Accounts-payable invoice lines (the source documents of document-linked allocations)."""

    entity: Series[str] = pa.Field(description="entity code")
    document_id: Series[str] = pa.Field(description="invoice document id, e.g. EE-BILL000527")
    line: Series[int] = pa.Field(ge=1, description="invoice line number")
    vendor: Series[str] = pa.Field(description="vendor name")
    invoice_date: Series[pd.Timestamp] = pa.Field(description="invoice date")
    account: Series[str] = pa.Field(description="expense account")
    cost_center: Series[str] = _optional("cost center charged on the invoice")
    amount_cents: Series[int] = _money("amount", "line amount", gt=0)
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$", description="invoice currency")
    description: Series[str] = _optional("line text")

    class Config:
        unique = ["document_id", "line"]


class Timesheets(_Extract):
    """Hours booked by employees to cost centers and activities."""

    employee: Series[str] = pa.Field(description="employee id")
    work_date: Series[pd.Timestamp] = pa.Field(description="day worked")
    cost_center: Series[str] = pa.Field(description="cost center the hours are booked to")
    activity: Series[str] = pa.Field(description="activity, e.g. development, support")
    project: Series[str] = _optional("project id")
    hours: Series[float] = pa.Field(ge=0, le=24, description="hours worked that day")

    class Config:
        unique = ["employee", "work_date", "cost_center", "activity"]


class Headcount(_Extract):
    """Full-time equivalents per cost center and period."""

    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN, description="YYYY-MM")
    cost_center: Series[str] = pa.Field(description="cost center id")
    headcount: Series[float] = pa.Field(ge=0, description="FTE at period end")

    class Config:
        unique = ["period", "cost_center"]


class UsageMetrics(_Extract):
    """Any measured consumption per cost object; each metric name is a driver."""

    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN, description="YYYY-MM")
    metric: Series[str] = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$", description="driver name, e.g. cloud_spend")
    dimension: Series[str] = pa.Field(description="dimension of the cost object, e.g. cost_center, product")
    cost_object: Series[str] = pa.Field(description="member of that dimension")
    value: Series[float] = pa.Field(ge=0, description="measured quantity")

    class Config:
        unique = ["period", "metric", "dimension", "cost_object"]


class AllocationMatrix(_Extract):
    """Multi-level allocation matrix: percent of a source cost center's total (own cost plus what
    it receives) sent to a target each period; source = target is explicit retention, and what a
    source does not send it keeps."""

    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN, description="YYYY-MM")
    entity: Series[str] = pa.Field(description="entity code")
    source: Series[str] = pa.Field(description="cost center that sends (a service cost center)")
    target: Series[str] = pa.Field(description="cost center that receives; the source itself for retention")
    percent: Series[float] = pa.Field(ge=0, le=100, description="percent of the source's total sent to the target")

    class Config:
        unique = ["period", "entity", "source", "target"]


# --- produced by the core ----------------------------------------------------------------------


class DriverValues(pa.DataFrameModel):
    """One row per period x driver x cost object."""

    period: Series[str] = pa.Field(str_matches=PERIOD_PATTERN)
    driver: Series[str] = pa.Field(description="driver name (headcount, hours, or a usage metric)")
    dimension: Series[str] = pa.Field(description="dimension of the cost object")
    cost_object: Series[str] = pa.Field(description="member of that dimension")
    value: Series[float] = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["period", "driver", "dimension", "cost_object"]


class QuarantineRows(pa.DataFrameModel):
    """Rejected extract rows: one row per problem found (a row can have several)."""

    extract: Series[str] = pa.Field(description="extract name, e.g. gl_lines")
    source_file: Series[str] = pa.Field(description="file name within the extracts directory")
    row_number: Series[int] = pa.Field(ge=1, description="1-based data row in the file (header not counted)")
    column: Series[str] = pa.Field(nullable=True, description="column at fault; empty for whole-row problems")
    value: Series[str] = pa.Field(nullable=True, description="the offending value as text")
    reason: Series[str] = pa.Field(description="what is wrong, in words")

    class Config:
        strict = True
