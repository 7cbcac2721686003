"""How the sample company's numbers are drawn: random streams, salaries and rates, vendors and
spending categories, product and region mixes, and lookups by id."""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np

from allocation_pipeline.sample.company import (
    ACCOUNTS,
    ACCOUNT_IT_MANAGED_SERVICES,
    ACCOUNT_SOFTWARE,
    ACCOUNT_TRAVEL,
    COST_CENTERS,
    COST_CENTER_IDS,
    DEFAULT_END_PERIOD,
    ENTITY_EE,
    ENTITY_US,
    IT_POOL_COST_CENTER,
    PRODUCT_IDS,
    REGION_IDS,
    SLACK_VENDOR,
    SPLIT_INVOICE_VENDOR,
    parse_period,
)


# --- randomness ------------------------------------------------------------------------------


def random_stream(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent, reproducible stream per (seed, keys); strings hashed with CRC32, not hash()."""
    words = [int(seed) & 0xFFFFFFFF]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


def lognormal_cents(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, size: int) -> np.ndarray:
    amount = np.asarray(median, dtype=np.float64) * np.exp(np.asarray(sigma) * rng.standard_normal(size))
    return np.maximum(np.rint(amount * 100.0), 100).astype(np.int64)


# --- profiles --------------------------------------------------------------------------------

REF_ORDINAL = parse_period(DEFAULT_END_PERIOD)

# Monthly salary per FTE in the entity's currency.
SALARY = {
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
SOCIAL_RATE = {ENTITY_EE: 0.338, ENTITY_US: 0.0765}
BENEFITS_RATE = {ENTITY_EE: 0.02, ENTITY_US: 0.12}
AREA_PER_FTE = {ENTITY_EE: 9.5, ENTITY_US: 12.0}
AMOUNT_FACTOR = {ENTITY_EE: 1.0, ENTITY_US: 1.15}
RENT_CENTS = {ENTITY_EE: 3_850_000, ENTITY_US: 14_200_000}
UTILITIES_CENTS = {ENTITY_EE: 520_000, ENTITY_US: 1_180_000}
UTILITIES_SEASON = {
    ENTITY_EE: (1.45, 1.4, 1.2, 1.0, 0.85, 0.75, 0.7, 0.72, 0.85, 1.0, 1.2, 1.4),
    ENTITY_US: (1.0, 0.95, 0.9, 0.9, 1.0, 1.2, 1.35, 1.35, 1.15, 0.95, 0.95, 1.05),
}
REVENUE_SEASON = (0.92, 0.95, 1.02, 0.98, 1.0, 1.03, 0.9, 0.88, 1.02, 1.05, 1.08, 1.2)
LANDLORD = {ENTITY_EE: "Kapitel Kinnisvara", ENTITY_US: "Brookfield Properties"}
UTILITY = {ENTITY_EE: "Eesti Energia", ENTITY_US: "Con Edison"}
CLOUD_VENDOR = "Amazon Web Services"

ACTIVITY_MIX = {
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
PROJECT_ACTIVITIES = ("development", "testing", "support")
PROJECTS = {ENTITY_EE: tuple(f"PRJ-{n}" for n in range(1001, 1009)), ENTITY_US: tuple(f"PRJ-{n}" for n in range(2001, 2013))}
ALL_PROJECTS = PROJECTS[ENTITY_EE] + PROJECTS[ENTITY_US]

# Product mix of each revenue-earning cost center (weights over PRODUCT_IDS).
PRODUCT_MIX = {
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
REGION_MIX = {
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
CATEGORIES: dict[str, _Category] = {
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
VENDORS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
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
    (LANDLORD[ENTITY_EE], None, (ENTITY_EE,)),
    (LANDLORD[ENTITY_US], None, (ENTITY_US,)),
    (UTILITY[ENTITY_EE], None, (ENTITY_EE,)),
    (UTILITY[ENTITY_US], None, (ENTITY_US,)),
    (CLOUD_VENDOR, None, _BOTH),
    (SPLIT_INVOICE_VENDOR, None, (ENTITY_EE,)),
)
VENDOR_NAMES = tuple(v[0] for v in VENDORS)
VENDOR_INDEX = {name: i for i, name in enumerate(VENDOR_NAMES)}

# Share of the non-fixed GL lines per document family, and lines per document (body lines; each
# document adds one balancing line).
FAMILY_SHARE = {"AP_INVOICE": 0.45, "AR_INVOICE": 0.30, "EXPENSE": 0.15, "PAYMENT": 0.05, "RECEIPT": 0.05}
AP_BODY = (np.array([1, 2, 3, 4, 5, 6, 8]), np.array([0.35, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05]))
AR_BODY = (np.array([1, 2, 3, 4, 5, 6]), np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05]))
EXP_BODY = (np.array([1, 2, 3, 4, 5]), np.array([0.3, 0.3, 0.2, 0.12, 0.08]))
DOC_TYPE_ORDER = ("PAYROLL", "JOURNAL", "AP_INVOICE", "AR_INVOICE", "EXPENSE", "PAYMENT", "RECEIPT")

ACCOUNT_IDS = tuple(a for a, _, _, _ in ACCOUNTS)
ACCOUNT_INDEX = {a: i for i, a in enumerate(ACCOUNT_IDS)}
CC_INDEX = {c: i for i, c in enumerate(COST_CENTER_IDS)}
PRODUCT_INDEX = {p: i for i, p in enumerate(PRODUCT_IDS)}
REGION_INDEX = {r: i for i, r in enumerate(REGION_IDS)}
