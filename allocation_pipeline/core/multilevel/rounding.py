"""Whole cents for the solver's results: largest remainder, for one vector, many groups or CSR rows at once."""

from __future__ import annotations

import numpy as np

from allocation_pipeline.core.money import largest_remainder


def split_cents(total_cents: int, amounts: np.ndarray) -> np.ndarray:
    """Whole cents summing exactly to `total_cents`, in proportion to `amounts` (cents, any sign).

    Delegates to `largest_remainder`; mixed signs are split into the positive and the negative
    parts, each rounded on its own. Amounts are first rounded to 1e-6 cent so that methods whose
    floats differ only by noise give the same cents.
    """
    a = np.round(np.asarray(amounts, dtype=np.float64), 6)
    out = np.zeros(a.size, np.int64)
    total = int(total_cents)
    pos, neg = a > 0, a < 0
    if not neg.any():
        if pos.any():
            out[pos] = largest_remainder(total, a[pos])
        elif total:
            out[:] = largest_remainder(total, np.ones(a.size))
        return out
    if not pos.any():
        out[neg] = largest_remainder(total, -a[neg])
        return out
    positive = int(round(float(a[pos].sum())))
    out[pos] = largest_remainder(positive, a[pos])
    out[neg] = largest_remainder(total - positive, -a[neg])
    return out


def largest_remainder_groups(starts: np.ndarray, totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`largest_remainder` applied to many groups at once (group g = weights[starts[g]:starts[g+1]]).

    The same rule, vectorised because by-origin rounding has one group per cost center (tens of
    thousands): floor of each quota, the leftover cents to the largest remainders, ties by position,
    sign of the total kept. A group the float shortcut cannot settle goes through `largest_remainder`.
    """
    n = weights.size
    if not n:
        return np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    weight_sum = np.add.reduceat(weights, starts)
    magnitude = np.abs(totals).astype(np.float64)
    quotas = np.repeat(magnitude, sizes) * (weights / np.repeat(weight_sum, sizes))
    floors = np.floor(quotas)
    left = magnitude - np.add.reduceat(floors, starts)
    # Largest remainder first inside each group, ties by position: one stable sort on group - remainder
    # (remainders closer than ~1e-11 count as ties, far below the float noise of the quotas themselves).
    # Sorted by group first, position k of `order` still belongs to group k's group.
    group = np.repeat(np.arange(starts.size, dtype=np.float64), sizes)
    order = np.argsort(group - (quotas - floors), kind="stable")
    rank = np.arange(n) - np.repeat(starts, sizes)
    floors[order[rank < np.repeat(left, sizes)]] += 1
    result = floors.astype(np.int64)
    result *= np.repeat(np.where(totals < 0, -1, 1), sizes)
    ends = np.r_[starts[1:], n]
    for g in np.flatnonzero((left < 0) | (left > sizes) | ~(weight_sum > 0)):
        result[starts[g] : ends[g]] = largest_remainder(int(totals[g]), weights[starts[g] : ends[g]])
    return result


def split_cents_rows(indptr: np.ndarray, totals: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """`split_cents` for every row of a CSR layout at once: row i's amounts get cents summing to totals[i]."""
    rows = indptr.size - 1
    a = np.round(np.asarray(amounts, dtype=np.float64), 6)
    totals = np.asarray(totals, dtype=np.int64)
    row = np.repeat(np.arange(rows), np.diff(indptr))
    pos, neg = a > 0, a < 0
    has_pos = np.bincount(row[pos], minlength=rows) > 0
    out = np.zeros(a.size, np.int64)
    if not neg.any():
        members = np.flatnonzero(pos)
        key = row[members]
        group_total = None
        has_neg = np.zeros(rows, bool)
    else:
        has_neg = np.bincount(row[neg], minlength=rows) > 0
        positive_sum = np.bincount(row[pos], weights=a[pos], minlength=rows)
        pos_total = np.where(has_pos & has_neg, np.round(positive_sum).astype(np.int64), np.where(has_neg, 0, totals))
        neg_total = totals - pos_total
        members = np.flatnonzero(pos | neg)
        key = row[members] * 2 + neg[members]
        members = members[np.argsort(key, kind="stable")]
        key = row[members] * 2 + neg[members]
    if members.size:
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        first = key[starts]
        if neg.any():
            group_total = np.where(first % 2 == 1, neg_total[first // 2], pos_total[first // 2])
        else:
            group_total = totals[first]
        out[members] = largest_remainder_groups(starts, group_total, np.abs(a[members]))
    # Rows whose amounts all round to zero but whose total does not (float noise only).
    for i in np.flatnonzero(~has_pos & ~has_neg & (totals != 0) & (np.diff(indptr) > 0)):
        out[indptr[i] : indptr[i + 1]] = split_cents(int(totals[i]), amounts[indptr[i] : indptr[i + 1]])
    return out
