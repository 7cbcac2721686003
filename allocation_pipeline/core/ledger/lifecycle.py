"""Ledger rules: the run lifecycle, transaction types, and journal lines built from run lines."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Lifecycle: draft -> calculated -> approved -> posted -> voided, and calculated -> rejected.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"calculated"}),
    "calculated": frozenset({"approved", "rejected"}),
    "approved": frozenset({"posted"}),
    "posted": frozenset({"voided"}),
    "rejected": frozenset(),
    "voided": frozenset(),
}
STATUSES = tuple(TRANSITIONS)

TRANSACTION_TYPES = {
    "cost_allocation": "COST_ALLOCATION",
    "revenue_allocation": "REVENUE_ALLOCATION",
    "intercompany_charge": "INTERCOMPANY_CHARGE",
}


class LifecycleError(ValueError):
    """An illegal status change; the message names the run and both states."""


def check_transition(run_id: str, current: str, new: str) -> None:
    """Refuse a status change the lifecycle does not allow."""
    if current not in TRANSITIONS:
        raise LifecycleError(f"{run_id}: unknown status '{current}'")
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        raise LifecycleError(f"{run_id}: cannot go from {current} to {new} (allowed from {current}: {allowed})")


def transaction_type(run_type: str) -> str:
    try:
        return TRANSACTION_TYPES[run_type]
    except KeyError:
        raise ValueError(f"unknown run type '{run_type}'; expected one of {', '.join(TRANSACTION_TYPES)}") from None


@dataclass(frozen=True)
class JournalEntryDraft:
    """A journal entry before it gets its number: lines carry account, dimensions and cents."""

    entity: str
    period: str
    posting_date: str
    transaction_type: str
    currency: str
    description: str
    lines: pd.DataFrame

    @property
    def balanced(self) -> bool:
        return int(self.lines["debit_cents"].sum()) == int(self.lines["credit_cents"].sum())


JOURNAL_LINE_COLUMNS = ["line_no", "account", "cost_center", "product", "region", "debit_cents", "credit_cents", "description"]


def journal_lines(run_lines: pd.DataFrame, reverse: bool = False) -> pd.DataFrame:
    """Journal lines from run lines; `reverse` swaps debits and credits (a reversing entry)."""
    lines = pd.DataFrame(
        {
            "line_no": range(1, len(run_lines) + 1),
            "account": run_lines["account"].to_numpy(),
            "cost_center": run_lines["cost_center"].to_numpy(),
            "product": run_lines["product"].to_numpy(),
            "region": run_lines["region"].to_numpy(),
            "debit_cents": (run_lines["credit_cents"] if reverse else run_lines["debit_cents"]).to_numpy(),
            "credit_cents": (run_lines["debit_cents"] if reverse else run_lines["credit_cents"]).to_numpy(),
            "description": run_lines["explanation"].to_numpy() if "explanation" in run_lines else None,
        }
    )
    return lines[JOURNAL_LINE_COLUMNS]
