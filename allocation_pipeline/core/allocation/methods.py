"""Allocation methods are plugins: one small interface, a registry, and an entry-point group.

A method turns a pool, the period's driver values and its parameters into non-negative weights
per target. The engine, not the method, turns weights into cents (largest remainder), so every
method balances to the cent by construction. Third-party packages add methods through the
`allocation_pipeline.methods` entry-point group, naming a class that implements `AllocationMethod`:

    # pyproject.toml of the plugin package
    [project.entry-points."allocation_pipeline.methods"]
    square_footage_tiers = "my_package.methods:SquareFootageTiers"
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Annotated, Any, ClassVar, Mapping

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from allocation_pipeline.config.fields import ConfigModel, Name, hint, invalid, percent, text
from allocation_pipeline.config.problems import did_you_mean, error_entries, locate
from allocation_pipeline.core.money import format_money, largest_remainder

ENTRY_POINT_GROUP = "allocation_pipeline.methods"


class MethodError(ValueError):
    """A method that cannot produce weights for this rule and period; the message says why."""


class ZeroDriverError(MethodError):
    """A driver that totals zero over the targets: nothing to share by. A rule's declared
    `fallback` method is used instead; without one the rule fails."""

    def __init__(self, driver: str, period: str, context: str = ""):
        self.driver = driver
        self.period = period
        super().__init__(f"driver '{driver}' totals zero over the targets in {period}{context}")


@dataclass(frozen=True)
class MethodRequest:
    """What a method sees: the rule, the period, the pool and the candidate targets.

    `drivers` holds the period's driver values (driver, dimension, cost_object, value) for the
    target dimension only. `targets` are the members that may receive cost, in a stable order.
    For a target over several dimensions, `dimension` is their names joined by `*`
    (`product*region`) and each target is a combination of members joined the same way
    (`P-CORE*NA-EAST`), so driver values measured per combination match it as they stand.
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
    """Weights per target (index = target) and what explains them.

    `driver` names the basis shown on every target line (a driver name, or a short formula for
    methods mixing several); `driver_values` the value of that driver per target, where one
    driver is used. `explanations` replaces the default basis in a line's explanation per target
    (for example each driver's contribution); `notes` explain the run as a whole (targets left
    out, activity rates).
    """

    weights: pd.Series
    driver: str | None = None
    driver_values: pd.Series | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    explanations: pd.Series | None = None


class AllocationMethod(ABC):
    """The interface a method implements. `name` is what rules refer to.

    `parameters_model` (a pydantic model, None: no check) declares the parameters a rule gives the
    method: it validates them when a rules file is loaded and describes them in the rules file's
    JSON Schema. A plugin may instead override `check_parameters`.
    """

    name: ClassVar[str]
    parameters_model: ClassVar[type[BaseModel] | None] = None

    def check_parameters(self, parameters: Mapping[str, Any]) -> list[str]:
        """Problems with the rule's parameters, as short sentences naming the field (empty: fine).

        Called when a rules file is loaded, so a bad rule fails before any period runs."""
        if self.parameters_model is None:
            return []
        try:
            self.parameters_model.model_validate(dict(parameters))
        except ValidationError as exc:
            return [str(p) for p in locate(error_entries(exc, ("parameters",)), {"parameters": parameters})]
        return []

    def parse_parameters(self, parameters: Mapping[str, Any]) -> Any:
        """The parameters validated by `parameters_model`; MethodError naming every problem."""
        _raise_on(self.check_parameters(parameters))
        return self.parameters_model.model_validate(dict(parameters))

    @abstractmethod
    def weights(self, request: MethodRequest) -> MethodResult:
        """Non-negative weights per target; they need not sum to one."""


# --- parameter models and helpers shared by the shipped methods ---------------------------------


def _sums_to_100(what: str, empty: str):
    def check(percents: dict[str, Any]) -> dict[str, Any]:
        if not percents:
            raise invalid(empty)
        total = sum(_effort(p) for p in percents.values())
        if total != 100:
            raise invalid(f"{what}sum to {total}, not 100")
        return percents

    return AfterValidator(check)


