"""The typed results and inputs of the MCP tools: each tool's outputSchema is one of these models.

Amounts are decimal text with two places ("10000.00"), never binary floats; shares and driver
values, which are measurements rather than money, are numbers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from allocation_pipeline.core.ledger.lifecycle import STATUSES
from allocation_pipeline.core.allocation.rules import RUN_TYPES

# Hard bounds on what one call returns or takes; a caller pages through the rest.
MAX_RUNS_PAGE = 200
MAX_LINES_PAGE = 1000
MAX_BALANCES_PAGE = 500
MAX_SUBMITTED_LINES = 5000
MAX_WHATIF_ROWS = 500

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Amount = str
Status = Literal[STATUSES]  # type: ignore[valid-type]
RunType = Literal[RUN_TYPES]  # type: ignore[valid-type]


class RunSummary(BaseModel):
    """One allocation run as `allocation runs` lists it."""

    run_id: str
    entity: str
    period: str
    run_type: str
    status: str
    rule_id: str | None = Field(description="the rule that produced it; None for submitted runs")
    source_document: str | None
    amount: Amount = Field(description="total debits")
    currency: str
    journal_entry_id: str | None
    reversal_entry_id: str | None


class RunsPage(BaseModel):
    runs: list[RunSummary]
    total: int = Field(description="runs matching the filters, over all pages")
    offset: int
    limit: int
    next_offset: int | None = Field(description="offset of the next page; None on the last page")


class Line(BaseModel):
    """A source or target line of a run (or of a preview)."""

    line_no: int
    role: str
    account: str
    cost_center: str
    product: str | None
    region: str | None
    debit: Amount
    credit: Amount
    driver: str | None
    driver_value: float | None
    share: float | None
    explanation: str | None


class HistoryEntry(BaseModel):
    seq: int
    from_status: str | None
    to_status: str
    changed_at: str
    changed_by: str = Field(description="who acted: a person, the agent's identity, `pipeline` or `policy:auto`")
    reason: str | None
    reversed: bool


class ChainLink(BaseModel):
    from_document: str
    from_type: str
    to_document: str
    to_type: str
    link_type: str = Field(description="allocated_by, posted_as or reversed_by")


class RunDetail(BaseModel):
    """A run with its lines (one page), history and document chain, as `allocation show` shows it."""

    run: RunSummary
    method: str | None
    origin: str
    pool: Amount
    total_debit: Amount
    total_credit: Amount
    notes: list[str]
    dagster_run_id: str | None
    lines: list[Line]
    lines_total: int
    lines_offset: int
    lines_next_offset: int | None
    history: list[HistoryEntry]
    chain: list[ChainLink]


class Chain(BaseModel):
    """Every document linked to `document`, in both directions."""

    document: str
    links: list[ChainLink]
    documents: list[str] = Field(description="every document on the chain, `document` included when linked")


class Balance(BaseModel):
    entity: str
    account: str
    cost_center: str
    product: str
    region: str
    currency: str
    balance: Amount = Field(description="debit minus credit")


class PoolBalances(BaseModel):
    """The GL balances a rule's source filter selects in a period (before earlier rules add to the pool)."""

    pool: str
    rule_id: str
    has_rule: bool = Field(description="False: an insights pool that no rule allocates yet (its proposal's filter is used)")
    entity: str
    period: str
    total: Amount
    balances: list[Balance]
    rows_total: int
    offset: int
    next_offset: int | None


class Preview(BaseModel):
    """What `allocation preview` prints: the lines one rule would create; nothing written."""

    rule_id: str
    entity: str
    period: str
    method: str
    parameters: dict[str, Any]
    description: str
    earlier_rules: list[str]
    gl_lines_read: int
    quarantined_gl_lines: int
    empty_pool: bool
    pool: Amount | None
    currency: str | None
    lines: list[Line]
    total_debit: Amount | None
    total_credit: Amount | None
    balanced: bool | None
    notes: list[str]


class DriverFit(BaseModel):
    driver: str
    correlation: float | None
    r2: float | None = Field(description="R^2 of the driver's shares as the key, against an even split")
    error_points: float | None = Field(description="mean absolute gap to the consumption shares, percentage points")
    weight_percent: int = Field(description="weight in the weighted key; 0: it adds nothing")
    note: str


class Recommendation(BaseModel):
    method: str
    parameters: dict[str, Any] = Field(description="the rule's `parameters` for that method")
    label: str
    r2: float
    error_points: float
    reasons: list[str]


class CostObjectShare(BaseModel):
    cost_object: str
    consumption: float | None
    consumption_share: float
    recommended: Amount | None = Field(description="the period's pool allocated by the recommended key")
    recommended_share: float | None
    current: Amount | None = Field(description="the period's pool allocated by the rule as it stands")
    current_share: float | None


class Flag(BaseModel):
    kind: str
    severity: str
    cost_object: str | None
    amount: Amount | None
    message: str


class Analysis(BaseModel):
    """`allocation analyze` for one pool: figures per driver, the recommended key with its reasons,
    the period's pool allocated by it (and by the rule as it stands), over- and under-consumers."""

    pool: str
    period: str
    status: str = Field(description="ok, or insufficient_data (see notes; no recommendation)")
    consumption: str
    dimension: str
    periods: list[str]
    cost_objects: list[str]
    drivers: list[DriverFit]
    weighted_r2: float | None
    weighted_error_points: float | None
    recommendation: Recommendation | None
    has_rule: bool
    rule_method: str | None = Field(description="the method of the rule as it stands (None: no rule yet)")
    pool_amount: Amount | None
    currency: str | None
    allocation: list[CostObjectShare]
    flags: list[Flag]
    notes: list[str]


class WhatIfRow(BaseModel):
    entity: str
    cost_center: str
    currency: str
    baseline: Amount
    scenario: Amount
    difference: Amount


class WhatIf(BaseModel):
    """A scenario's allocation side by side with the baseline; nothing is stored or posted."""

    scenario: str
    period: str
    changes: list[str]
    by_cost_object: list[WhatIfRow] = Field(description="net allocated per cost center: + received, - given away")
    rows_total: int
    objects_changed: int
    notes: list[str]


class SubmittedLine(BaseModel):
    """One line of a submission, as in the JSON submission format. Fields are checked by the same
    parser as `allocation submit`, so a bad value is reported with the line number, not refused here."""

    role: str = Field(description="source (the cost removed, usually a credit) or target (where it goes, usually a debit)")
    account: str
    cost_center: str
    debit: str | int | float = Field(0, description="amount, at most two decimal places; decimal text preferred")
    credit: str | int | float = Field(0, description="amount, at most two decimal places; decimal text preferred")
    product: str | None = None
    region: str | None = None
    driver: str | None = None
    driver_value: float | None = None
    share: float | None = None
    explanation: str | None = None


class Problem(BaseModel):
    rule: str = Field(description="the validator (balance, accounts, ...) or `submission` for the run's fields and lines")
    message: str


class SubmitOutcome(BaseModel):
    """Either a calculated run waiting for a human approver, or every problem found (nothing written)."""

    accepted: bool
    run_id: str | None
    status: str | None
    submitted_by: str
    entity: str | None
    period: str | None
    currency: str | None
    lines: int
    total: Amount | None
    source_document: str | None
    errors: list[Problem]
    notes: list[str]
