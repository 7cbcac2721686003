"""A deterministic sample company: master data and monthly extracts in the layout the pipeline reads.

Two entities (EE in EUR, US in USD), a chart of accounts, 43 cost centers (support centers with
sub-centers, EE departments and eight US business units), products, regions, segments and
activities; for each fiscal month: balanced GL documents (payroll, vendor invoices, rent,
utilities, cloud, customer invoices, expense reports, bank movements), AP invoice lines,
timesheets, headcount and usage metrics. The same arguments always give byte-identical files:
every random draw comes from a numpy Generator seeded by (seed, month, stream), so a month's
drivers do not depend on how many months are generated; only running document numbers do.

Layout (``<out>/extracts/``), the same content in CSV or Parquet:

- one file each: entities, accounts, cost_centers, dimension_members, fiscal_periods,
  ap_invoices, headcount, usage_metrics, allocation_matrix;
- one file per fiscal month: ``gl_lines/<YYYY-MM>.<ext>`` and ``timesheets/<YYYY-MM>.<ext>``.

File conventions. CSV: a header row, commas, no quoting (no generated value contains a comma, a
quote or a line break; the writer refuses one that does), dates ``YYYY-MM-DD``, money as plain
text with exactly two decimals (``120.00``), booleans ``true``/``false``, missing optional values
empty. Parquet: the same column names and the same text: ids, dates and money are strings
(money as two-decimal text, exactly as in the CSV, so both formats parse through one path and no
amount ever passes through a binary float); ``line`` is int64; ``hours``, ``headcount`` and
``value`` are float64; ``active`` is boolean; missing optional values are nulls.

Fixed facts that tests and the sample rules rely on are module constants (ids, accounts, the
monthly 10,000.00 IT managed-services pool on EE-IT, the Slack invoice EE-BILL000527 and the
two-line invoice EE-BILL000528 in the last period). Balance-sheet lines (bank, payables,
receivables, payroll liabilities) carry the entity's finance cost center
(`BALANCE_SHEET_COST_CENTER`), because the GL contract requires a cost center on every line.
Usage metric values are in the entity's currency where they are money (cloud_spend, revenue);
revenue by product adds the EUR and USD amounts of both entities as plain numbers.

Seed 000 (driver analysis): corporate IT of 2,500,000.00 USD a quarter sits on (64200, US-IT),
one journal a month (`corporate_it_month_cents`), and the usage metric `it_consumption` holds the
IT cost each US business unit actually consumed: the month's pool split by the known weights
`IT_CONSUMPTION_WEIGHTS` of the four seed-000 drivers' shares, with lognormal noise
(`IT_CONSUMPTION_NOISE`) and the planted over-consumers `IT_OVERCONSUMERS` using more than their
drivers say. No sample rule allocates that pool: it is the one the insights analyse.

The allocation matrix (multi-level allocation) has, per month and entity, the percent of each
active support cost center's total sent to the centers it serves: operating centers and the
support functions in `SERVICE_RELATIONS` by headcount, a sub-center also a share to its parent,
top-level management keeping `MANAGEMENT_RETENTION_PERCENT`. IT and HR serve each other, so do
HR and facilities: the matrix has cycles. Percents have two decimals and each source's sum to
exactly 100; they move a little from month to month with headcount.
"""

from __future__ import annotations

import re
import shutil
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from allocation_pipeline.core.money import largest_remainder

# --- public constants ------------------------------------------------------------------------

DEFAULT_SEED = 7
DEFAULT_PERIODS = 12
DEFAULT_END_PERIOD = "2026-10"
DEFAULT_CLOSED_PERIODS = 9
DEFAULT_GL_LINES_PER_PERIOD = 50_000
MIN_GL_LINES_PER_PERIOD = 1_000
FILE_FORMATS = ("csv", "parquet")

SINGLE_FILE_EXTRACTS = (
    "entities",
    "accounts",
    "cost_centers",
    "dimension_members",
    "fiscal_periods",
    "ap_invoices",
    "headcount",
    "usage_metrics",
    "allocation_matrix",
)
PER_PERIOD_EXTRACTS = ("gl_lines", "timesheets")
EXTRACTS = SINGLE_FILE_EXTRACTS + PER_PERIOD_EXTRACTS

ENTITY_EE = "EE"
ENTITY_US = "US"
ENTITY_CURRENCY = {ENTITY_EE: "EUR", ENTITY_US: "USD"}
ENTITY_NAMES = {ENTITY_EE: "Northwind Baltics OU", ENTITY_US: "Northwind Systems Inc."}

ACCOUNT_BANK = "1000"
ACCOUNT_RECEIVABLE = "1200"
ACCOUNT_PAYABLE = "2000"
ACCOUNT_SALARIES_PAYABLE = "2100"
ACCOUNT_PAYROLL_TAXES_PAYABLE = "2200"
ACCOUNT_EMPLOYEE_PAYABLE = "2300"
ACCOUNT_REVENUE = "40000"
ACCOUNT_SERVICES_REVENUE = "40100"
ACCOUNT_SALARIES = "50000"
ACCOUNT_SOCIAL_SECURITY = "50100"
ACCOUNT_PENSION_BENEFITS = "50200"
ACCOUNT_SOFTWARE = "60002"
ACCOUNT_TRAVEL = "61000"
ACCOUNT_RENT = "62000"
ACCOUNT_UTILITIES = "62100"
ACCOUNT_IT_MANAGED_SERVICES = "64000"
ACCOUNT_CLOUD_HOSTING = "64100"
ACCOUNT_ALLOCATED_IN = "69000"
ACCOUNT_IT_ALLOCATED_OUT = "69100"
ACCOUNT_FACILITIES_ALLOCATED_OUT = "69200"
ACCOUNT_HR_ALLOCATED_OUT = "69300"
ACCOUNT_FINANCE_ALLOCATED_OUT = "69400"
ACCOUNT_MANAGEMENT_ALLOCATED_OUT = "69500"
ACCOUNT_SERVICES_ALLOCATED_OUT = "69600"
# Allocation accounts are for the pipeline's postings: the generated GL never uses them.
ALLOCATION_ACCOUNTS = (
    ACCOUNT_ALLOCATED_IN,
    ACCOUNT_IT_ALLOCATED_OUT,
    ACCOUNT_FACILITIES_ALLOCATED_OUT,
    ACCOUNT_HR_ALLOCATED_OUT,
    ACCOUNT_FINANCE_ALLOCATED_OUT,
    ACCOUNT_MANAGEMENT_ALLOCATED_OUT,
    ACCOUNT_SERVICES_ALLOCATED_OUT,
)

# (account, name, type, active)
ACCOUNTS: tuple[tuple[str, str, str, bool], ...] = (
    (ACCOUNT_BANK, "Bank", "asset", True),
    (ACCOUNT_RECEIVABLE, "Accounts receivable", "asset", True),
    ("1500", "Property and equipment", "asset", True),
    (ACCOUNT_PAYABLE, "Accounts payable", "liability", True),
    (ACCOUNT_SALARIES_PAYABLE, "Salaries payable", "liability", True),
    (ACCOUNT_PAYROLL_TAXES_PAYABLE, "Payroll taxes payable", "liability", True),
    (ACCOUNT_EMPLOYEE_PAYABLE, "Employee reimbursements payable", "liability", True),
    ("3000", "Share capital", "equity", True),
    ("3100", "Retained earnings", "equity", True),
    (ACCOUNT_REVENUE, "Revenue", "revenue", True),
    (ACCOUNT_SERVICES_REVENUE, "Professional services revenue", "revenue", True),
    ("49000", "Other operating income (legacy)", "revenue", False),
    (ACCOUNT_SALARIES, "Salaries", "expense", True),
    (ACCOUNT_SOCIAL_SECURITY, "Social security contributions", "expense", True),
    (ACCOUNT_PENSION_BENEFITS, "Pension and benefits", "expense", True),
    ("51000", "Contractors", "expense", True),
    ("52000", "Training", "expense", True),
    ("53000", "Recruiting", "expense", True),
    ("60000", "Office supplies", "expense", True),
    ("60001", "Computer hardware", "expense", True),
    (ACCOUNT_SOFTWARE, "Software subscriptions", "expense", True),
    ("60100", "Telecommunications", "expense", True),
    ("60900", "Postage and fax", "expense", False),
    (ACCOUNT_TRAVEL, "Travel", "expense", True),
    ("61100", "Meals and entertainment", "expense", True),
    ("61200", "Accommodation", "expense", True),
    ("61900", "Company cars", "expense", False),
    (ACCOUNT_RENT, "Rent", "expense", True),
    (ACCOUNT_UTILITIES, "Utilities", "expense", True),
    ("62200", "Cleaning and maintenance", "expense", True),
    ("62300", "Insurance", "expense", True),
    ("63000", "Marketing and advertising", "expense", True),
    ("63100", "Events and conferences", "expense", True),
    (ACCOUNT_IT_MANAGED_SERVICES, "IT managed services", "expense", True),
    (ACCOUNT_CLOUD_HOSTING, "Cloud hosting", "expense", True),
    ("64200", "Corporate IT services", "expense", True),
    ("64900", "Mainframe leasing", "expense", False),
    ("65000", "Legal fees", "expense", True),
    ("65100", "Audit and accounting fees", "expense", True),
    ("65200", "Consulting", "expense", True),
    ("66000", "Bank charges", "expense", True),
    (ACCOUNT_ALLOCATED_IN, "Allocated shared costs", "expense", True),
    (ACCOUNT_IT_ALLOCATED_OUT, "IT costs allocated out", "expense", True),
    (ACCOUNT_FACILITIES_ALLOCATED_OUT, "Facilities costs allocated out", "expense", True),
    (ACCOUNT_HR_ALLOCATED_OUT, "HR costs allocated out", "expense", True),
    (ACCOUNT_FINANCE_ALLOCATED_OUT, "Finance costs allocated out", "expense", True),
    (ACCOUNT_MANAGEMENT_ALLOCATED_OUT, "Management costs allocated out", "expense", True),
    (ACCOUNT_SERVICES_ALLOCATED_OUT, "Service cost centers allocated out (multi-level)", "expense", True),
)
INACTIVE_ACCOUNTS = tuple(a for a, _, _, active in ACCOUNTS if not active)

# The seed-001 example 1 pool: exactly one document per month, the only (64000, EE-IT) line.
IT_POOL_ENTITY = ENTITY_EE
IT_POOL_COST_CENTER = "EE-IT"
IT_POOL_ACCOUNT = ACCOUNT_IT_MANAGED_SERVICES
IT_POOL_CENTS = 1_000_000
IT_POOL_DOCUMENT_TYPE = "JOURNAL"
IT_POOL_DOCUMENT_PREFIX = "EE-ITMS-"

