"""Run validation: plain validators returning every problem found, registered in one list.

Generated runs must balance exactly; lines submitted from outside (a plugin, a file) may differ
by at most 0.01. Messages follow the specification's wording where it gives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from allocation_pipeline.core.money import format_cents

SUBMITTED_TOLERANCE_CENTS = 1


@dataclass(frozen=True)
class ValidationError:
    """One problem with one run: `run` names it, `rule` is the validator's code."""

    run: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.run}: {self.message}"


@dataclass(frozen=True)
class RunToValidate:
    """What validators look at. `tolerance_cents` is 0 for generated runs, 1 for submitted ones."""

    run: str
    lines: pd.DataFrame
    accounts: pd.DataFrame
    tolerance_cents: int = 0


def balance(run: RunToValidate) -> list[str]:
    debit = int(run.lines["debit_cents"].sum())
    credit = int(run.lines["credit_cents"].sum())
    if abs(debit - credit) > run.tolerance_cents:
        return [
            f"Total debits ({format_cents(debit)}) must equal total credits ({format_cents(credit)}); "
            f"difference {format_cents(debit - credit)} exceeds the tolerance of {format_cents(run.tolerance_cents)}."
        ]
    return []


def accounts_exist_and_active(run: RunToValidate) -> list[str]:
    known = dict(zip(run.accounts["account"].astype(str), run.accounts["active"].astype(bool)))
    problems = []
    for account in sorted(set(run.lines["account"].astype(str))):
        if account not in known:
            problems.append(f"Account {account} does not exist.")
        elif not known[account]:
            problems.append(f"Account {account} is inactive.")
    return problems


def source_and_target(run: RunToValidate) -> list[str]:
    roles = set(run.lines["role"])
    if "source" not in roles or "target" not in roles:
        return ["At least one source line and one target line are required."]
    return []


def minimum_lines(run: RunToValidate) -> list[str]:
    if len(run.lines) < 2:
        return [f"At least 2 lines are required; the run has {len(run.lines)}."]
    return []


def positive_amounts(run: RunToValidate) -> list[str]:
    problems = []
    for row in run.lines.itertuples(index=False):
        amount = row.debit_cents + row.credit_cents
        one_sided = row.debit_cents == 0 or row.credit_cents == 0
        if row.debit_cents < 0 or row.credit_cents < 0 or amount <= 0 or not one_sided:
            problems.append(
                f"Line {row.line_no}: amounts must be greater than zero on one side "
                f"(debit {format_cents(row.debit_cents)}, credit {format_cents(row.credit_cents)})."
            )
    return problems


VALIDATORS: list[tuple[str, Callable[[RunToValidate], list[str]]]] = [
    ("balance", balance),
    ("accounts", accounts_exist_and_active),
    ("source_and_target", source_and_target),
    ("minimum_lines", minimum_lines),
    ("positive_amounts", positive_amounts),
]


def validate_run(run: RunToValidate) -> list[ValidationError]:
    """Every problem of one run, from every validator (not the first only)."""
    return [ValidationError(run.run, code, message) for code, validator in VALIDATORS for message in validator(run)]