def _effort(value: Any) -> Decimal:
    return value.effort if isinstance(value, Activity) else value


# A {name: percent} parameter: numbers, none negative, summing to exactly 100.
PercentMap = Annotated[dict[Name, percent()], _sums_to_100("", "map each name to its percent"), hint("map each name to its percent")]


class DriverParameters(ConfigModel):
    """Parameters of `driver`: the one driver the pool is shared by."""

    driver: text("name the driver") = Field(description="a driver: headcount, hours or any usage metric, e.g. floor_area")


class NoParameters(ConfigModel):
    """`even_split` takes no parameters."""

    @model_validator(mode="before")
    @classmethod
    def _takes_none(cls, data: Any) -> Any:
        if isinstance(data, dict) and data:
            raise invalid(f"even_split takes none (got {', '.join(map(str, data))})")
        return data


class PercentagesParameters(ConfigModel):
    """Parameters of `fixed_percentages`."""

    percentages: PercentMap = Field(description="target -> percent of the pool; the percents sum to 100")


class WeightsParameters(ConfigModel):
    """Parameters of `weighted_drivers`."""

    weights: PercentMap = Field(description="driver -> weight in percent; the weights sum to 100")


class Activity(ConfigModel):
    """One activity of `activity_based`: its share of the pool and the driver it is consumed by."""

    effort: percent("give the activity's percent of the pool (a number of 0 or more)") = Field(description="percent of the pool's resources")
    driver: text("name the driver") = Field(description="the quantity by which cost objects consume the activity")


class ActivityParameters(ConfigModel):
    """Parameters of `activity_based`."""

    activities: Annotated[
        dict[Name, Annotated[Activity, hint("expected {effort: percent, driver: name}")]],
        _sums_to_100("efforts ", "map each activity to {effort: percent, driver: name}"),
        hint("map each activity to {effort: percent, driver: name}"),
    ] = Field(description="activity -> {effort, driver}; the efforts sum to 100")


def driver_array(request: MethodRequest, driver: str) -> np.ndarray:
    """The values of `driver` for every target, in target order; NaN where a target has none."""
    frame = request.drivers
    mask = frame["driver"].to_numpy(dtype=object) == driver
    lookup = dict(zip(frame["cost_object"].to_numpy(dtype=object)[mask], frame["value"].to_numpy(np.float64)[mask]))
    return np.array([lookup.get(t, np.nan) for t in request.targets], dtype=np.float64)


def _missing_notes(request: MethodRequest, values: np.ndarray, driver: str, consequence: str) -> list[str]:
    return [f"{t} has no {driver} value in {request.period} and {consequence}" for t, v in zip(request.targets, values) if v != v]


def _raise_on(problems: list[str]) -> None:
    if problems:
        raise MethodError("; ".join(problems))


def _format_quantity(value: float) -> str:
    if value != value:
        return "none"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _percent_text(value: Decimal) -> str:
    return f"{value.normalize():f}%"


# --- shipped methods ----------------------------------------------------------------------------


class SingleDriver(AllocationMethod):
    """Single driver: the pool is shared in proportion to one driver (floor area, headcount, ...).

    Parameters: `driver`, any driver name in the period's driver values (`headcount`, `hours`,
    or any usage metric). A target with no value for the driver receives nothing, and the run's
    notes list it. A driver that totals zero over the targets is an error naming the rule,
    driver and period, unless the rule declares a `fallback` method.
    Example: 10,000.00 of rent by floor area 300 / 100 m2 gives 7,500.00 and 2,500.00.
    """

    name = "driver"
    parameters_model = DriverParameters

    def weights(self, request: MethodRequest) -> MethodResult:
        driver = self.parse_parameters(request.parameters).driver
        values = driver_array(request, driver)
        notes = _missing_notes(request, values, driver, "receives nothing")
        values = np.nan_to_num(values, nan=0.0)
        if not values.sum() > 0:
            raise ZeroDriverError(driver, request.period)
        weights = pd.Series(values, index=list(request.targets))
        return MethodResult(weights=weights, driver=driver, driver_values=weights, notes=tuple(notes))


