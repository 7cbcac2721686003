"""The `multilevel:` section of the rules file: one multi-level allocation per entity, validated on
load with messages that name the entry and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocation_pipeline.config.problems import ConfigError
from allocation_pipeline.core.allocation.rules import ApprovalPolicy, SourceFilter

SECTION = "multilevel"
# Method names in the rules file -> the solver's names (`core.multilevel.solver.solve`).
METHODS = {"reciprocal": "reciprocal", "step_down": "step-down", "direct": "direct"}
DEFAULT_CONDITION_LIMIT = 1e6


class MultilevelConfigError(ConfigError):
    """A `multilevel:` section that cannot be used; the message names the file, entry and field."""


@dataclass(frozen=True)
class MultilevelSpec:
    """One multi-level allocation of one entity.

    `source` selects, from the period's GL balances after the rules' runs, the balances that form
    each service cost center's own cost (a service cost center is a source in the entity's
    matrix; `source.cost_centers`, when given, narrows them further). `method` is the solver's
    name (reciprocal, step-down, direct); `order` (step-down only, None: the default order) closes
    those sources first. The run credits `credit_account` on each cost center that ends with less
    than its own cost and debits `debit_account` on each that ends with more. `condition_limit`:
    a cycle whose condition estimate exceeds it is reported as ill-conditioned.
    """

    id: str
    entity: str
    method: str
    source: SourceFilter
    credit_account: str
    debit_account: str
    order: tuple[str, ...] | None = None
    type: str = "cost_allocation"
    description: str = ""
    effective_from: str | None = None
    effective_to: str | None = None
    approval: ApprovalPolicy = ApprovalPolicy()
    condition_limit: float = DEFAULT_CONDITION_LIMIT

    @property
    def method_name(self) -> str:
        """The method as the rules file spells it (step_down, not step-down)."""
        return {v: k for k, v in METHODS.items()}[self.method]

    def effective_in(self, period: str) -> bool:
        return (self.effective_from is None or self.effective_from <= period) and (
            self.effective_to is None or period <= self.effective_to
        )


@dataclass(frozen=True)
class MultilevelConfig:
    specs: tuple[MultilevelSpec, ...] = ()
    path: str = ""

    def for_period(self, period: str) -> list[MultilevelSpec]:
        """Multi-level allocations in force in `period`, in the file's order."""
        return [s for s in self.specs if s.effective_in(period)]


def load_multilevel(path: str | Path) -> MultilevelConfig:
    """Read the rules file's `multilevel:` section (none: an empty config)."""
    from allocation_pipeline.config.multilevel import build_multilevel
    from allocation_pipeline.config.problems import read_yaml

    source = read_yaml(path, MultilevelConfigError)
    return build_multilevel(source.data, str(path), source)


def parse_multilevel(document: Any, location: str = "rules") -> MultilevelConfig:
    """Validate the `multilevel:` section of a parsed rules document; every problem in one error."""
    from allocation_pipeline.config.multilevel import build_multilevel

    return build_multilevel(document, location)
