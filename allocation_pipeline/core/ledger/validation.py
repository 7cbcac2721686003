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
class DocumentContext:
    """A source document as the ledger knows it.

    `amounts` maps each account on the document's GL lines to its amount in cents (the absolute
    net of its debits and credits). `allocations` has one row per earlier, not voided run and
    account: columns run_id, account, cents (the amount that run took from the account).
    """

    document_id: str
    amounts: dict[str, int]
    allocations: pd.DataFrame

    def allocated(self, account: str) -> tuple[int, list[str]]:
        rows = self.allocations[self.allocations["account"] == account]
        return int(rows["cents"].sum()), sorted(set(rows["run_id"]))


@dataclass(frozen=True)
class RunToValidate:
    """What validators look at. `tolerance_cents` is 0 for generated runs, 1 for submitted ones;
    `document` is set for runs linked to a source document."""

    run: str
    lines: pd.DataFrame
    accounts: pd.DataFrame
    tolerance_cents: int = 0
    document: DocumentContext | None = None


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


def _account_order(account: str) -> tuple[int, str]:
    return (int(account), account) if account.isdigit() else (10**18, account)


def source_accounts_on_document(run: RunToValidate) -> list[str]:
    if run.document is None:
        return []
    sources = set(run.lines.loc[run.lines["role"] == "source", "account"].astype(str))
    if sources - set(run.document.amounts):
        available = ", ".join(sorted(run.document.amounts, key=_account_order))
        return [f"Source line accounts do not appear in the source transaction's GL lines. Available accounts: {available}"]
    return []


def within_unallocated_balance(run: RunToValidate) -> list[str]:
    """Each account line of the document keeps its own balance (partial allocation)."""
    if run.document is None:
        return []
    sources = run.lines[run.lines["role"] == "source"]
    requested = (sources["credit_cents"] - sources["debit_cents"]).groupby(sources["account"].astype(str)).sum()
    problems = []
    for account in sorted(requested.index, key=_account_order):
        if account not in run.document.amounts:
            continue
        total = run.document.amounts[account]
        allocated, runs = run.document.allocated(account)
        remaining = total - allocated
        amount = abs(int(requested[account]))
        if remaining <= 0:
            problems.append(
                f"Account {account} is already fully allocated ({format_cents(allocated)} of {format_cents(total)}) "
                f"by {', '.join(runs)}. Void existing allocations first."
            )
        elif amount > remaining:
            problems.append(f"Source amount {format_cents(amount)} exceeds remaining unallocated balance of {format_cents(remaining)}.")
    return problems


VALIDATORS: list[tuple[str, Callable[[RunToValidate], list[str]]]] = [
    ("balance", balance),
    ("accounts", accounts_exist_and_active),
    ("source_and_target", source_and_target),
    ("minimum_lines", minimum_lines),
    ("positive_amounts", positive_amounts),
    ("document_accounts", source_accounts_on_document),
    ("document_balance", within_unallocated_balance),
]


def validate_run(run: RunToValidate) -> list[ValidationError]:
    """Every problem of one run, from every validator (not the first only)."""
    return [ValidationError(run.run, code, message) for code, validator in VALIDATORS for message in validator(run)]
