"""Exact money: parsing amounts to cents, formatting, and the largest-remainder split.

Pure functions only; no files, no warehouse.
"""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocation_pipeline.core.money import (
    cents_to_text,
    decimal_to_cents,
    format_cents,
    format_money,
    largest_remainder,
    parse_cents,
)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10000, [1, 1, 1], [3334, 3333, 3333]),  # 100.00 over three: naive rounding gives 99.99
        (1000000, [60, 25, 15], [600000, 250000, 150000]),
        (1, [1, 1], [1, 0]),  # a tie goes to the first target
        (-10000, [1, 1, 1], [-3334, -3333, -3333]),  # a negative pool keeps its sign
        (101, [0.5, 0.25, 0.25], [51, 25, 25]),
        (5, [0, 3, 0], [0, 5, 0]),
        (7, [1e-9, 1, 1e9], [0, 0, 7]),
    ],
)
def test_largest_remainder_hand_computed(total, weights, expected):
    assert largest_remainder(total, weights).tolist() == expected


@given(
    total=st.integers(min_value=-10**13, max_value=10**13),
    weights=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
)
def test_largest_remainder_always_sums_to_the_total(total, weights):
    parts = largest_remainder(total, weights)
    assert int(parts.sum()) == total
    quotas = abs(total) * np.asarray(weights) / sum(weights)
    # Each part is its quota rounded down or up: never more than one cent away.
    assert np.all(np.abs(np.abs(parts) - quotas) < 1 + 1e-6 * max(1, abs(total)))
    assert np.all(parts[np.asarray(weights) == 0] == 0)


def test_largest_remainder_is_deterministic():
    weights = np.random.default_rng(3).random(500)
    assert largest_remainder(123456789, weights).tolist() == largest_remainder(123456789, weights.copy()).tolist()


@pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2], [float("nan"), 1]])
def test_largest_remainder_rejects_unusable_weights(weights):
    with pytest.raises(ValueError):
        largest_remainder(100, weights)


def test_parse_cents_from_text():
    cents, invalid = parse_cents(pd.Series(["120.00", "1.5", "-3", " 0.07 ", "", "abc", "1.234", "12,00", None], dtype="string"))
    assert cents.tolist()[:4] == [12000, 150, -300, 7]
    assert cents[4:].isna().all()
    assert invalid.tolist() == [False, False, False, False, False, True, True, True, False]


def test_parse_cents_from_numbers():
    cents, invalid = parse_cents(pd.Series([120.0, 0.1, 0.105, np.nan]))
    assert cents.tolist()[:2] == [12000, 10]
    assert invalid.tolist() == [False, False, True, False]
    ints, bad = parse_cents(pd.Series([5, -2]))
    assert ints.tolist() == [500, -200] and not bad.any()


def test_parse_cents_large_text_values_are_exact():
    cents, invalid = parse_cents(pd.Series(["98765432109876.54"], dtype="string"))
    assert cents.iloc[0] == 9876543210987654 and not invalid.iloc[0]


def test_formatting_round_trips():
    assert format_cents(1200000) == "12000.00"
    assert format_cents(-5) == "-0.05"
    assert format_money(1234567) == "12,345.67"
    assert cents_to_text(pd.Series([12000, -5, 0, 7])).tolist() == ["120.00", "-0.05", "0.00", "0.07"]
    assert decimal_to_cents(Decimal("120.00")) == 12000
    with pytest.raises(ValueError, match="more than two decimal places"):
        decimal_to_cents("1.001")


def test_amounts_beyond_numeric_18_2_are_refused_not_wrapped():
    cents, invalid = parse_cents(pd.Series(["9999999999999999.99", "99999999999999999", "99999999999999999999", "123456789012345678.12"], dtype="string"))
    assert cents.tolist()[0] == 999999999999999999
    assert invalid.tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="is too large"):
        decimal_to_cents("10000000000000000.00")
    _, big_ints = parse_cents(pd.Series([10**16, 5]))
    assert big_ints.tolist() == [True, False]


def test_float_amounts_with_more_than_two_decimals_are_refused_at_any_size():
    cents, invalid = parse_cents(pd.Series([12345.678, 4999.995, 1234567.891, 43498.27, 1e13, 0.1 + 0.2, 1e15]))
    # The last: 1e17 cents is beyond what a binary float holds exactly; such files must send text.
    assert invalid.tolist() == [True, True, True, False, False, False, True]
    assert cents.tolist()[3:6] == [4349827, 1000000000000000, 30]