class EvenSplit(AllocationMethod):
    """Even split: every target receives the same share of the pool.

    Use it when no driver is meaningful. No parameters. 100.00 over three targets gives 33.34,
    33.33, 33.33: the cent left over goes to the first target in the rule's order.
    """

    name = "even_split"
    parameters_model = NoParameters

    def weights(self, request: MethodRequest) -> MethodResult:
        return MethodResult(weights=pd.Series(1.0, index=list(request.targets)))


class FixedPercentages(AllocationMethod):
    """Fixed percentages: each target receives an agreed percentage of the pool.

    Parameters: `percentages`, a mapping of target to percent; they must sum to exactly 100,
    and every target named must be one of the rule's targets (a target not named gets nothing).
    Example: IT overhead of 10,000.00 at 60/25/15 gives 6,000.00, 2,500.00 and 1,500.00.
    """

    name = "fixed_percentages"
    parameters_model = PercentagesParameters

    def weights(self, request: MethodRequest) -> MethodResult:
        percentages = self.parse_parameters(request.parameters).percentages
        missing = sorted(set(percentages) - set(request.targets))
        if missing:
            raise MethodError(f"parameters.percentages: {', '.join(missing)} not among the rule's targets")
        weights = [float(percentages.get(t, 0)) for t in request.targets]
        return MethodResult(weights=pd.Series(weights, index=list(request.targets), dtype="float64"))


class WeightedDrivers(AllocationMethod):
    """Weighted multi-driver: a blend of several drivers, each with an agreed weight.

    Parameters: `weights`, a mapping of driver to percent summing to 100, for example
    `{cloud_spend: 40, app_licences: 30, it_tickets: 20, headcount: 10}`. Each driver is first
    turned into shares of its own total over the targets (so tickets and euros can be mixed);
    a target's share of the pool is the weighted sum of its shares:
    share = 40% x its cloud-spend share + 30% x its licence share + ... A target without a value
    for one driver gets no share of that driver's weight (and the notes say so), but still its
    share of the others. Every driver must total more than zero over the targets, else the rule
    fails naming the driver (or uses its declared `fallback`). Each target line explains each
    driver's contribution.
    """

    name = "weighted_drivers"
    parameters_model = WeightsParameters

    def weights(self, request: MethodRequest) -> MethodResult:
        percents = self.parse_parameters(request.parameters).weights
        targets = list(request.targets)
        total = np.zeros(len(targets))
        parts: list[list[str]] = []
        notes: list[str] = []
        for driver, percent in percents.items():
            if percent == 0:
                continue
            values = driver_array(request, driver)
            notes += _missing_notes(request, values, driver, f"receives no share of its {_percent_text(percent)} weight")
            driver_total = float(np.nansum(values))
            if not driver_total > 0:
                raise ZeroDriverError(driver, request.period)
            driver_share = values / driver_total
            total += np.nan_to_num(driver_share, nan=0.0) * float(percent / 100)
            parts.append([f"{driver} none x {_percent_text(percent)}" if s != s else f"{driver} {s:.2%} x {_percent_text(percent)}" for s in driver_share])
        explanations = [" + ".join(p[i] for p in parts) for i in range(len(targets))]
        label = " + ".join(f"{d} {_percent_text(p)}" for d, p in percents.items())
        return MethodResult(
            weights=pd.Series(total, index=targets), driver=label, notes=tuple(notes),
            explanations=pd.Series(explanations, index=targets, dtype=object),
        )


