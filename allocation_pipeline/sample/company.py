"""A deterministic sample company and its fixed facts; `sample.generate` writes its master data and
monthly extracts in the layout the pipeline reads.

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
from typing import NamedTuple

import numpy as np

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


def month_days(ordinal: int) -> np.ndarray:
    start = np.datetime64(format_period(ordinal), "M")
    return np.arange(start.astype("datetime64[D]"), (start + 1).astype("datetime64[D]"), dtype="datetime64[D]")