# Seed-001 examples 2 and 3: AP invoices in the last generated period.
SLACK_INVOICE_ID = "EE-BILL000527"
SLACK_VENDOR = "Slack"
SLACK_INVOICE_COST_CENTER = "EE-ENG"
SLACK_INVOICE_CENTS = 12_000
SPLIT_INVOICE_ID = "EE-BILL000528"
SPLIT_INVOICE_VENDOR = "Swedbank Card Services"
# (line, account, cost center, cents)
SPLIT_INVOICE_LINES = (
    (1, ACCOUNT_SOFTWARE, "EE-ENG", 12_000),
    (2, ACCOUNT_TRAVEL, "EE-SAL", 35_000),
)
RESERVED_INVOICE_IDS = (SLACK_INVOICE_ID, SPLIT_INVOICE_ID)

FUNCTION_IT = "IT"
FUNCTION_FACILITIES = "facilities"
FUNCTION_HR = "HR"
FUNCTION_FINANCE = "finance"
FUNCTION_MANAGEMENT = "management"
FUNCTION_BUSINESS = "business"
SUPPORT_FUNCTIONS = {
    "IT": FUNCTION_IT,
    "FAC": FUNCTION_FACILITIES,
    "HR": FUNCTION_HR,
    "FIN": FUNCTION_FINANCE,
    "MGT": FUNCTION_MANAGEMENT,
}
FACILITIES_COST_CENTERS = {ENTITY_EE: "EE-FAC", ENTITY_US: "US-FAC"}
BALANCE_SHEET_COST_CENTER = {ENTITY_EE: "EE-FIN", ENTITY_US: "US-FIN"}
CLOUD_COST_CENTER = {ENTITY_EE: "EE-IT-INFRA", ENTITY_US: "US-IT-CLOUD"}
US_BUSINESS_UNITS = tuple(f"US-BU{i}" for i in range(1, 9))

# Seed 000: 2,500,000.00 of corporate IT a quarter on (64200, US-IT), one journal a month, and the
# IT cost each business unit consumed (`it_consumption`), from these known weights (percent) of
# the drivers' shares over the eight units, with noise and two planted over-consumers.
CORPORATE_IT_ENTITY = ENTITY_US
CORPORATE_IT_COST_CENTER = "US-IT"
CORPORATE_IT_ACCOUNT = "64200"
CORPORATE_IT_QUARTER_CENTS = 250_000_000
CORPORATE_IT_DOCUMENT_PREFIX = "US-CIT-"
IT_CONSUMPTION_METRIC = "it_consumption"
IT_CONSUMPTION_WEIGHTS = {"headcount": 0, "it_tickets": 20, "cloud_spend": 50, "app_licences": 30}
IT_CONSUMPTION_NOISE = 0.05  # sigma of the lognormal noise per unit and month
IT_OVERCONSUMERS = {"US-BU7": 1.8, "US-BU8": 2.0}  # consume this many times what their drivers say

USAGE_METRICS = ("it_tickets", "cloud_spend", "app_licences", "floor_area", "revenue")
# Seed-000 ranges for the eight US business units, per month (the seed states tickets and cloud
# spend per quarter: 45-890 tickets and 12K-340K per quarter, a third of that per month).
# Multi-level allocation: the other support functions each function serves (besides every operating
# cost center). IT <-> HR and HR <-> facilities are reciprocal; finance and management are not served back.
SERVICE_RELATIONS = {
    FUNCTION_IT: (FUNCTION_HR, FUNCTION_FINANCE, FUNCTION_MANAGEMENT),
    FUNCTION_HR: (FUNCTION_IT, FUNCTION_FACILITIES, FUNCTION_FINANCE),
    FUNCTION_FACILITIES: (FUNCTION_IT, FUNCTION_HR, FUNCTION_FINANCE, FUNCTION_MANAGEMENT),
    FUNCTION_FINANCE: (FUNCTION_MANAGEMENT,),
    FUNCTION_MANAGEMENT: (),
}
MANAGEMENT_RETENTION_PERCENT = 5
US_BU_RANGES = {
    "headcount": (15.0, 200.0),
    "it_tickets": (15.0, 297.0),
    "cloud_spend": (4_000.0, 113_333.0),
    "app_licences": (20.0, 185.0),
}


class CostCenterSpec(NamedTuple):
    """One cost center and the profile its generated data follows.

    `role` picks salary level, activities and vendor mix; the driver fields are per quarter at
    `base_headcount` and scale with the month's headcount (zero for support centers, which have
    no usage metrics); `revenue_weight` is its share of the entity's customer invoices.
    """

    cost_center: str
    name: str
    entity: str
    kind: str
    function: str
    parent: str | None
    active: bool
    role: str
    base_headcount: float = 0.0
    growth: float = 0.0
    tickets_q: float = 0.0
    cloud_q: float = 0.0
    licences: float = 0.0
    revenue_weight: float = 0.0


def _support(cc, name, entity, function, role, hc, parent=None, active=True):
    return CostCenterSpec(cc, name, entity, "support", function, parent, active, role, hc, 0.001)


def _operating(cc, name, entity, role, hc, growth, tickets_q, cloud_q, licences, revenue=0.0, parent=None, active=True):
    return CostCenterSpec(
        cc, name, entity, "operating", FUNCTION_BUSINESS, parent, active, role, hc, growth, tickets_q, cloud_q, licences, revenue
    )


COST_CENTERS: tuple[CostCenterSpec, ...] = (
    # EE support
    _support("EE-IT", "IT", "EE", FUNCTION_IT, "it", 8),
    _support("EE-IT-INFRA", "IT Infrastructure", "EE", FUNCTION_IT, "it", 6, parent="EE-IT"),
    _support("EE-IT-APPS", "Business Applications", "EE", FUNCTION_IT, "it", 7, parent="EE-IT"),
    _support("EE-IT-SEC", "Information Security", "EE", FUNCTION_IT, "it", 3, parent="EE-IT"),
    _support("EE-IT-MF", "Mainframe (retired)", "EE", FUNCTION_IT, "it", 0, parent="EE-IT", active=False),
    _support("EE-FAC", "Facilities", "EE", FUNCTION_FACILITIES, "facilities", 4),
    _support("EE-FAC-TLL", "Tallinn Office", "EE", FUNCTION_FACILITIES, "facilities", 3, parent="EE-FAC"),
    _support("EE-HR", "Human Resources", "EE", FUNCTION_HR, "hr", 6),
    _support("EE-HR-REC", "Recruiting", "EE", FUNCTION_HR, "hr", 4, parent="EE-HR"),
    _support("EE-FIN", "Finance", "EE", FUNCTION_FINANCE, "finance", 9),
    _support("EE-FIN-AP", "Accounts Payable", "EE", FUNCTION_FINANCE, "finance", 4, parent="EE-FIN"),
    _support("EE-MGT", "Management", "EE", FUNCTION_MANAGEMENT, "management", 5),
    _support("EE-LEG", "Legal", "EE", FUNCTION_MANAGEMENT, "management", 3, parent="EE-MGT"),
    # EE operating departments
    _operating("EE-ENG", "Engineering", "EE", "engineering", 65, 0.004, 230, 90_000, 70),
    _operating("EE-ENG-PLAT", "Platform Engineering", "EE", "engineering", 28, 0.005, 110, 150_000, 30, parent="EE-ENG"),
    _operating("EE-ENG-MOB", "Mobile Engineering", "EE", "engineering", 22, 0.003, 90, 45_000, 24, parent="EE-ENG"),
    _operating("EE-QA", "Quality Assurance (merged)", "EE", "engineering", 0, 0, 0, 0, 0, parent="EE-ENG", active=False),
    _operating("EE-PRD", "Product", "EE", "product", 18, 0.003, 50, 9_000, 22),
    _operating("EE-SAL", "Sales", "EE", "sales", 30, 0.002, 75, 3_000, 34, revenue=0.45),
    _operating("EE-SAL-NORD", "Sales Nordics", "EE", "sales", 14, 0.002, 35, 1_500, 16, revenue=0.25, parent="EE-SAL"),
    _operating("EE-SAL-DACH", "Sales DACH (closed)", "EE", "sales", 0, 0, 0, 0, 0, parent="EE-SAL", active=False),
    _operating("EE-MKT", "Marketing", "EE", "marketing", 15, 0.0, 40, 6_000, 19),
    _operating("EE-CSU", "Customer Success", "EE", "custsupport", 20, 0.001, 85, 4_500, 24, revenue=0.10),
    _operating("EE-OPS", "Operations", "EE", "operations", 12, 0.0, 30, 12_000, 13),
    _operating("EE-DAT", "Data Science", "EE", "research", 16, 0.003, 55, 90_000, 18),
    _operating("EE-PRO", "Professional Services", "EE", "services", 25, 0.002, 70, 15_000, 27, revenue=0.20),
    # US support
    _support("US-IT", "IT", "US", FUNCTION_IT, "it", 12),
    _support("US-IT-CLOUD", "Cloud Operations", "US", FUNCTION_IT, "it", 9, parent="US-IT"),
    _support("US-IT-DESK", "Service Desk", "US", FUNCTION_IT, "it", 10, parent="US-IT"),
    _support("US-FAC", "Facilities", "US", FUNCTION_FACILITIES, "facilities", 6),
    _support("US-FAC-NYC", "New York Office", "US", FUNCTION_FACILITIES, "facilities", 4, parent="US-FAC"),
    _support("US-HR", "Human Resources", "US", FUNCTION_HR, "hr", 14),
    _support("US-FIN", "Finance", "US", FUNCTION_FINANCE, "finance", 16),
    _support("US-MGT", "Management", "US", FUNCTION_MANAGEMENT, "management", 10),
    # US business units (seed 000): headcount 15-200, tickets 45-890 and cloud 12K-340K per
    # quarter, licences 20-185; tickets and licences follow headcount, cloud follows the work.
    _operating("US-BU1", "Cloud Platform", "US", "engineering", 120, 0.004, 430, 330_000, 128, revenue=0.22),
    _operating("US-BU2", "Enterprise Sales", "US", "sales", 194, 0.0, 860, 24_000, 178, revenue=0.30),
    _operating("US-BU3", "Consumer Apps", "US", "engineering", 85, 0.003, 300, 215_000, 96, revenue=0.15),
    _operating("US-BU4", "Data & Analytics", "US", "research", 60, 0.003, 255, 285_000, 72, revenue=0.12),
    _operating("US-BU5", "Professional Services", "US", "services", 140, 0.002, 520, 38_000, 150, revenue=0.14),
    _operating("US-BU6", "Customer Support", "US", "custsupport", 95, 0.001, 640, 16_000, 108, revenue=0.07),
    _operating("US-BU7", "Growth Marketing", "US", "marketing", 35, 0.0, 115, 21_000, 44),
    _operating("US-BU8", "Research Lab", "US", "research", 16, 0.002, 50, 12_600, 21),
    _operating("US-BU9", "Hardware Devices (discontinued)", "US", "engineering", 0, 0, 0, 0, 0, active=False),
)
COST_CENTER_IDS = tuple(c.cost_center for c in COST_CENTERS)
ACTIVE_COST_CENTERS = tuple(c.cost_center for c in COST_CENTERS if c.active)
INACTIVE_COST_CENTERS = tuple(c.cost_center for c in COST_CENTERS if not c.active)
OPERATING_COST_CENTERS = tuple(c.cost_center for c in COST_CENTERS if c.active and c.kind == "operating")
SUPPORT_COST_CENTERS = tuple(c.cost_center for c in COST_CENTERS if c.active and c.kind == "support")

