"""Allocation methods are plugins: one small interface, a registry, and an entry-point group.

A method turns a pool, the period's driver values and its parameters into non-negative weights
per target. The engine, not the method, turns weights into cents (largest remainder), so every
method balances to the cent by construction. Third-party packages add methods through the
`allocation_pipeline.methods` entry-point group, naming a class that implements `AllocationMethod`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.metadata import entry_points
from typing import Any, ClassVar, Mapping

import pandas as pd

ENTRY_POINT_GROUP = "allocation_pipeline.methods"


class MethodError(ValueError):
    """A method that cannot produce weights for this rule and period; the message says why."""


@dataclass(frozen=True)
class MethodRequest:
    """What a method sees: the rule, the period, the pool and the candidate targets.

    `drivers` holds the period's driver values (driver, dimension, cost_object, value) for the
    target dimension only. `targets` are the members that may receive cost, in a stable order.
    """

    rule_id: str
    period: str
    pool_cents: int
    dimension: str
    targets: tuple[str, ...]
    drivers: pd.DataFrame
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class MethodResult:
    """Weights per target (index = target). `driver_values` explains them where a driver is used."""

    weights: pd.Series
    driver: str | None = None
    driver_values: pd.Series | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class AllocationMethod(ABC):
    """The interface a method implements. `name` is what rules refer to."""

    name: ClassVar[str]

    def check_parameters(self, parameters: Mapping[str, Any]) -> list[str]:
        """Problems with the rule's parameters, as short sentences (empty: fine)."""
        return []

    @abstractmethod
    def weights(self, request: MethodRequest) -> MethodResult:
        """Non-negative weights per target; they need not sum to one."""


class EvenSplit(AllocationMethod):
    """Even split: every target receives the same share of the pool.

    Use it when no driver is meaningful. 100.00 over three targets gives 33.34, 33.33, 33.33:
    the cent left over goes to the first target in the rule's order.
    """

    name = "even_split"

    def weights(self, request: MethodRequest) -> MethodResult:
        return MethodResult(weights=pd.Series(1.0, index=list(request.targets)))


class FixedPercentages(AllocationMethod):
    """Fixed percentages: each target receives an agreed percentage of the pool.

    Parameters: `percentages`, a mapping of target to percent; they must sum to exactly 100.
    Example: IT overhead of 10,000.00 at 60/25/15 gives 6,000.00, 2,500.00 and 1,500.00.
    """

    name = "fixed_percentages"

    def check_parameters(self, parameters: Mapping[str, Any]) -> list[str]:
        percentages = parameters.get("percentages")
        if not isinstance(percentages, dict) or not percentages:
            return ["parameters.percentages: map each target to its percent"]
        problems = []
        total = Decimal(0)
        for target, value in percentages.items():
            try:
                percent = Decimal(str(value))
            except InvalidOperation:
                problems.append(f"parameters.percentages.{target}: '{value}' is not a number")
                continue
            if percent < 0:
                problems.append(f"parameters.percentages.{target}: {percent} is negative")
            total += percent
        if not problems and total != 100:
            problems.append(f"parameters.percentages: sum to {total}, not 100")
        return problems

    def weights(self, request: MethodRequest) -> MethodResult:
        problems = self.check_parameters(request.parameters)
        if problems:
            raise MethodError("; ".join(problems))
        percentages = {str(k): float(Decimal(str(v))) for k, v in request.parameters["percentages"].items()}
        missing = sorted(set(percentages) - set(request.targets))
        if missing:
            raise MethodError(f"parameters.percentages: {', '.join(missing)} not among the rule's targets")
        return MethodResult(weights=pd.Series(percentages, dtype="float64").reindex(list(request.targets), fill_value=0.0))


class SingleDriver(AllocationMethod):
    """Single driver: the pool is shared in proportion to one driver (floor area, headcount, ...).

    Parameters: `driver`, any driver name in the period's driver values. A target with no value
    for the driver receives nothing, and the run's explanation lists it.
    """

    name = "driver"

    def check_parameters(self, parameters: Mapping[str, Any]) -> list[str]:
        if not isinstance(parameters.get("driver"), str):
            return ["parameters.driver: name the driver"]
        return []

    def weights(self, request: MethodRequest) -> MethodResult:
        problems = self.check_parameters(request.parameters)
        if problems:
            raise MethodError("; ".join(problems))
        driver = request.parameters["driver"]
        values = request.drivers[request.drivers["driver"] == driver].set_index("cost_object")["value"]
        values = values.reindex(list(request.targets)).astype("float64")
        notes = tuple(f"{t} has no {driver} value in {request.period} and receives nothing" for t in values[values.isna()].index)
        values = values.fillna(0.0)
        if values.sum() <= 0:
            raise MethodError(f"driver '{driver}' totals zero over the targets in {request.period}")
        return MethodResult(weights=values, driver=driver, driver_values=values, notes=notes)


BUILTIN_METHODS: tuple[type[AllocationMethod], ...] = (EvenSplit, FixedPercentages, SingleDriver)


def available_methods() -> dict[str, AllocationMethod]:
    """Built-in methods plus those registered by installed packages (entry points win no ties)."""
    methods: dict[str, AllocationMethod] = {cls.name: cls() for cls in BUILTIN_METHODS}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in methods:
            continue
        loaded = entry.load()
        instance = loaded() if isinstance(loaded, type) else loaded
        if not isinstance(instance, AllocationMethod):
            raise MethodError(f"entry point {entry.name} ({entry.value}) is not an AllocationMethod")
        methods[entry.name] = instance
    return methods


def get_method(name: str, methods: Mapping[str, AllocationMethod] | None = None) -> AllocationMethod:
    methods = methods if methods is not None else available_methods()
    if name not in methods:
        raise MethodError(f"unknown method '{name}'; available: {', '.join(sorted(methods))}")
    return methods[name]
