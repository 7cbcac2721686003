"""Exact money: integer minor units (cents) in the core, and a largest-remainder split."""

from __future__ import annotations

import decimal
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# NUMERIC(18, 2) in the warehouse: at most 16 digits before the point and 2 after.
MAX_INTEGER_DIGITS = 16
_AMOUNT_PATTERN = r"^[+-]?\d{1,16}(\.\d{1,2})?$"
_LIMIT_CENTS = 10 ** (MAX_INTEGER_DIGITS + 2)


def cents_to_decimal(cents: int) -> Decimal:
    """An amount in cents as a two-place Decimal (exact)."""
    return Decimal(int(cents)).scaleb(-2)


def decimal_to_cents(value: Decimal | str | int) -> int:
    """A Decimal, string or int amount as cents; more than two decimal places is an error."""
    try:
        amount = Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimal places")
    if abs(cents) >= _LIMIT_CENTS:
        raise ValueError(f"{value!r} is too large (at most {MAX_INTEGER_DIGITS} digits before the decimal point)")
    return int(cents)


def format_cents(cents: int) -> str:
    """Cents as a plain two-place string: 1200000 -> '12000.00', -5 -> '-0.05'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_money(cents: int) -> str:
    """Cents with thousands separators for people: 1200000 -> '12,000.00'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{frac:02d}"


def cents_to_text(cents: pd.Series) -> pd.Series:
    """Vectorised `format_cents` for bulk loads (PostgreSQL COPY reads the text exactly)."""
    values = cents.to_numpy(dtype=np.int64)
    magnitude = np.abs(values)
    whole = (magnitude // 100).astype(str)
    frac = np.char.zfill((magnitude % 100).astype(str), 2)
    sign = np.where(values < 0, "-", "")
    return pd.Series(np.char.add(np.char.add(np.char.add(sign, whole), "."), frac), index=cents.index)


def parse_cents(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse amounts to cents without passing through binary floats where it can be avoided.

    Accepts text ("1200.5", "-3", "0.07"), integers, floats and Decimals. Returns the cents as a
    nullable Int64 series and a boolean series that is True where the value is present but is not
    an amount with at most two decimal places. Missing values are NA and not invalid.
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        too_large = (values.abs() >= _LIMIT_CENTS // 100).fillna(False).to_numpy(dtype=bool)
        cents = values.astype("Int64").mask(too_large) * 100
        return cents, pd.Series(too_large, index=values.index)
    if pd.api.types.is_float_dtype(values.dtype):
        scaled = values.to_numpy(dtype=np.float64) * 100.0
        rounded = np.round(scaled)
        missing = np.isnan(scaled)
        # A float amount must be a whole number of cents once scaled, within the float's own
        # precision (a few units in the last place), and small enough for that to mean anything.
        tolerance = np.maximum(1e-6, 8 * np.spacing(np.abs(np.nan_to_num(scaled))))
        invalid = ~missing & (np.abs(scaled - rounded) > tolerance)
        invalid |= ~missing & (~np.isfinite(scaled) | (np.abs(np.nan_to_num(scaled)) >= 2.0**53))
        cents = pd.Series(np.where(missing | invalid, 0, rounded).astype(np.int64), index=values.index)
        return cents.astype("Int64").mask(missing | invalid), pd.Series(invalid, index=values.index)
    # Text: validated with one regex and converted through Arrow decimals, so exactly.
    text = pc.utf8_trim_whitespace(pa.array(values.astype("string"), type=pa.large_string(), from_pandas=True))
    missing = pc.fill_null(pc.equal(text, ""), True)
    ok = pc.fill_null(pc.match_substring_regex(text, _AMOUNT_PATTERN), False)
    unsigned_plus = pc.replace_substring_regex(text, r"^\+", "")
    decimals = pc.cast(pc.if_else(ok, unsigned_plus, "0"), pa.decimal128(20, 2))
    cents = pc.cast(pc.multiply(decimals, pa.scalar(Decimal(100), pa.decimal128(3, 0))), pa.int64())
    ok_mask = ok.to_numpy(zero_copy_only=False)
    invalid = ~ok_mask & ~missing.to_numpy(zero_copy_only=False)
    result = pd.Series(cents.to_numpy(zero_copy_only=False), index=values.index).astype("Int64").mask(~ok_mask)
    return result, pd.Series(invalid, index=values.index)


def largest_remainder(total_cents: int, weights: np.ndarray | list[float]) -> np.ndarray:
    """Split `total_cents` in proportion to `weights` so the parts sum exactly to the total.

    Each part gets the floor of its exact quota; the cents left over go one each to the parts
    with the largest fractional remainders, ties broken by position, so the same inputs always
    give the same cents. A negative total is split by magnitude and the sign kept. Weights must
    be finite, non-negative and not all zero.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("largest_remainder needs at least one weight")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    weight_sum = w.sum()
    if weight_sum <= 0:
        raise ValueError("weights sum to zero: nothing to split by")
    total = int(total_cents)
    magnitude = abs(total)
    quotas = magnitude * (w / weight_sum)
    floors = np.floor(quotas).astype(np.int64)
    left = magnitude - int(floors.sum())
    if left < 0 or left > w.size:
        # Float noise on huge totals: fall back to exact rational arithmetic.
        return _largest_remainder_exact(total, w)
    remainders = quotas - floors
    # Stable sort on the negated remainder: largest first, ties by position.
    order = np.argsort(-remainders, kind="stable")
    floors[order[:left]] += 1
    return floors if total >= 0 else -floors


def _largest_remainder_exact(total: int, w: np.ndarray) -> np.ndarray:
    from fractions import Fraction

    weights = [Fraction(float(x)) for x in w]
    weight_sum = sum(weights)
    magnitude = abs(total)
    quotas = [magnitude * x / weight_sum for x in weights]
    floors = [q.numerator // q.denominator for q in quotas]
    left = magnitude - sum(floors)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    result = np.array(floors, dtype=np.int64)
    return result if total >= 0 else -result