# (member, name, active)
PRODUCTS = (
    ("P-CORE", "Core Platform", True),
    ("P-ANLT", "Analytics Suite", True),
    ("P-MOBL", "Mobile Apps", True),
    ("P-API", "API Gateway", True),
    ("P-SRVC", "Professional Services", True),
    ("P-EDGE", "Edge Devices", True),
    ("P-LGCY", "Legacy On-Premise", False),
)
REGIONS = (
    ("EMEA-NORDICS", "Nordics", True),
    ("EMEA-BALTICS", "Baltics", True),
    ("EMEA-DACH", "DACH", True),
    ("EMEA-UKI", "UK and Ireland", True),
    ("NA-EAST", "North America East", True),
    ("NA-WEST", "North America West", True),
    ("NA-CENTRAL", "North America Central", True),
    ("LATAM", "Latin America", True),
    ("APAC", "Asia Pacific", True),
    ("EMEA-RU", "Russia", False),
)
SEGMENTS = (
    ("ENT", "Enterprise", True),
    ("MID", "Mid-market", True),
    ("SMB", "Small business", True),
    ("PUB", "Public sector", True),
)
ACTIVITIES = (
    ("development", "Development", True),
    ("testing", "Testing", True),
    ("support", "Support", True),
    ("sales", "Sales", True),
    ("marketing", "Marketing", True),
    ("operations", "Operations", True),
    ("administration", "Administration", True),
    ("management", "Management", True),
    ("training", "Training", True),
    ("migration", "Legacy migration", False),
)
PRODUCT_IDS = tuple(p for p, _, active in PRODUCTS if active)
REGION_IDS = tuple(r for r, _, active in REGIONS if active)
ACTIVITY_IDS = tuple(a for a, _, active in ACTIVITIES if active)

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate_company` wrote.

    `periods` are the fiscal months generated, oldest first; `row_counts` maps each extract name
    to its data rows (header not counted); `files` lists every file written, extracts and the
    copied rules file (when the package ships one), as absolute paths in a stable order.
    """

    out_dir: Path
    extracts_dir: Path
    periods: tuple[str, ...]
    closed_periods: tuple[str, ...]
    file_format: str
    row_counts: dict[str, int] = field(hash=False)
    files: tuple[Path, ...]
    rules_file: Path | None = None


# --- periods ---------------------------------------------------------------------------------


def parse_period(period: str) -> int:
    """'YYYY-MM' as a month ordinal (year * 12 + month - 1); ValueError when malformed."""
    match = _PERIOD_RE.match(period or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"period {period!r} is not a fiscal month in the form YYYY-MM (e.g. 2026-10)")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def format_period(ordinal: int) -> str:
    year, month0 = divmod(ordinal, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def period_range(end_period: str, periods: int) -> list[str]:
    """The `periods` fiscal months ending with `end_period`, oldest first."""
    end = parse_period(end_period)
    return [format_period(o) for o in range(end - periods + 1, end + 1)]


def it_pool_document_id(period: str) -> str:
    """The id of the month's IT managed-services journal, e.g. EE-ITMS-202610."""
    return IT_POOL_DOCUMENT_PREFIX + period.replace("-", "")


def corporate_it_month_cents(period: str) -> int:
    """The month's share of the quarter's corporate IT pool: 833,333.34 in the first month of a
    quarter, 833,333.33 in the other two, so a quarter holds exactly 2,500,000.00."""
    month_in_quarter = parse_period(period) % 3
    return int(largest_remainder(CORPORATE_IT_QUARTER_CENTS, [1.0, 1.0, 1.0])[month_in_quarter])


def _month_days(ordinal: int) -> np.ndarray:
    start = np.datetime64(format_period(ordinal), "M")
    return np.arange(start.astype("datetime64[D]"), (start + 1).astype("datetime64[D]"), dtype="datetime64[D]")


# --- randomness ------------------------------------------------------------------------------


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent, reproducible stream per (seed, keys); strings hashed with CRC32, not hash()."""
    words = [int(seed) & 0xFFFFFFFF]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


def _lognormal_cents(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, size: int) -> np.ndarray:
    amount = np.asarray(median, dtype=np.float64) * np.exp(np.asarray(sigma) * rng.standard_normal(size))
    return np.maximum(np.rint(amount * 100.0), 100).astype(np.int64)


# --- profiles --------------------------------------------------------------------------------

_REF_ORDINAL = parse_period(DEFAULT_END_PERIOD)

# Monthly salary per FTE in the entity's currency.
_SALARY = {
    ENTITY_EE: {
        "engineering": 5200, "product": 5000, "sales": 4200, "marketing": 4000, "custsupport": 3000,
        "operations": 3300, "services": 4600, "research": 5400, "it": 4800, "facilities": 2800,
        "hr": 3600, "finance": 4000, "management": 7500,
    },
    ENTITY_US: {
        "engineering": 11500, "product": 10500, "sales": 9000, "marketing": 8500, "custsupport": 5500,
        "operations": 6500, "services": 9500, "research": 12000, "it": 10000, "facilities": 5500,
        "hr": 7500, "finance": 8500, "management": 16000,
    },
}
_SOCIAL_RATE = {ENTITY_EE: 0.338, ENTITY_US: 0.0765}
_BENEFITS_RATE = {ENTITY_EE: 0.02, ENTITY_US: 0.12}
_AREA_PER_FTE = {ENTITY_EE: 9.5, ENTITY_US: 12.0}
_AMOUNT_FACTOR = {ENTITY_EE: 1.0, ENTITY_US: 1.15}
_RENT_CENTS = {ENTITY_EE: 3_850_000, ENTITY_US: 14_200_000}
_UTILITIES_CENTS = {ENTITY_EE: 520_000, ENTITY_US: 1_180_000}
_UTILITIES_SEASON = {
    ENTITY_EE: (1.45, 1.4, 1.2, 1.0, 0.85, 0.75, 0.7, 0.72, 0.85, 1.0, 1.2, 1.4),
    ENTITY_US: (1.0, 0.95, 0.9, 0.9, 1.0, 1.2, 1.35, 1.35, 1.15, 0.95, 0.95, 1.05),
}
_REVENUE_SEASON = (0.92, 0.95, 1.02, 0.98, 1.0, 1.03, 0.9, 0.88, 1.02, 1.05, 1.08, 1.2)
_LANDLORD = {ENTITY_EE: "Kapitel Kinnisvara", ENTITY_US: "Brookfield Properties"}
_UTILITY = {ENTITY_EE: "Eesti Energia", ENTITY_US: "Con Edison"}
_CLOUD_VENDOR = "Amazon Web Services"

_ACTIVITY_MIX = {
    "it": {"support": 0.45, "development": 0.25, "operations": 0.2, "administration": 0.1},
    "facilities": {"operations": 0.7, "administration": 0.3},
    "hr": {"administration": 0.6, "training": 0.25, "management": 0.15},
    "finance": {"administration": 0.85, "management": 0.15},
    "management": {"management": 0.7, "administration": 0.3},
    "engineering": {"development": 0.65, "testing": 0.15, "support": 0.1, "training": 0.05, "administration": 0.05},
    "product": {"development": 0.35, "management": 0.35, "support": 0.15, "administration": 0.15},
    "sales": {"sales": 0.7, "administration": 0.2, "training": 0.1},
    "marketing": {"marketing": 0.75, "administration": 0.25},
    "custsupport": {"support": 0.8, "training": 0.1, "administration": 0.1},
    "operations": {"operations": 0.7, "support": 0.2, "administration": 0.1},
    "services": {"development": 0.4, "support": 0.4, "administration": 0.2},
    "research": {"development": 0.7, "testing": 0.2, "administration": 0.1},
}
_PROJECT_ACTIVITIES = ("development", "testing", "support")
_PROJECTS = {ENTITY_EE: tuple(f"PRJ-{n}" for n in range(1001, 1009)), ENTITY_US: tuple(f"PRJ-{n}" for n in range(2001, 2013))}
_ALL_PROJECTS = _PROJECTS[ENTITY_EE] + _PROJECTS[ENTITY_US]

# Product mix of each revenue-earning cost center (weights over PRODUCT_IDS).
_PRODUCT_MIX = {
    "EE-SAL": (5, 3, 2, 2, 0.5, 0.5),
    "EE-SAL-NORD": (5, 2, 3, 1, 0.5, 0.5),
    "EE-CSU": (4, 2, 2, 2, 0, 0),
    "EE-PRO": (0, 0, 0, 0, 1, 0),
    "US-BU1": (6, 1, 0, 3, 0, 0),
    "US-BU2": (5, 3, 1, 2, 1, 1),
    "US-BU3": (1, 0, 8, 1, 0, 0),
    "US-BU4": (1, 8, 0, 1, 0, 0),
    "US-BU5": (0, 0, 0, 0, 1, 0),
    "US-BU6": (4, 2, 2, 2, 0, 0),
}
_REGION_MIX = {
    ENTITY_EE: {"EMEA-NORDICS": 4, "EMEA-BALTICS": 3, "EMEA-DACH": 3, "EMEA-UKI": 2, "APAC": 0.5},
    ENTITY_US: {"NA-EAST": 4, "NA-WEST": 4, "NA-CENTRAL": 2, "LATAM": 1, "APAC": 1},
}


class _Category(NamedTuple):
    account: str
    label: str
    frequency: float  # relative number of invoices
    median: float  # typical line amount in EUR
    sigma: float
    affinity: dict  # role -> weight multiplier on headcount; roles not named get `default`
    default: float = 1.0
    secondary: tuple[str, float] | None = None  # (account, probability) for some lines
    only: tuple[str, ...] = ()  # restrict to these cost centers


_IT_SERVICE_CENTERS = tuple(
    c.cost_center for c in COST_CENTERS if c.active and c.role == "it" and c.cost_center != IT_POOL_COST_CENTER
)
_CATEGORIES: dict[str, _Category] = {
    "software": _Category(ACCOUNT_SOFTWARE, "software subscription", 18, 180, 1.0, {"engineering": 2, "research": 2, "it": 2, "product": 1.5}),
    "hardware": _Category("60001", "computer hardware", 5, 900, 0.7, {"engineering": 1.5, "research": 1.5}),
    "office": _Category("60000", "office supplies", 8, 60, 0.8, {}),
    "telecom": _Category("60100", "telecom services", 5, 90, 0.6, {"sales": 1.5, "custsupport": 1.5}),
    "it_services": _Category(ACCOUNT_IT_MANAGED_SERVICES, "managed IT services", 4, 2500, 0.8, {}, only=_IT_SERVICE_CENTERS),
    "contractors": _Category(
        "51000", "contractor services", 8, 3500, 0.7, {"engineering": 3, "research": 2, "services": 2, "product": 1, "it": 1}, 0.0
    ),
    "marketing": _Category("63000", "advertising", 6, 1800, 1.0, {"marketing": 5, "sales": 1}, 0.0),
    "events": _Category("63100", "event participation", 2, 2500, 0.8, {"marketing": 3, "sales": 2, "product": 0.5}, 0.0),
    "legal": _Category("65000", "legal services", 2, 2800, 0.8, {"management": 3, "finance": 0.5}, 0.0),
    "audit": _Category("65100", "audit and accounting", 1, 6000, 0.5, {"finance": 1}, 0.0),
    "consulting": _Category("65200", "consulting services", 2, 8000, 0.6, {"management": 2, "finance": 1, "it": 0.5}, 0.0),
    "training": _Category("52000", "training course", 5, 250, 0.8, {"hr": 2}),
    "recruiting": _Category("53000", "recruiting fee", 3, 1500, 0.8, {"hr": 1}, 0.0),
    "facility_services": _Category("62200", "cleaning and maintenance", 4, 700, 0.6, {"facilities": 1}, 0.0),
    "insurance": _Category("62300", "insurance premium", 1, 1200, 0.5, {"finance": 1}, 0.0),
    "bank": _Category("66000", "bank charges", 3, 25, 0.8, {"finance": 1}, 0.0),
    "travel": _Category(ACCOUNT_TRAVEL, "business travel", 23, 420, 0.9, {"sales": 3, "services": 2, "management": 2}, 0.5, ("61200", 0.3)),
}

_BOTH = (ENTITY_EE, ENTITY_US)
# (vendor, category, entities); category None: used only by the fixed monthly documents.
_VENDORS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    (SLACK_VENDOR, "software", _BOTH),
    ("Atlassian", "software", _BOTH),
    ("GitHub", "software", _BOTH),
    ("Microsoft", "software", _BOTH),
    ("Google Workspace", "software", _BOTH),
    ("Zoom", "software", _BOTH),
    ("Figma", "software", _BOTH),
    ("Salesforce", "software", _BOTH),
    ("Notion", "software", _BOTH),
    ("JetBrains", "software", _BOTH),
    ("Datadog", "software", _BOTH),
    ("Dell Technologies", "hardware", _BOTH),
    ("Apple", "hardware", _BOTH),
    ("Lenovo", "hardware", _BOTH),
    ("Staples", "office", _BOTH),
    ("Rajapack", "office", (ENTITY_EE,)),
    ("Office Depot", "office", (ENTITY_US,)),
    ("Telia", "telecom", (ENTITY_EE,)),
    ("Elisa", "telecom", (ENTITY_EE,)),
    ("Verizon", "telecom", (ENTITY_US,)),
    ("AT&T", "telecom", (ENTITY_US,)),
    ("CGI", "it_services", _BOTH),
    ("Atos", "it_services", (ENTITY_EE,)),
    ("Accenture", "it_services", (ENTITY_US,)),
    ("DXC Technology", "it_services", (ENTITY_US,)),
    ("Toptal", "contractors", _BOTH),
    ("Upwork", "contractors", _BOTH),
    ("Nortal", "contractors", (ENTITY_EE,)),
    ("Google Ads", "marketing", _BOTH),
    ("LinkedIn Marketing", "marketing", _BOTH),
    ("Meta Ads", "marketing", _BOTH),
    ("Web Summit", "events", _BOTH),
    ("SaaStr", "events", (ENTITY_US,)),
    ("Sorainen", "legal", (ENTITY_EE,)),
    ("Baker McKenzie", "legal", _BOTH),
    ("KPMG", "audit", _BOTH),
    ("PwC", "audit", _BOTH),
    ("McKinsey", "consulting", _BOTH),
    ("Deloitte", "consulting", _BOTH),
    ("Coursera", "training", _BOTH),
    ("O'Reilly Media", "training", _BOTH),
    ("Udemy Business", "training", _BOTH),
    ("LinkedIn Talent", "recruiting", _BOTH),
    ("Hays", "recruiting", _BOTH),
    ("CV-Online", "recruiting", (ENTITY_EE,)),
    ("ISS Facility Services", "facility_services", _BOTH),
    ("ABM Industries", "facility_services", (ENTITY_US,)),
    ("If P&C", "insurance", (ENTITY_EE,)),
    ("Chubb", "insurance", (ENTITY_US,)),
    ("SEB", "bank", (ENTITY_EE,)),
    ("Chase", "bank", (ENTITY_US,)),
    ("Amex GBT", "travel", _BOTH),
    ("BCD Travel", "travel", _BOTH),
    ("Lufthansa", "travel", (ENTITY_EE,)),
    ("Delta Air Lines", "travel", (ENTITY_US,)),
    (_LANDLORD[ENTITY_EE], None, (ENTITY_EE,)),
    (_LANDLORD[ENTITY_US], None, (ENTITY_US,)),
    (_UTILITY[ENTITY_EE], None, (ENTITY_EE,)),
    (_UTILITY[ENTITY_US], None, (ENTITY_US,)),
    (_CLOUD_VENDOR, None, _BOTH),
    (SPLIT_INVOICE_VENDOR, None, (ENTITY_EE,)),
)
_VENDOR_NAMES = tuple(v[0] for v in _VENDORS)
_VENDOR_INDEX = {name: i for i, name in enumerate(_VENDOR_NAMES)}

# Share of the non-fixed GL lines per document family, and lines per document (body lines; each
# document adds one balancing line).
_FAMILY_SHARE = {"AP_INVOICE": 0.45, "AR_INVOICE": 0.30, "EXPENSE": 0.15, "PAYMENT": 0.05, "RECEIPT": 0.05}
_AP_BODY = (np.array([1, 2, 3, 4, 5, 6, 8]), np.array([0.35, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05]))
_AR_BODY = (np.array([1, 2, 3, 4, 5, 6]), np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05]))
_EXP_BODY = (np.array([1, 2, 3, 4, 5]), np.array([0.3, 0.3, 0.2, 0.12, 0.08]))
_ONE_BODY = (np.array([1]), np.array([1.0]))
_DOC_TYPE_ORDER = ("PAYROLL", "JOURNAL", "AP_INVOICE", "AR_INVOICE", "EXPENSE", "PAYMENT", "RECEIPT")

_ACCOUNT_IDS = tuple(a for a, _, _, _ in ACCOUNTS)
_ACCOUNT_INDEX = {a: i for i, a in enumerate(_ACCOUNT_IDS)}
_CC_INDEX = {c: i for i, c in enumerate(COST_CENTER_IDS)}
_PRODUCT_INDEX = {p: i for i, p in enumerate(PRODUCT_IDS)}
_REGION_INDEX = {r: i for i, r in enumerate(REGION_IDS)}
_SPEC = {c.cost_center: c for c in COST_CENTERS}


# --- master data -----------------------------------------------------------------------------


def _master_tables(periods: list[str], closed: int) -> dict[str, pa.Table]:
    entities = pa.table(
        {
            "entity": list(ENTITY_CURRENCY),
            "name": [ENTITY_NAMES[e] for e in ENTITY_CURRENCY],
            "currency": list(ENTITY_CURRENCY.values()),
        }
    )
    accounts = pa.table(
        {
            "account": [a[0] for a in ACCOUNTS],
            "name": [a[1] for a in ACCOUNTS],
            "type": [a[2] for a in ACCOUNTS],
            "active": pa.array([a[3] for a in ACCOUNTS], pa.bool_()),
        }
    )
    cost_centers = pa.table(
        {
            "cost_center": [c.cost_center for c in COST_CENTERS],
            "name": [c.name for c in COST_CENTERS],
            "entity": [c.entity for c in COST_CENTERS],
            "kind": [c.kind for c in COST_CENTERS],
            "function": [c.function for c in COST_CENTERS],
            "parent": pa.array([c.parent for c in COST_CENTERS], pa.string()),
            "active": pa.array([c.active for c in COST_CENTERS], pa.bool_()),
        }
    )
    members = [("product", *m) for m in PRODUCTS] + [("region", *m) for m in REGIONS]
    members += [("segment", *m) for m in SEGMENTS] + [("activity", *m) for m in ACTIVITIES]
    dimension_members = pa.table(
        {
            "dimension": [m[0] for m in members],
            "member": [m[1] for m in members],
            "name": [m[2] for m in members],
            "active": pa.array([m[3] for m in members], pa.bool_()),
        }
    )
    rows = []
    for entity in ENTITY_CURRENCY:
        for i, period in enumerate(periods):
            days = _month_days(parse_period(period))
            rows.append((entity, period, str(days[0]), str(days[-1]), "closed" if i < closed else "open"))
    fiscal_periods = pa.table({name: [r[i] for r in rows] for i, name in enumerate(("entity", "period", "start_date", "end_date", "status"))})
    return {
        "entities": entities,
        "accounts": accounts,
        "cost_centers": cost_centers,
        "dimension_members": dimension_members,
        "fiscal_periods": fiscal_periods,
    }


# --- drivers ---------------------------------------------------------------------------------


class _Drivers(NamedTuple):
    """One month's drivers, aligned with `centers` (active cost centers in COST_CENTERS order)."""

    centers: tuple[CostCenterSpec, ...]
    headcount: np.ndarray  # FTE, one decimal
    it_tickets: np.ndarray  # operating only, else 0
    cloud_cents: np.ndarray
    app_licences: np.ndarray
    floor_area: np.ndarray


def _drivers(seed: int, ordinal: int) -> _Drivers:
    centers = tuple(c for c in COST_CENTERS if c.active)
    rng = _rng(seed, ordinal, "drivers")
    n = len(centers)
    base = np.array([c.base_headcount for c in centers])
    growth = np.array([c.growth for c in centers])
    months = ordinal - _REF_ORDINAL
    headcount = base * (1.0 + growth) ** months * (1.0 + 0.012 * rng.standard_normal(n))
    is_bu = np.array([c.cost_center in US_BUSINESS_UNITS for c in centers])
    operating = np.array([c.kind == "operating" for c in centers])
    headcount = np.where(is_bu, np.clip(headcount, *US_BU_RANGES["headcount"]), np.maximum(headcount, 1.0))
    headcount = np.round(headcount, 1)
    ratio = np.divide(headcount, base, out=np.zeros(n), where=base > 0)

    tickets = rng.poisson(np.array([c.tickets_q for c in centers]) / 3.0 * ratio).astype(np.float64)
    cloud = np.array([c.cloud_q for c in centers]) / 3.0 * ratio**0.5 * (1.0 + 0.06 * rng.standard_normal(n))
    licences = np.round(np.array([c.licences for c in centers]) * ratio + rng.integers(-2, 3, n)).astype(np.float64)
    area = np.round(headcount * np.array([_AREA_PER_FTE[c.entity] for c in centers]) * (1.0 + 0.05 * rng.standard_normal(n)), 1)

    lo = {k: v[0] for k, v in US_BU_RANGES.items()}
    hi = {k: v[1] for k, v in US_BU_RANGES.items()}
    tickets = np.where(is_bu, np.clip(tickets, lo["it_tickets"], hi["it_tickets"]), tickets)
    cloud = np.where(is_bu, np.clip(cloud, lo["cloud_spend"], hi["cloud_spend"]), cloud)
    licences = np.where(is_bu, np.clip(licences, lo["app_licences"], hi["app_licences"]), licences)
    zero = np.zeros(n)
    return _Drivers(
        centers,
        headcount,
        np.where(operating, np.maximum(tickets, 0), zero),
        np.where(operating, np.rint(np.maximum(cloud, 0) * 100), zero).astype(np.int64),
        np.where(operating, np.maximum(licences, 1), zero),
        np.where(operating, area, zero),
    )


# --- GL documents ----------------------------------------------------------------------------


class _Ledger:
    """Line-level columns of one entity's GL for one month, appended to by document families."""

    def __init__(self, entity: str, ordinal: int) -> None:
        self.entity = entity
        self.days = _month_days(ordinal)
        self.doc_ids: list[pa.Array] = []
        self.n_docs = 0
        self.texts: dict[str, int] = {}
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("doc", "seq", "type", "line", "day", "account", "cc", "product", "region", "debit", "credit", "text")
        }

    def text(self, value: str) -> int:
        return self.texts.setdefault(value, len(self.texts))

    def add(self, doc_type: str, doc_ids: pa.Array, doc_seq: np.ndarray, doc_day: np.ndarray, lines: dict[str, np.ndarray]) -> None:
        """Append documents: `lines` holds per-line arrays incl. 'doc' (0-based within this call)."""
        doc = lines["doc"]
        self.cols["doc"].append(doc + self.n_docs)
        self.cols["seq"].append(doc_seq[doc])
        self.cols["type"].append(np.full(doc.size, _DOC_TYPE_ORDER.index(doc_type), dtype=np.int8))
        self.cols["day"].append(doc_day[doc])
        for key in ("line", "account", "cc", "product", "region", "debit", "credit", "text"):
            self.cols[key].append(lines[key])
        self.doc_ids.append(doc_ids)
        self.n_docs += len(doc_ids)

    def table(self) -> pa.Table:
        col = {k: np.concatenate(v) for k, v in self.cols.items()}
        order = np.lexsort((col["line"], col["doc"], col["seq"], col["type"], col["day"]))
        col = {k: v[order] for k, v in col.items()}
        doc_ids = pa.concat_arrays(self.doc_ids)
        texts = pa.array(sorted(self.texts, key=self.texts.get), pa.string())
        day_text = pa.array(self.days.astype(str).tolist(), pa.string())
        return pa.table(
            {
                "entity": pa.array(np.full(order.size, self.entity)),
                "document_id": doc_ids.take(col["doc"]),
                "document_type": pa.array(_DOC_TYPE_ORDER, pa.string()).take(col["type"]),
                "line": pa.array(col["line"], pa.int64()),
                "posting_date": day_text.take(col["day"]),
                "account": pa.array(_ACCOUNT_IDS, pa.string()).take(col["account"]),
                "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(col["cc"]),
                "product": _take_nullable(PRODUCT_IDS, col["product"]),
                "region": _take_nullable(REGION_IDS, col["region"]),
                "debit": _cents_text(col["debit"]),
                "credit": _cents_text(col["credit"]),
                "currency": pa.array(np.full(order.size, ENTITY_CURRENCY[self.entity])),
                "description": texts.take(col["text"]),
            },
            schema=GL_SCHEMA,
        )


def _take_nullable(values: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx, pa.int64(), mask=idx < 0))


def _cents_text(cents: np.ndarray) -> pa.Array:
    """Non-negative cents as two-decimal text, vectorised: 12000 -> '120.00'."""
    if cents.size and cents.min() < 0:
        raise ValueError("negative amount in generated data")
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _doc_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    padded = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), padded, "")


def _body_counts(rng: np.random.Generator, target_lines: int, sizes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Body lines per document so that sum(body + 1) hits `target_lines` (exactly when possible)."""
    if target_lines < 2:
        return np.zeros(0, dtype=np.int64)
    values, probs = sizes
    draws = values[rng.choice(values.size, size=target_lines // 2 + 1, p=probs)].astype(np.int64)
    total = np.cumsum(draws + 1)
    n = int(np.searchsorted(total, target_lines)) + 1
    body = draws[:n].copy()
    over = int(total[n - 1]) - target_lines
    if over > 0 and body[-1] - over >= 1:
        body[-1] -= over
    return body


class _Family(NamedTuple):
    """Per-document and per-body-line arrays of one family of 'body lines + one balancing line'."""

    body: np.ndarray  # body lines per document
    account: np.ndarray  # per body line, account index
    cc: np.ndarray
    product: np.ndarray
    region: np.ndarray
    cents: np.ndarray
    text: np.ndarray


def _assemble(fam: _Family, body_side: str, balance_account: str, balance_cc: str, balance_text: int) -> dict[str, np.ndarray]:
    n = fam.body.size
    lines_per_doc = fam.body + 1
    total = int(lines_per_doc.sum())
    starts = np.cumsum(lines_per_doc) - lines_per_doc
    doc = np.repeat(np.arange(n), lines_per_doc)
    line = np.arange(total) - np.repeat(starts, lines_per_doc) + 1
    balance = line == np.repeat(lines_per_doc, lines_per_doc)
    body = ~balance

    def spread(values: np.ndarray, fill: int) -> np.ndarray:
        out = np.full(total, fill, dtype=np.int64)
        out[body] = values
        return out

    body_starts = np.cumsum(fam.body) - fam.body
    doc_total = np.add.reduceat(fam.cents, body_starts) if n else np.zeros(0, np.int64)
    amounts = spread(fam.cents, 0)
    amounts[balance] = doc_total
    zero = np.zeros(total, dtype=np.int64)
    body_debit = body_side == "debit"
    debit = np.where(body == body_debit, amounts, zero)
    credit = np.where(body == body_debit, zero, amounts)
    return {
        "doc": doc,
        "line": line,
        "account": spread(fam.account, _ACCOUNT_INDEX[balance_account]),
        "cc": spread(fam.cc, _CC_INDEX[balance_cc]),
        "product": spread(fam.product, -1),
        "region": spread(fam.region, -1),
        "debit": debit,
        "credit": credit,
        "text": spread(fam.text, balance_text),
    }


def _sample_index(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(p.size, size=size, p=p / p.sum())


class _EntityMonth:
    """Generates one entity's GL, AP invoice lines and revenue for one month."""

    def __init__(self, entity: str, ordinal: int, drivers: _Drivers, rng: np.random.Generator, counters: dict) -> None:
        self.entity = entity
        self.ordinal = ordinal
        self.rng = rng
        self.counters = counters
        self.ledger = _Ledger(entity, ordinal)
        self.period = format_period(ordinal)
        self.factor = _AMOUNT_FACTOR[entity]
        mine = [i for i, c in enumerate(drivers.centers) if c.entity == entity]
        self.centers = [drivers.centers[i] for i in mine]
        self.cc_idx = np.array([_CC_INDEX[c.cost_center] for c in self.centers])
        self.headcount = drivers.headcount[mine]
        self.cloud_cents = int(drivers.cloud_cents[mine].sum())
        self.bs_cc = BALANCE_SHEET_COST_CENTER[entity]
        days = self.ledger.days
        self.business_days = np.flatnonzero(np.is_busday(days))
        self.ap_parts: list[tuple] = []

    # -- helpers

    def _numbers(self, family: str, n: int, reserved: tuple[int, ...] = ()) -> np.ndarray:
        start = self.counters.get((self.entity, family), 1)
        candidates = np.arange(start, start + n + len(reserved), dtype=np.int64)
        if reserved:
            candidates = candidates[~np.isin(candidates, reserved)]
        numbers = candidates[:n]
        self.counters[(self.entity, family)] = int(numbers[-1]) + 1 if n else start
        return numbers

    def _random_days(self, n: int) -> np.ndarray:
        return np.sort(self.business_days[self.rng.integers(0, self.business_days.size, n)])

    def _cc_weights(self, affinity: dict, default: float, only: tuple[str, ...] = ()) -> np.ndarray:
        w = self.headcount * np.array([affinity.get(c.role, default) for c in self.centers])
        if only:
            w = w * np.array([c.cost_center in only for c in self.centers])
        return w

    # -- fixed monthly documents

    def payroll(self) -> int:
        n = len(self.centers)
        salary = np.array([_SALARY[self.entity][c.role] for c in self.centers], dtype=np.float64)
        salaries = np.rint(self.headcount * salary * (1.0 + 0.02 * self.rng.standard_normal(n)) * 100).astype(np.int64)
        social = np.rint(salaries * _SOCIAL_RATE[self.entity]).astype(np.int64)
        benefits = np.rint(salaries * _BENEFITS_RATE[self.entity]).astype(np.int64)
        led = self.ledger
        account = np.concatenate(
            [np.full(n, _ACCOUNT_INDEX[a]) for a in (ACCOUNT_SALARIES, ACCOUNT_SOCIAL_SECURITY, ACCOUNT_PENSION_BENEFITS)]
            + [np.array([_ACCOUNT_INDEX[ACCOUNT_SALARIES_PAYABLE], _ACCOUNT_INDEX[ACCOUNT_PAYROLL_TAXES_PAYABLE]])]
        )
        # Order: per cost center its three lines, then the two liabilities.
        per_cc = np.arange(3 * n).reshape(3, n).T.ravel()
        order = np.concatenate([per_cc, [3 * n, 3 * n + 1]])
        debit = np.concatenate([salaries, social, benefits, [0, 0]])[order]
        credit = np.concatenate([np.zeros(3 * n, np.int64), [salaries.sum(), social.sum() + benefits.sum()]])[order]
        texts = [led.text("Salaries"), led.text("Social security contributions"), led.text("Pension and benefits")]
        text = np.concatenate([np.full(n, t) for t in texts] + [np.array([led.text("Net salaries payable"), led.text("Payroll taxes payable")])])
        cc = np.concatenate([self.cc_idx, self.cc_idx, self.cc_idx, np.full(2, _CC_INDEX[self.bs_cc])])
        total = 3 * n + 2
        lines = {
            "doc": np.zeros(total, np.int64),
            "line": np.arange(1, total + 1),
            "account": account[order],
            "cc": cc[order],
            "product": np.full(total, -1),
            "region": np.full(total, -1),
            "debit": debit,
            "credit": credit,
            "text": text[order],
        }
        doc_id = pa.array([f"{self.entity}-PAYROLL-{self.period.replace('-', '')}"])
        led.add("PAYROLL", doc_id, np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return total

    def it_pool(self) -> int:
        led = self.ledger
        lines = {
            "doc": np.zeros(2, np.int64),
            "line": np.array([1, 2]),
            "account": np.array([_ACCOUNT_INDEX[IT_POOL_ACCOUNT], _ACCOUNT_INDEX[ACCOUNT_PAYABLE]]),
            "cc": np.array([_CC_INDEX[IT_POOL_COST_CENTER], _CC_INDEX[self.bs_cc]]),
            "product": np.full(2, -1),
            "region": np.full(2, -1),
            "debit": np.array([IT_POOL_CENTS, 0], np.int64),
            "credit": np.array([0, IT_POOL_CENTS], np.int64),
            "text": np.array([led.text("IT managed services (monthly fee)"), led.text("Accounts payable")]),
        }
        led.add(IT_POOL_DOCUMENT_TYPE, pa.array([it_pool_document_id(self.period)]), np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return 2

    def corporate_it_pool(self) -> int:
        """Seed 000's corporate IT journal of the month on (64200, US-IT); draws nothing at random."""
        led = self.ledger
        cents = corporate_it_month_cents(self.period)
        lines = {
            "doc": np.zeros(2, np.int64),
            "line": np.array([1, 2]),
            "account": np.array([_ACCOUNT_INDEX[CORPORATE_IT_ACCOUNT], _ACCOUNT_INDEX[ACCOUNT_PAYABLE]]),
            "cc": np.array([_CC_INDEX[CORPORATE_IT_COST_CENTER], _CC_INDEX[self.bs_cc]]),
            "product": np.full(2, -1),
            "region": np.full(2, -1),
            "debit": np.array([cents, 0], np.int64),
            "credit": np.array([0, cents], np.int64),
            "text": np.array([led.text("Corporate IT services (monthly share)"), led.text("Accounts payable")]),
        }
        doc_id = pa.array([CORPORATE_IT_DOCUMENT_PREFIX + self.period.replace("-", "")])
        led.add("JOURNAL", doc_id, np.zeros(1, np.int64), np.array([len(led.days) - 1]), lines)
        return 2

    def fixed_invoices(self, last_period: bool) -> list[tuple]:
        """(vendor, day, fixed id or None, [(account, cost center, cents, text)]) of the month's fixed bills."""
        month = self.ordinal % 12
        fac = FACILITIES_COST_CENTERS[self.entity]
        utilities = _UTILITIES_CENTS[self.entity] * _UTILITIES_SEASON[self.entity][month] * (1.0 + 0.04 * self.rng.standard_normal())
        electricity = int(round(utilities * 0.6))
        heating = int(round(utilities * 0.4))
        bills = [
            (_LANDLORD[self.entity], 0, None, [(ACCOUNT_RENT, fac, _RENT_CENTS[self.entity], "Office rent")]),
            (
                _UTILITY[self.entity],
                9,
                None,
                [(ACCOUNT_UTILITIES, fac, electricity, "Electricity"), (ACCOUNT_UTILITIES, fac, heating, "Heating and water")],
            ),
            (_CLOUD_VENDOR, 2, None, [(ACCOUNT_CLOUD_HOSTING, CLOUD_COST_CENTER[self.entity], self.cloud_cents, "Cloud hosting")]),
        ]
        if last_period and self.entity == ENTITY_EE:
            slack_line = (ACCOUNT_SOFTWARE, SLACK_INVOICE_COST_CENTER, SLACK_INVOICE_CENTS, "Slack Business+ subscription")
            bills.append((SLACK_VENDOR, 14, SLACK_INVOICE_ID, [slack_line]))
            bills.append(
                (
                    SPLIT_INVOICE_VENDOR,
                    14,
                    SPLIT_INVOICE_ID,
                    [(acc, cc, cents, "Office software" if acc == ACCOUNT_SOFTWARE else "Travel") for _, acc, cc, cents in SPLIT_INVOICE_LINES],
                )
            )
        return bills

    # -- variable families

    def ap_invoices(self, target_lines: int, fixed: list[tuple]) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, _AP_BODY)
        n_rand = body.size
        vendors = [i for i, (_, cat, ents) in enumerate(_VENDORS) if cat is not None and self.entity in ents]
        cats = [_VENDORS[i][1] for i in vendors]
        per_cat = {c: cats.count(c) for c in set(cats)}
        p = np.array([_CATEGORIES[c].frequency / per_cat[c] for c in cats])
        vendor = np.array(vendors)[_sample_index(rng, p, n_rand)] if n_rand else np.zeros(0, np.int64)
        body_doc = np.repeat(np.arange(n_rand), body)
        line_vendor = vendor[body_doc]
        n_lines = int(body.sum())
        account = np.zeros(n_lines, np.int64)
        cc = np.zeros(n_lines, np.int64)
        cents = np.zeros(n_lines, np.int64)
        text = np.zeros(n_lines, np.int64)
        vendor_cat = np.array([_VENDORS[v][1] or "" for v in range(len(_VENDORS))])
        line_cat = vendor_cat[line_vendor]
        for name in sorted(per_cat):
            cat = _CATEGORIES[name]
            mask = np.flatnonzero(line_cat == name)
            if not mask.size:
                continue
            account[mask] = _ACCOUNT_INDEX[cat.account]
            if cat.secondary:
                second = rng.random(mask.size) < cat.secondary[1]
                account[mask[second]] = _ACCOUNT_INDEX[cat.secondary[0]]
            cc[mask] = self.cc_idx[_sample_index(rng, self._cc_weights(cat.affinity, cat.default, cat.only), mask.size)]
            cents[mask] = _lognormal_cents(rng, cat.median * self.factor, cat.sigma, mask.size)
        vendor_text = np.array([led.text(f"{v} {_CATEGORIES[c].label}" if c else v) for v, c, _ in _VENDORS])
        text[:] = vendor_text[line_vendor]
        day = self._random_days(n_rand)

        # Fixed bills go first; they are numbered with the rest in posting-date order.
        fx_vendor = np.array([_VENDOR_INDEX[b[0]] for b in fixed], np.int64)
        fx_body = np.array([len(b[3]) for b in fixed], np.int64)
        fx_day = np.array([b[1] for b in fixed], np.int64)
        fx_lines = [line for b in fixed for line in b[3]]
        all_body = np.concatenate([fx_body, body])
        all_vendor = np.concatenate([fx_vendor, vendor])
        all_day = np.concatenate([fx_day, day])
        fam = _Family(
            all_body,
            np.concatenate([[_ACCOUNT_INDEX[a] for a, _, _, _ in fx_lines], account]).astype(np.int64),
            np.concatenate([[_CC_INDEX[c] for _, c, _, _ in fx_lines], cc]).astype(np.int64),
            np.full(all_body.sum(), -1),
            np.full(all_body.sum(), -1),
            np.concatenate([[m for _, _, m, _ in fx_lines], cents]).astype(np.int64),
            np.concatenate([[led.text(t) for _, _, _, t in fx_lines], text]).astype(np.int64),
        )
        preset = [b[2] for b in fixed]
        numbered = np.array([i for i in range(all_body.size) if i >= len(fixed) or preset[i] is None], np.int64)
        reserved = tuple(int(x[len(self.entity) + 5 :]) for x in RESERVED_INVOICE_IDS if x.startswith(f"{self.entity}-BILL"))
        seq = np.zeros(all_body.size, np.int64)
        order = numbered[np.argsort(all_day[numbered], kind="stable")]
        seq[order] = self._numbers("BILL", order.size, reserved)
        for i, doc_id in enumerate(preset):
            if doc_id is not None:
                seq[i] = int(doc_id[len(self.entity) + 5 :])
        doc_ids = _doc_ids(f"{self.entity}-BILL", seq, 6)
        lines = _assemble(fam, "debit", ACCOUNT_PAYABLE, self.bs_cc, led.text("Accounts payable"))
        led.add("AP_INVOICE", doc_ids, seq, all_day, lines)
        self.ap_parts.append((doc_ids, seq, all_day, all_vendor, fam))

    def ar_invoices(self, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, _AR_BODY)
        n = body.size
        weights = np.array([c.revenue_weight for c in self.centers])
        doc_cc_local = _sample_index(rng, weights, n) if n else np.zeros(0, np.int64)
        regions = _REGION_MIX[self.entity]
        region_ids = np.array([_REGION_INDEX[r] for r in regions])
        doc_region = region_ids[_sample_index(rng, np.array(list(regions.values())), n)] if n else np.zeros(0, np.int64)
        body_doc = np.repeat(np.arange(n), body)
        line_cc_local = doc_cc_local[body_doc]
        product = np.zeros(body_doc.size, np.int64)
        for local in np.flatnonzero(weights > 0):
            mask = np.flatnonzero(line_cc_local == local)
            if mask.size:
                product[mask] = _sample_index(rng, np.array(_PRODUCT_MIX[self.centers[local].cost_center]), mask.size)
        services = product == _PRODUCT_INDEX["P-SRVC"]
        account = np.where(services, _ACCOUNT_INDEX[ACCOUNT_SERVICES_REVENUE], _ACCOUNT_INDEX[ACCOUNT_REVENUE])
        season = _REVENUE_SEASON[self.ordinal % 12]
        cents = _lognormal_cents(rng, 1500.0 * self.factor * season, 1.0, body_doc.size)
        product_text = np.array([led.text(f"Revenue {name}") for p, name, active in PRODUCTS if active])
        fam = _Family(body, account, self.cc_idx[line_cc_local], product, doc_region[body_doc], cents, product_text[product])
        day = self._random_days(n)
        seq = self._numbers("INV", n)
        doc_ids = _doc_ids(f"{self.entity}-INV", seq, 7)
        lines = _assemble(fam, "credit", ACCOUNT_RECEIVABLE, self.bs_cc, led.text("Accounts receivable"))
        led.add("AR_INVOICE", doc_ids, seq, day, lines)
        self.revenue_cc = np.bincount(line_cc_local, weights=cents, minlength=len(self.centers))
        self.revenue_product = np.bincount(product, weights=cents, minlength=len(PRODUCT_IDS))

    def expense_reports(self, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        body = _body_counts(rng, target_lines, _EXP_BODY)
        n = body.size
        travel = _CATEGORIES["travel"]
        doc_cc = self.cc_idx[_sample_index(rng, self._cc_weights(travel.affinity, 1.0), n)] if n else np.zeros(0, np.int64)
        kinds = (
            (ACCOUNT_TRAVEL, "Expense claim travel", 0.4),
            ("61100", "Expense claim meals", 0.3),
            ("61200", "Expense claim accommodation", 0.2),
            ("60100", "Expense claim phone", 0.1),
        )
        kind = _sample_index(rng, np.array([k[2] for k in kinds]), int(body.sum()))
        account = np.array([_ACCOUNT_INDEX[k[0]] for k in kinds])[kind]
        texts = np.array([led.text(k[1]) for k in kinds])[kind]
        cents = _lognormal_cents(rng, 55.0 * self.factor, 0.9, kind.size)
        body_doc = np.repeat(np.arange(n), body)
        fam = _Family(body, account, doc_cc[body_doc], np.full(kind.size, -1), np.full(kind.size, -1), cents, texts)
        seq = self._numbers("EXP", n)
        lines = _assemble(fam, "debit", ACCOUNT_EMPLOYEE_PAYABLE, self.bs_cc, led.text("Employee reimbursements payable"))
        led.add("EXPENSE", _doc_ids(f"{self.entity}-EXP", seq, 7), seq, self._random_days(n), lines)

    def bank(self, doc_type: str, target_lines: int) -> None:
        rng, led = self.rng, self.ledger
        n = max(target_lines // 2, 0)
        body = np.ones(n, np.int64)
        if doc_type == "PAYMENT":
            body_account, balance_account, prefix, median = ACCOUNT_PAYABLE, ACCOUNT_BANK, "PMT", 4000.0
            body_text, balance_text = "Supplier payment", "Bank"
        else:
            body_account, balance_account, prefix, median = ACCOUNT_BANK, ACCOUNT_RECEIVABLE, "RCT", 6000.0
            body_text, balance_text = "Customer receipt", "Accounts receivable"
        fam = _Family(
            body,
            np.full(n, _ACCOUNT_INDEX[body_account]),
            np.full(n, _CC_INDEX[self.bs_cc]),
            np.full(n, -1),
            np.full(n, -1),
            _lognormal_cents(rng, median * self.factor, 1.0, n),
            np.full(n, led.text(body_text)),
        )
        seq = self._numbers(prefix, n)
        lines = _assemble(fam, "debit", balance_account, self.bs_cc, led.text(balance_text))
        led.add(doc_type, _doc_ids(f"{self.entity}-{prefix}", seq, 7), seq, self._random_days(n), lines)

    def ap_table(self) -> pa.Table:
        parts = []
        for doc_ids, seq, day, vendor, fam in self.ap_parts:
            body_doc = np.repeat(np.arange(fam.body.size), fam.body)
            starts = np.cumsum(fam.body) - fam.body
            line = np.arange(body_doc.size) - starts[body_doc] + 1
            order = np.lexsort((line, seq[body_doc], day[body_doc]))
            body_doc, line = body_doc[order], line[order]
            texts = pa.array(sorted(self.ledger.texts, key=self.ledger.texts.get), pa.string())
            parts.append(
                pa.table(
                    {
                        "entity": pa.array(np.full(order.size, self.entity)),
                        "document_id": doc_ids.take(body_doc),
                        "line": pa.array(line, pa.int64()),
                        "vendor": pa.array(_VENDOR_NAMES, pa.string()).take(vendor[body_doc]),
                        "invoice_date": pa.array(self.ledger.days.astype(str).tolist(), pa.string()).take(day[body_doc]),
                        "account": pa.array(_ACCOUNT_IDS, pa.string()).take(fam.account[order]),
                        "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(fam.cc[order]),
                        "amount": _cents_text(fam.cents[order]),
                        "currency": pa.array(np.full(order.size, ENTITY_CURRENCY[self.entity])),
                        "description": texts.take(fam.text[order]),
                    },
                    schema=AP_SCHEMA,
                )
            )
        return pa.concat_tables(parts)


# --- timesheets ------------------------------------------------------------------------------


def _timesheets(seed: int, ordinal: int, drivers: _Drivers) -> pa.Table:
    """Employees book their working days (about 150 hours per FTE a month) to activities."""
    rng = _rng(seed, ordinal, "timesheets")
    days = _month_days(ordinal)
    workdays = days[np.is_busday(days)]
    activity_index = {a: i for i, a in enumerate(ACTIVITY_IDS)}
    parts = []
    for center, fte in zip(drivers.centers, drivers.headcount):
        n_emp = int(np.ceil(fte))
        if n_emp == 0:
            continue
        center_no = _CC_INDEX[center.cost_center]
        # Everyone full time except the last employee, who works the fractional FTE.
        share = np.ones(n_emp)
        share[-1] = fte - (n_emp - 1)
        mix = _ACTIVITY_MIX[center.role]
        acts = np.array([activity_index[a] for a in mix])
        p = np.array(list(mix.values()))
        p = p / p.sum()
        grid = n_emp * workdays.size
        emp = np.repeat(np.arange(n_emp), workdays.size)
        day = np.tile(np.arange(workdays.size), n_emp)
        present = rng.random(grid) < 0.9
        hours = np.clip(8.0 * share[emp] * (1.0 + 0.08 * rng.standard_normal(grid)), 0.5, 12.0)
        hours = np.maximum(np.round(hours * 4) / 4, 0.25)
        first = rng.choice(acts.size, size=grid, p=p)
        split = (rng.random(grid) < 0.35) & (hours >= 1.0)
        second = rng.choice(acts.size, size=grid, p=p)
        second = np.where(second == first, (first + 1) % acts.size, second)
        first_hours = np.where(split, np.maximum(np.round(hours * rng.uniform(0.3, 0.7, grid) * 4) / 4, 0.25), hours)
        keep = present
        rows_emp = np.concatenate([emp[keep], emp[keep & split]])
        rows_day = np.concatenate([day[keep], day[keep & split]])
        rows_act = np.concatenate([acts[first[keep]], acts[second[keep & split]]])
        rows_hours = np.concatenate([first_hours[keep], (hours - first_hours)[keep & split]])
        # Each employee works on one project of the entity; global index into _ALL_PROJECTS.
        first_project = _ALL_PROJECTS.index(_PROJECTS[center.entity][0])
        emp_project = first_project + rng.integers(0, len(_PROJECTS[center.entity]), n_emp)
        with_project = np.isin(rows_act, [activity_index[a] for a in _PROJECT_ACTIVITIES])
        rows_project = np.where(with_project, emp_project[rows_emp], -1)
        order = np.lexsort((rows_act, rows_day, rows_emp))
        employee_no = (center_no + 1) * 1000 + rows_emp[order] + 1
        parts.append(
            {
                "employee": employee_no,
                "day": rows_day[order],
                "cc": np.full(order.size, center_no),
                "activity": rows_act[order],
                "project": rows_project[order],
                "hours": rows_hours[order],
            }
        )
    col = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return pa.table(
        {
            "employee": _doc_ids("EMP", col["employee"], 5),
            "work_date": pa.array(workdays.astype(str).tolist(), pa.string()).take(col["day"]),
            "cost_center": pa.array(COST_CENTER_IDS, pa.string()).take(col["cc"]),
            "activity": pa.array(ACTIVITY_IDS, pa.string()).take(col["activity"]),
            "project": _take_nullable(_ALL_PROJECTS, col["project"]),
            "hours": pa.array(col["hours"], pa.float64()),
        },
        schema=TIMESHEET_SCHEMA,
    )


# --- schemas and writing ---------------------------------------------------------------------

_S = pa.string()
GL_SCHEMA = pa.schema(
    [
        ("entity", _S), ("document_id", _S), ("document_type", _S), ("line", pa.int64()), ("posting_date", _S),
        ("account", _S), ("cost_center", _S), ("product", _S), ("region", _S), ("debit", _S), ("credit", _S),
        ("currency", _S), ("description", _S),
    ]
)
AP_SCHEMA = pa.schema(
    [
        ("entity", _S), ("document_id", _S), ("line", pa.int64()), ("vendor", _S), ("invoice_date", _S), ("account", _S),
        ("cost_center", _S), ("amount", _S), ("currency", _S), ("description", _S),
    ]
)
TIMESHEET_SCHEMA = pa.schema(
    [("employee", _S), ("work_date", _S), ("cost_center", _S), ("activity", _S), ("project", _S), ("hours", pa.float64())]
)
HEADCOUNT_SCHEMA = pa.schema([("period", _S), ("cost_center", _S), ("headcount", pa.float64())])
USAGE_SCHEMA = pa.schema([("period", _S), ("metric", _S), ("dimension", _S), ("cost_object", _S), ("value", pa.float64())])
MATRIX_SCHEMA = pa.schema([("period", _S), ("entity", _S), ("source", _S), ("target", _S), ("percent", pa.float64())])


class _Writer:
    """Writes one extract file, in one go or in chunks (one per month), as CSV or Parquet."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: str) -> None:
        self.path = path
        self.file_format = file_format
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "csv":
            self._file = open(path, "wb")
            # pyarrow quotes header names; write a plain header and unquoted values ourselves.
            self._file.write((",".join(schema.names) + "\n").encode())
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self._writer = pa_csv.CSVWriter(self._file, schema, write_options=options)
        else:
            self._file = None
            self._writer = pq.ParquetWriter(path, schema, compression="snappy")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._file is not None:
            self._file.close()


def _write_table(path: Path, table: pa.Table, file_format: str) -> int:
    writer = _Writer(path, table.schema, file_format)
    try:
        writer.write(table)
    finally:
        writer.close()
    return table.num_rows


# --- entry point -----------------------------------------------------------------------------


def _validate(periods: int, end_period: str, closed_periods: int, gl_lines_per_period: int, file_format: str) -> None:
    parse_period(end_period)
    if periods < 1:
        raise ValueError(f"periods must be at least 1, got {periods}")
    if closed_periods < 0:
        raise ValueError(f"closed_periods cannot be negative, got {closed_periods}")
    if gl_lines_per_period < MIN_GL_LINES_PER_PERIOD:
        raise ValueError(f"gl_lines_per_period must be at least {MIN_GL_LINES_PER_PERIOD}, got {gl_lines_per_period}")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}")


def generate_company(
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    periods: int = DEFAULT_PERIODS,
    end_period: str = DEFAULT_END_PERIOD,
    closed_periods: int = DEFAULT_CLOSED_PERIODS,
    gl_lines_per_period: int = DEFAULT_GL_LINES_PER_PERIOD,
    file_format: str = "csv",
) -> GenerationSummary:
    """Write the sample company's extracts under `out_dir/extracts/`, replacing earlier ones.

    `periods` months end with `end_period`; the oldest `closed_periods` of them are closed (all
    of them when `closed_periods` >= `periods`). Each month has about `gl_lines_per_period` GL
    lines (within a few lines, never off by more than 5%). Memory stays bounded by one month.
    Raises ValueError for a malformed argument. Files are built in a staging folder and swapped
    in at the end, so a failure leaves the previous extracts in place.
    """
    _validate(periods, end_period, closed_periods, gl_lines_per_period, file_format)
    out_dir = Path(out_dir)
    months = period_range(end_period, periods)
    closed = min(closed_periods, periods)
    out_dir.mkdir(parents=True, exist_ok=True)
    extracts_dir = out_dir / "extracts"
    staging = out_dir / ".extracts.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        row_counts, names = _write_extracts(staging, months, closed, seed, gl_lines_per_period, file_format)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if extracts_dir.exists():
        shutil.rmtree(extracts_dir)
    staging.rename(extracts_dir)
    written = [extracts_dir / name for name in names]

    rules_file = None
    rules_source = resources.files("allocation_pipeline").joinpath("sample", "rules.yaml")
    if rules_source.is_file():
        rules_file = out_dir / "rules.yaml"
        rules_file.write_bytes(rules_source.read_bytes())
        written.append(rules_file)
        # The schema the rules file's first line names, for editors; with the methods installed here.
        from allocation_pipeline.config.schema import SCHEMA_FILE, write_rules_schema

        written.append(write_rules_schema(out_dir / SCHEMA_FILE))

    return GenerationSummary(
        out_dir=out_dir.resolve(),
        extracts_dir=extracts_dir.resolve(),
        periods=tuple(months),
        closed_periods=tuple(months[:closed]),
        file_format=file_format,
        row_counts={name: row_counts[name] for name in EXTRACTS},
        files=tuple(p.resolve() for p in written),
        rules_file=rules_file.resolve() if rules_file else None,
    )


def _write_extracts(
    root: Path, months: list[str], closed: int, seed: int, gl_lines_per_period: int, file_format: str
) -> tuple[dict[str, int], list[str]]:
    """Write every extract under `root`, one month at a time; returns row counts and file names."""
    ext = file_format
    row_counts: dict[str, int] = {}
    names: list[str] = []
    for name, table in _master_tables(months, closed).items():
        row_counts[name] = _write_table(root / f"{name}.{ext}", table, file_format)
        names.append(f"{name}.{ext}")

    streams = {
        "ap_invoices": _Writer(root / f"ap_invoices.{ext}", AP_SCHEMA, file_format),
        "headcount": _Writer(root / f"headcount.{ext}", HEADCOUNT_SCHEMA, file_format),
        "usage_metrics": _Writer(root / f"usage_metrics.{ext}", USAGE_SCHEMA, file_format),
        "allocation_matrix": _Writer(root / f"allocation_matrix.{ext}", MATRIX_SCHEMA, file_format),
    }
    row_counts["gl_lines"] = 0
    row_counts["timesheets"] = 0
    counters: dict = {}  # running document numbers per (entity, family), across months
    try:
        for period in months:
            ordinal = parse_period(period)
            drivers = _drivers(seed, ordinal)
            entity_hc = {
                e: float(sum(f for c, f in zip(drivers.centers, drivers.headcount) if c.entity == e)) for e in ENTITY_CURRENCY
            }
            gl_parts = []
            revenue_cc = np.zeros(len(drivers.centers))
            revenue_product = np.zeros(len(PRODUCT_IDS))
            for entity in ENTITY_CURRENCY:
                # Lines per entity follow its size (headcount).
                target = int(round(gl_lines_per_period * entity_hc[entity] / sum(entity_hc.values())))
                month = _EntityMonth(entity, ordinal, drivers, _rng(seed, ordinal, "gl", entity), counters)
                fixed_lines = month.payroll()
                if entity == IT_POOL_ENTITY:
                    fixed_lines += month.it_pool()
                if entity == CORPORATE_IT_ENTITY:
                    # Not counted against the line budget, so every other draw of the month stays as it was.
                    month.corporate_it_pool()
                bills = month.fixed_invoices(last_period=period == months[-1])
                fixed_lines += sum(len(b[3]) + 1 for b in bills)
                variable = max(target - fixed_lines, 0)
                shares = {k: int(round(variable * s)) for k, s in _FAMILY_SHARE.items()}
                month.ap_invoices(shares["AP_INVOICE"], bills)
                month.ar_invoices(shares["AR_INVOICE"])
                month.expense_reports(shares["EXPENSE"])
                month.bank("PAYMENT", shares["PAYMENT"])
                month.bank("RECEIPT", shares["RECEIPT"])
                gl_parts.append(month.ledger.table())
                streams["ap_invoices"].write(month.ap_table())
                mine = [i for i, c in enumerate(drivers.centers) if c.entity == entity]
                revenue_cc[mine] += month.revenue_cc
                revenue_product += month.revenue_product
                del month
            row_counts["gl_lines"] += _write_table(root / "gl_lines" / f"{period}.{ext}", pa.concat_tables(gl_parts), file_format)
            names.append(f"gl_lines/{period}.{ext}")
            del gl_parts
            sheets = _timesheets(seed, ordinal, drivers)
            row_counts["timesheets"] += _write_table(root / "timesheets" / f"{period}.{ext}", sheets, file_format)
            names.append(f"timesheets/{period}.{ext}")
            headcount = {
                "period": [period] * len(drivers.centers),
                "cost_center": [c.cost_center for c in drivers.centers],
                "headcount": drivers.headcount,
            }
            streams["headcount"].write(pa.table(headcount, schema=HEADCOUNT_SCHEMA))
            streams["usage_metrics"].write(_usage_table(period, drivers, revenue_cc, revenue_product))
            streams["usage_metrics"].write(_it_consumption_table(period, drivers, _rng(seed, ordinal, IT_CONSUMPTION_METRIC)))
            streams["allocation_matrix"].write(_matrix_table(period, drivers, _rng(seed, ordinal, "matrix")))
    finally:
        for writer in streams.values():
            writer.close()
    for name, writer in streams.items():
        row_counts[name] = writer.rows
        names.append(f"{name}.{ext}")
    return row_counts, names


def _usage_table(period: str, drivers: _Drivers, revenue_cc: np.ndarray, revenue_product: np.ndarray) -> pa.Table:
    operating = [i for i, c in enumerate(drivers.centers) if c.kind == "operating"]
    names = [drivers.centers[i].cost_center for i in operating]
    values = {
        "it_tickets": drivers.it_tickets[operating],
        "cloud_spend": drivers.cloud_cents[operating] / 100.0,
        "app_licences": drivers.app_licences[operating],
        "floor_area": drivers.floor_area[operating],
        "revenue": revenue_cc[operating] / 100.0,
    }
    metric, dimension, cost_object, value = [], [], [], []
    for name in USAGE_METRICS:
        metric += [name] * len(names)
        dimension += ["cost_center"] * len(names)
        cost_object += names
        value.append(values[name])
    metric += ["revenue"] * len(PRODUCT_IDS)
    dimension += ["product"] * len(PRODUCT_IDS)
    cost_object += list(PRODUCT_IDS)
    value.append(revenue_product / 100.0)
    return pa.table(
        {"period": [period] * len(metric), "metric": metric, "dimension": dimension, "cost_object": cost_object, "value": np.concatenate(value)},
        schema=USAGE_SCHEMA,
    )


def _it_consumption_table(period: str, drivers: _Drivers, rng: np.random.Generator) -> pa.Table:
    """Seed 000's observed IT consumption of the US business units (USD, two decimals): the month's
    corporate IT pool split by the known driver weights, times noise, times the planted over-consumption."""
    rows = [i for i, c in enumerate(drivers.centers) if c.cost_center in US_BUSINESS_UNITS]
    names = [drivers.centers[i].cost_center for i in rows]
    values = {
        "headcount": drivers.headcount[rows],
        "it_tickets": drivers.it_tickets[rows],
        "cloud_spend": drivers.cloud_cents[rows] / 100.0,
        "app_licences": drivers.app_licences[rows],
    }
    key = sum(weight / 100.0 * values[d] / values[d].sum() for d, weight in IT_CONSUMPTION_WEIGHTS.items())
    noise = np.exp(IT_CONSUMPTION_NOISE * rng.standard_normal(len(rows)))
    factor = np.array([IT_OVERCONSUMERS.get(n, 1.0) for n in names])
    consumed = np.rint(corporate_it_month_cents(period) * key * noise * factor) / 100.0
    return pa.table(
        {
            "period": [period] * len(rows), "metric": [IT_CONSUMPTION_METRIC] * len(rows), "dimension": ["cost_center"] * len(rows),
            "cost_object": names, "value": consumed,
        },
        schema=USAGE_SCHEMA,
    )


# --- multi-level allocation matrix -----------------------------------------------------------

# Weight of a support center's headcount against an operating center's when a service is shared:
# support staff use IT, HR and offices too, but less than the business does.
_SUPPORT_CONSUMER_WEIGHT = 0.5
# Extra weight by the consumer's role: engineering and research use more IT, sales and services more finance.
_SERVICE_AFFINITY = {
    FUNCTION_IT: {"engineering": 1.6, "research": 1.6, "product": 1.2},
    FUNCTION_FINANCE: {"sales": 1.3, "services": 1.3},
}
# A sub-center passes a share of its total to its parent (its own, within this range, moving a
# few percent from month to month), the rest to those it serves.
_ROLLUP_SHARE = (0.2, 0.4)
_ROLLUP_MONTHLY_NOISE = 0.03
_BASIS_POINTS = 10_000


def _matrix_table(period: str, drivers: _Drivers, rng: np.random.Generator) -> pa.Table:
    """The month's allocation matrix: for each active support center, percents (two decimals,
    summing to exactly 100) to the centers it serves, by their headcount."""
    headcount = {c.cost_center: h for c, h in zip(drivers.centers, drivers.headcount)}
    rows: list[tuple[str, str, str, int]] = []
    for source in drivers.centers:
        if source.kind != "support":
            continue
        serves = SERVICE_RELATIONS[source.function]
        affinity = _SERVICE_AFFINITY.get(source.function, {})
        consumers, weights = [], []
        for center in drivers.centers:
            if center.entity != source.entity or center.cost_center in (source.cost_center, source.parent):
                continue
            if center.kind == "operating":
                weight = headcount[center.cost_center] * affinity.get(center.role, 1.0)
            elif center.function in serves:
                weight = headcount[center.cost_center] * _SUPPORT_CONSUMER_WEIGHT
            else:
                continue
            consumers.append(center.cost_center)
            weights.append(weight)
        fixed: list[tuple[str, int]] = []
        if source.parent is not None:
            low, high = _ROLLUP_SHARE
            base = low + (high - low) * (zlib.crc32(source.cost_center.encode()) % 1000) / 1000
            share = np.clip(base * (1.0 + _ROLLUP_MONTHLY_NOISE * rng.standard_normal()), low, high)
            fixed.append((source.parent, int(round(share * _BASIS_POINTS))))
        elif source.function == FUNCTION_MANAGEMENT:
            fixed.append((source.cost_center, MANAGEMENT_RETENTION_PERCENT * 100))
        left = _BASIS_POINTS - sum(bp for _, bp in fixed)
        shares = largest_remainder(left, np.asarray(weights, dtype=np.float64))
        for target, bp in fixed + list(zip(consumers, shares.tolist())):
            if bp > 0:
                rows.append((source.entity, source.cost_center, target, int(bp)))
    return pa.table(
        {
            "period": [period] * len(rows),
            "entity": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "target": [r[2] for r in rows],
            "percent": pa.array([r[3] / 100 for r in rows], pa.float64()),
        },
        schema=MATRIX_SCHEMA,
    )