class ActivityBased(AllocationMethod):
    """Activity-based costing: resources -> activities -> cost objects.

    Parameters: `activities`, a mapping of activity to its `effort` (percent of the pool's
    resources the activity consumes; efforts sum to 100) and its `driver` (the quantity by which
    cost objects consume the activity):

        activities:
          support: {effort: 60, driver: it_tickets}
          hosting: {effort: 40, driver: cloud_spend}

    The pool is first split to activities by effort (an IT pool of 10,000.00 gives support
    6,000.00 and hosting 4,000.00), then each activity's cost goes to the targets in proportion
    to its driver. The run's notes report each activity's cost, driver total and rate (activity
    cost / driver quantity, e.g. 6,000.00 / 300 tickets = 20.00 per ticket), and each target
    line shows what it took from each activity (quantity x rate). A target without a value for an
    activity's driver gets nothing from that activity; a driver totalling zero is an error naming
    the driver (or the rule's `fallback` is used).
    """

    name = "activity_based"
    parameters_model = ActivityParameters

    def weights(self, request: MethodRequest) -> MethodResult:
        activities = self.parse_parameters(request.parameters).activities
        efforts = {a: spec.effort for a, spec in activities.items()}
        names = list(activities)
        # Activity costs in cents, for the rates the notes report (the lines are rounded once, per target).
        activity_cents = dict(zip(names, largest_remainder(request.pool_cents, [float(efforts[a]) for a in names])))
        targets = list(request.targets)
        total = np.zeros(len(targets))
        parts: list[list[str]] = []
        notes: list[str] = []
        for activity in names:
            effort = efforts[activity]
            if effort == 0:
                continue
            driver = activities[activity].driver
            values = driver_array(request, driver)
            notes += _missing_notes(request, values, driver, f"receives nothing from activity {activity}")
            quantity = float(np.nansum(values))
            if not quantity > 0:
                raise ZeroDriverError(driver, request.period, f" (activity {activity})")
            total += np.nan_to_num(values / quantity, nan=0.0) * float(effort / 100)
            cost = int(activity_cents[activity])
            rate = cost / 100 / quantity
            notes.append(
                f"activity {activity}: {_percent_text(effort)} of the pool = {format_money(cost)}; "
                f"{_format_quantity(quantity)} {driver}; rate {rate:,.4f} per {driver} unit"
            )
            parts.append([f"{activity} none" if q != q else f"{activity} {_format_quantity(q)} {driver} x {rate:,.4f}" for q in values])
        explanations = [" + ".join(p[i] for p in parts) for i in range(len(targets))]
        label = " + ".join(f"{a} {_percent_text(efforts[a])} by {activities[a].driver}" for a in names)
        return MethodResult(
            weights=pd.Series(total, index=targets), driver=label, notes=tuple(notes),
            explanations=pd.Series(explanations, index=targets, dtype=object),
        )


# The order in which `available_methods` lists them, then plugins by name.
BUILTIN_METHODS: tuple[type[AllocationMethod], ...] = (SingleDriver, EvenSplit, FixedPercentages, WeightedDrivers, ActivityBased)

# A rule whose method is this shares the pool across several target dimensions as the product
# of one share per dimension, each from its own method; the engine composes it (see allocation.py).
PRODUCT_OF_SHARES = "product_of_shares"


def available_methods() -> dict[str, AllocationMethod]:
    """Built-in methods plus those registered by installed packages (a built-in name is never replaced)."""
    methods: dict[str, AllocationMethod] = {cls.name: cls() for cls in BUILTIN_METHODS}
    plugins = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    for entry in plugins:
        if entry.name in methods or entry.name == PRODUCT_OF_SHARES:
            continue
        try:
            loaded = entry.load()
            instance = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # a broken plugin must name itself, whatever it raised
            raise MethodError(f"entry point {entry.name} ({entry.value}) cannot be loaded: {exc}") from exc
        if not isinstance(instance, AllocationMethod):
            raise MethodError(f"entry point {entry.name} ({entry.value}) is not an AllocationMethod")
        methods[entry.name] = instance
    return methods


def method_names(methods: Mapping[str, AllocationMethod], composite: bool = True) -> list[str]:
    """What a rule's `method` may name: the registry's methods and, with `composite`, product_of_shares
    (which is not a method of the registry but the engine's composition of them)."""
    return [*methods, PRODUCT_OF_SHARES] if composite else list(methods)


def unknown_method_message(name: str, methods: Mapping[str, AllocationMethod], composite: bool = True) -> str:
    names = method_names(methods, composite)
    return f"unknown method '{name}'{did_you_mean(name, names)}; available: {', '.join(names)}"


def get_method(name: str, methods: Mapping[str, AllocationMethod] | None = None) -> AllocationMethod:
    methods = methods if methods is not None else available_methods()
    if name not in methods:
        raise MethodError(unknown_method_message(name, methods))
    return methods[name]
