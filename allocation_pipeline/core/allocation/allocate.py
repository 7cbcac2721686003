"""The allocation engine: select each rule's pool from GL balances, ask its method for weights,
and turn them into balanced source and target lines in exact cents."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.methods import (
    PRODUCT_OF_SHARES, AllocationMethod, MethodError, MethodRequest, MethodResult, ZeroDriverError, available_methods, get_method,
)
from allocation_pipeline.core.money import format_money, largest_remainder
from allocation_pipeline.core.allocation.rules import DIMENSION_SEPARATOR, Rule, SourceFilter, TargetSpec

BALANCE_KEYS = ["entity", "account", "cost_center", "product", "region", "currency"]
LINE_COLUMNS = [
    "line_no", "role", "account", "cost_center", "product", "region", "debit_cents", "credit_cents",
    "driver", "driver_value", "share", "explanation",
]


class AllocationError(ValueError):
    """A rule that cannot be allocated in a period; the message names the rule and period."""


@dataclass(frozen=True)
class RunDraft:
    """A computed allocation run, not yet stored. Lines use LINE_COLUMNS; amounts in cents."""

    rule_id: str
    entity: str
    period: str
    run_type: str
    method: str
    currency: str
    pool_cents: int
    lines: pd.DataFrame
    notes: tuple[str, ...] = ()
    source_document: str | None = None

    @property
    def total_debit_cents(self) -> int:
        return int(self.lines["debit_cents"].sum())

    @property
    def total_credit_cents(self) -> int:
        return int(self.lines["credit_cents"].sum())

    @property
    def fingerprint(self) -> str:
        """A hash of what the run would post, to tell an unchanged recomputation from a changed one."""
        cols = ["role", "account", "cost_center", "product", "region", "debit_cents", "credit_cents"]
        canonical = self.lines[cols].astype("string").fillna("").sort_values(cols).to_csv(index=False)
        return hashlib.sha256(f"{self.rule_id}|{self.entity}|{self.period}|{self.currency}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class AllocationOutcome:
    runs: list[RunDraft]
    notes: list[str] = field(default_factory=list)


def gl_balances(gl_lines: pd.DataFrame) -> pd.DataFrame:
    """Net balance (debit - credit, cents) per entity, account, cost center, product, region, currency."""
    frame = gl_lines[BALANCE_KEYS].copy()
    frame["balance_cents"] = gl_lines["debit_cents"].to_numpy(np.int64) - gl_lines["credit_cents"].to_numpy(np.int64)
    for key in BALANCE_KEYS:
        frame[key] = frame[key].astype("string").fillna("")
    grouped = frame.groupby(BALANCE_KEYS, sort=True, observed=True)["balance_cents"].sum().reset_index()
    return grouped[grouped["balance_cents"] != 0].reset_index(drop=True)


def pool_balances(balances: pd.DataFrame, source: SourceFilter, entity: str) -> pd.DataFrame:
    """The balances (as `gl_balances` returns them) that a rule's source filter selects for
    `entity`, exactly as the engine selects a pool before any earlier rule adds to it."""
    pool = _PoolLedger(balances).select(source, entity)
    return pd.DataFrame(
        {
            "entity": entity, "account": pool.account, "cost_center": pool.cost_center, "product": pool.product,
            "region": pool.region, "currency": pool.currency, "balance_cents": pool.balance,
        },
        columns=[*BALANCE_KEYS, "balance_cents"],
    )


@dataclass(frozen=True)
class DocumentSource:
    """A source document for document-linked rules.

    `lines`: the document's GL lines (entity, account, cost_center, product, region, currency,
    balance_cents = debit - credit). `allocated`: cents each account already gave to other runs
    that are not voided or rejected (the rule's own earlier run of the period excluded).
    """

    document_id: str
    lines: pd.DataFrame
    allocated: Mapping[str, int] = field(default_factory=dict)


def allocate_period(
    period: str,
    rules: list[Rule],
    balances: pd.DataFrame,
    driver_values: pd.DataFrame,
    cost_centers: pd.DataFrame,
    entities: pd.DataFrame,
    methods: Mapping[str, AllocationMethod] | None = None,
    documents: Mapping[str, DocumentSource] | None = None,
) -> AllocationOutcome:
    """Allocate every rule in order. A later rule sees what earlier rules allocated in its pool.

    Rules that cannot be allocated raise one AllocationError listing every failing rule; an empty
    pool is not an error: no run, and a note says so. Document-linked rules pool from
    `documents` (see DocumentSource); their runs carry the document id.
    """
    methods = methods if methods is not None else available_methods()
    currencies = dict(zip(entities["entity"], entities["currency"]))
    ledger = _PoolLedger(balances)
    resolver = _TargetResolver(cost_centers)
    in_period = driver_values[driver_values["period"] == period].astype({"driver": object, "dimension": object, "cost_object": object})
    drivers = {str(dimension): frame for dimension, frame in in_period.groupby("dimension", sort=False)}
    no_drivers = in_period.iloc[0:0]
    runs: list[RunDraft] = []
    notes: list[str] = []
    errors: list[str] = []
    taken: dict[tuple[str, str], int] = {}  # (document, account) -> cents taken by this period's earlier rules
    for rule in rules:
        try:
            if rule.source.document is not None and rule.source.document not in (documents or {}):
                notes.append(f"rule {rule.id}: source document {rule.source.document} is not in the GL lines of {period}; no run")
                continue
            if rule.source.document is not None:
                pool = _document_pool(rule, documents[rule.source.document], taken)
            else:
                pool = ledger.select(rule.source, rule.entity)
            if pool.cents == 0:
                notes.append(f"rule {rule.id}: pool is empty in {period}; no run")
                continue
            currency = currencies.get(rule.entity)
            if currency is None:
                raise AllocationError(f"entity {rule.entity} is not in the entities extract")
            foreign = sorted(set(pool.currency) - {currency})
            if foreign:
                raise AllocationError(f"pool holds {', '.join(foreign)} amounts but entity {rule.entity} books in {currency}")
            members = resolver.members(rule.target, rule.entity)
            run, columns = _allocate_rule(period, rule, pool, currency, members, lambda d: drivers.get(d, no_drivers), methods)
            if rule.source.document is not None:
                run = RunDraft(**{**run.__dict__, "source_document": rule.source.document})
                for account, cents in document_takings(run).items():
                    taken[(rule.source.document, account)] = taken.get((rule.source.document, account), 0) + cents
        except (AllocationError, MethodError) as exc:
            errors.append(f"rule {rule.id} ({rule.entity}, {period}): {exc}")
            continue
        runs.append(run)
        ledger.add(run.entity, run.currency, columns)
    if errors:
        raise AllocationError("; ".join(errors))
    return AllocationOutcome(runs=runs, notes=notes)


@dataclass(frozen=True)
class _Pool:
    """The balances a rule's source filter selected (not netted: the source lines group them)."""

    account: np.ndarray
    cost_center: np.ndarray
    product: np.ndarray
    region: np.ndarray
    currency: np.ndarray
    balance: np.ndarray

    @property
    def cents(self) -> int:
        return int(self.balance.sum())


class _PoolLedger:
    """The balances rules pool from: the GL's, plus the lines of every run made so far, so a later
    rule can pool what an earlier one allocated.

    Held as growable numpy columns with the account as a number, because a period may run
    hundreds of rules and each one filters all of it; pandas costs too much per small operation.
    """

    def __init__(self, balances: pd.DataFrame):
        size = len(balances)
        capacity = max(64, 2 * size)
        self.size = size
        self.text = {key: np.empty(capacity, dtype=object) for key in BALANCE_KEYS}
        for key in BALANCE_KEYS:
            self.text[key][:size] = balances[key].astype("string").fillna("").to_numpy(dtype=object)
        self.account_number = np.empty(capacity, dtype=np.int64)
        self.account_number[:size] = _account_numbers(self.text["account"][:size])
        self.balance = np.empty(capacity, dtype=np.int64)
        self.balance[:size] = balances["balance_cents"].to_numpy(np.int64)

    def select(self, source: SourceFilter, entity: str) -> _Pool:
        accounts = self.account_number[: self.size]
        in_range = np.zeros(self.size, dtype=bool)
        for account_range in source.accounts:
            in_range |= (accounts >= int(account_range.low)) & (accounts <= int(account_range.high))
        rows = np.flatnonzero(in_range)
        rows = rows[self.text["entity"][rows] == entity]
        if source.cost_centers is not None:
            rows = rows[_isin(self.text["cost_center"][rows], source.cost_centers)]
        for dimension, members in source.dimensions.items():
            rows = rows[_isin(self.text[dimension][rows], members)]
        rows = rows[self.balance[rows] != 0]
        return _Pool(*(self.text[key][rows] for key in ("account", "cost_center", "product", "region", "currency")), self.balance[rows])

    def add(self, entity: str, currency: str, lines: dict[str, list]) -> None:
        count = len(lines["account"])
        if self.size + count > len(self.balance):
            capacity = 2 * (self.size + count)
            self.text = {key: np.resize(values, capacity) for key, values in self.text.items()}
            self.account_number = np.resize(self.account_number, capacity)
            self.balance = np.resize(self.balance, capacity)
        window = slice(self.size, self.size + count)
        self.text["entity"][window] = entity
        self.text["currency"][window] = currency
        for key in ("account", "cost_center", "product", "region"):
            self.text[key][window] = ["" if v is None else v for v in lines[key]]
        self.account_number[window] = _account_numbers(self.text["account"][window])
        self.balance[window] = np.asarray(lines["debit_cents"], dtype=np.int64) - np.asarray(lines["credit_cents"], dtype=np.int64)
        self.size += count


def document_lines(gl_lines: pd.DataFrame, document_id: str) -> pd.DataFrame | None:
    """A document's cleaned GL lines in DocumentSource form (None when the GL does not hold it)."""
    own = gl_lines[gl_lines["document_id"] == document_id]
    if own.empty:
        return None
    return pd.DataFrame(
        {
            "entity": own["entity"].astype(str).to_numpy(),
            "account": own["account"].astype(str).to_numpy(),
            "cost_center": own["cost_center"].astype(str).to_numpy(),
            "product": own["product"].astype("string").to_numpy(),
            "region": own["region"].astype("string").to_numpy(),
            "currency": own["currency"].astype(str).to_numpy(),
            "balance_cents": (own["debit_cents"] - own["credit_cents"]).astype("int64").to_numpy(),
        }
    )


def document_takings(run: RunDraft) -> dict[str, int]:
    """Cents a run takes from each account of its source document (its source lines, net)."""
    sources = run.lines[run.lines["role"] == "source"]
    net = (sources["credit_cents"] - sources["debit_cents"]).groupby(sources["account"].astype(str)).sum()
    return {account: abs(int(cents)) for account, cents in net.items()}


def _document_pool(rule: Rule, document: DocumentSource | None, taken: Mapping[tuple[str, str], int]) -> _Pool:
    """The document's lines on the rule's accounts, less what other runs took from each account.

    An account line allocated in part is pooled as its remaining amount (or the rule's `amount`)
    on the cost center of its largest line. Over-allocation is not clipped here: the run's
    validation reports it with the amounts, so the analyst sees it.
    """
    if document is None or document.lines.empty:
        raise AllocationError(f"source document {rule.source.document} has no GL lines in the warehouse")
    lines = document.lines[document.lines["entity"] == rule.entity]
    if lines.empty:
        raise AllocationError(f"source document {rule.source.document} has no GL lines in entity {rule.entity}")
    wanted = {r.low for r in rule.source.accounts}
    present = set(lines["account"].astype(str))
    missing = sorted(wanted - present, key=lambda a: (len(a), a))
    if missing:
        available = ", ".join(sorted(present, key=lambda a: (len(a), a)))
        raise AllocationError(f"account(s) {', '.join(missing)} are not on source document {rule.source.document} (available accounts: {available})")
    rows = []
    for account in sorted(wanted, key=lambda a: (len(a), a)):
        own = lines[lines["account"].astype(str) == account]
        total = int(own["balance_cents"].sum())
        sign = 1 if total >= 0 else -1
        allocated = int(document.allocated.get(account, 0)) + int(taken.get((document.document_id, account), 0))
        if rule.source.amount_cents is None and allocated == 0:
            rows += [tuple(r) for r in own[["account", "cost_center", "product", "region", "currency", "balance_cents"]].itertuples(index=False)]
            continue
        take = rule.source.amount_cents if rule.source.amount_cents is not None else max(abs(total) - allocated, 0)
        largest = own.loc[own["balance_cents"].abs().idxmax()]
        rows.append((account, largest["cost_center"], largest["product"], largest["region"], largest["currency"], sign * take))
    frame = pd.DataFrame(rows, columns=["account", "cost_center", "product", "region", "currency", "balance_cents"])
    frame = frame[frame["balance_cents"] != 0]
    text = {k: frame[k].astype("string").fillna("").to_numpy(dtype=object) for k in ("account", "cost_center", "product", "region", "currency")}
    return _Pool(text["account"], text["cost_center"], text["product"], text["region"], text["currency"], frame["balance_cents"].to_numpy(np.int64))


def _account_numbers(accounts: np.ndarray) -> np.ndarray:
    """Accounts as numbers for range filters; one that is not a number matches no range (-1)."""
    return np.array([int(a) if a.isdigit() else -1 for a in accounts], dtype=np.int64)


def _isin(values: np.ndarray, members: tuple[str, ...]) -> np.ndarray:
    wanted = set(members)
    return np.fromiter((v in wanted for v in values), dtype=bool, count=len(values))


def resolve_targets(target: TargetSpec, cost_centers: pd.DataFrame, entity: str) -> tuple[str, ...]:
    """The rule's targets: listed members, active cost centers matching `where`, or for several
    dimensions every combination of their members (`P-CORE*NA-EAST`), first dimension slowest."""
    return _combinations(_TargetResolver(cost_centers).members(target, entity))


def _combinations(members: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    return tuple(DIMENSION_SEPARATOR.join(combination) for combination in itertools.product(*members.values()))


class _TargetResolver:
    """Each target dimension's members, with cost centers selected by `where` looked up once per
    entity and condition (many rules share them)."""

    def __init__(self, cost_centers: pd.DataFrame):
        self.cost_centers = cost_centers
        self.active: list[dict] | None = None
        self.cache: dict[tuple, tuple[str, ...]] = {}

    def members(self, target: TargetSpec, entity: str) -> dict[str, tuple[str, ...]]:
        if len(target.dimensions) == 1 and target.members is not None:
            return {target.dimension: tuple(target.members)}
        return {
            dimension: target.members_by_dimension[dimension] if dimension in target.members_by_dimension else self._where(target, entity)
            for dimension in target.dimensions
        }

    def _where(self, target: TargetSpec, entity: str) -> tuple[str, ...]:
        if "cost_center" not in target.dimensions:
            raise AllocationError(f"target.where selects cost centers only; list the {target.dimension} members")
        conditions = {"entity": entity, **dict(target.where)}
        key = tuple(sorted(conditions.items()))
        if key not in self.cache:
            if self.active is None:
                frame = self.cost_centers[self.cost_centers["active"].astype(bool)]
                self.active = [{k: (None if pd.isna(v) else str(v)) for k, v in row.items()} for row in frame.to_dict("records")]
            columns = set(self.cost_centers.columns)
            unknown = [a for a in conditions if a not in columns]
            if unknown:
                raise AllocationError(f"target.where: cost centers have no attribute '{unknown[0]}'")
            selected = sorted(row["cost_center"] for row in self.active if all(row[a] == v for a, v in conditions.items()))
            if not selected:
                raise AllocationError(f"target.where {conditions} selects no active cost center")
            self.cache[key] = tuple(selected)
        return self.cache[key]


def _allocate_rule(
    period: str,
    rule: Rule,
    pool: _Pool,
    currency: str,
    members: dict[str, tuple[str, ...]],
    drivers_of: Callable[[str], pd.DataFrame],
    methods: Mapping[str, AllocationMethod],
) -> tuple[RunDraft, dict[str, list]]:
    """The rule's run, and its lines as plain columns (for the pool ledger)."""
    targets = _combinations(members)
    pool_cents = pool.cents
    request = MethodRequest(
        rule_id=rule.id, period=period, pool_cents=pool_cents, dimension=rule.target.dimension,
        targets=targets, drivers=drivers_of(rule.target.dimension), parameters=rule.parameters,
    )
    if rule.method == PRODUCT_OF_SHARES:
        result, weights = _product_of_shares(rule, request, members, drivers_of, methods)
    else:
        result, weights = _weigh(rule, rule.method, rule.parameters, request, methods)
    amounts = largest_remainder(pool_cents, weights)
    shares = weights / weights.sum()
    driver_values = _aligned(result.driver_values, targets) if result.driver_values is not None else None
    bases = _aligned(result.explanations, targets) if result.explanations is not None else None

    columns: dict[str, list[Any]] = {c: [] for c in LINE_COLUMNS}
    sources = _source_rows(rule, pool)
    for account, cost_center, product, region, balance in sources:
        _append(columns, "source", account, cost_center, product, region, balance, None, np.nan, np.nan, f"pool of rule {rule.id} removed from its source")
    dimensions = rule.target.dimensions
    booked_cost_center = None
    if "cost_center" not in dimensions:
        source_cost_centers = {row[1] for row in sources}
        booked_cost_center = rule.target.cost_center or (source_cost_centers.pop() if len(source_cost_centers) == 1 else None)
        if booked_cost_center is None:
            raise AllocationError("target.cost_center is needed to book a non-cost-center target from several source cost centers")
    notes = list(result.notes)
    noted = {n.split(" ", 1)[0] for n in notes}
    for i, (target, amount, share) in enumerate(zip(targets, amounts.tolist(), shares.tolist())):
        if amount == 0:
            if share == 0 and target not in noted:
                notes.append(f"{target} has a zero weight and receives nothing")
            elif share > 0:
                notes.append(f"{target}'s share ({share:.6%}) of {format_money(pool_cents)} rounds to nothing")
            continue
        member = dict(zip(dimensions, target.split(DIMENSION_SEPARATOR)))
        driver_value = np.nan if driver_values is None else float(driver_values[i])
        basis = bases[i] if bases is not None and isinstance(bases[i], str) else None
        _append(
            columns, "target", rule.debit_account, member.get("cost_center", booked_cost_center), member.get("product"),
            member.get("region"), -amount, result.driver, driver_value, share, _explain(rule, share, pool_cents, result.driver, driver_value, basis),
        )
    columns["line_no"] = list(range(1, len(columns["role"]) + 1))
    lines = pd.DataFrame(columns, columns=LINE_COLUMNS)
    run = RunDraft(
        rule_id=rule.id, entity=rule.entity, period=period, run_type=rule.type, method=rule.method,
        currency=currency, pool_cents=pool_cents, lines=lines, notes=tuple(notes),
    )
    return run, columns


def _append(columns: dict[str, list], role, account, cost_center, product, region, balance: int, driver, driver_value, share, explanation) -> None:
    """One line; `balance` is what it removes (positive: a credit), so a negative pool keeps its sign."""
    columns["role"].append(role)
    columns["account"].append(account)
    columns["cost_center"].append(cost_center)
    columns["product"].append(product)
    columns["region"].append(region)
    columns["debit_cents"].append(-balance if balance < 0 else 0)
    columns["credit_cents"].append(balance if balance > 0 else 0)
    columns["driver"].append(driver)
    columns["driver_value"].append(driver_value)
    columns["share"].append(share)
    columns["explanation"].append(explanation)


def _source_rows(rule: Rule, pool: _Pool) -> list[tuple[str, str, str | None, str | None, int]]:
    """Credits removing the pool from where it sits (debits for a negative balance): per cost
    center on the rule's credit account, or per pooled account and dimensions when it has none."""
    sums: dict[tuple, int] = {}
    if rule.credit_account is not None:
        keys = zip(pool.cost_center)
    else:
        keys = zip(pool.account, pool.cost_center, pool.product, pool.region)
    for key, balance in zip(keys, pool.balance.tolist()):
        sums[key] = sums.get(key, 0) + balance
    if rule.credit_account is not None:
        return [(rule.credit_account, key[0], None, None, b) for key, b in sorted(sums.items()) if b != 0]
    return [(a, c, p or None, r or None, b) for (a, c, p, r), b in sorted(sums.items()) if b != 0]


def _aligned(series: pd.Series, targets: tuple[str, ...]) -> list:
    """A method's per-target values in target order (a method may return them in any order)."""
    if len(series) == len(targets) and list(series.index) == list(targets):
        return series.tolist()
    return series.reindex(list(targets)).tolist()


def _weigh(
    rule: Rule, name: str, parameters: Mapping[str, Any], request: MethodRequest, methods: Mapping[str, AllocationMethod]
) -> tuple[MethodResult, np.ndarray]:
    """One method's result and its weights in target order, falling back to the rule's declared
    fallback method when a driver totals zero."""
    try:
        return _checked_weights(name, replace(request, parameters=parameters), methods)
    except ZeroDriverError as exc:
        if rule.fallback_method is None:
            raise
        try:
            result, weights = _checked_weights(rule.fallback_method, replace(request, parameters=rule.fallback_parameters), methods)
        except MethodError as fallback_exc:
            raise MethodError(f"{exc}, and the fallback {rule.fallback_method} failed too: {fallback_exc}") from fallback_exc
        note = f"{exc}: shared by the fallback method {rule.fallback_method} instead of {name}"
        driver = result.driver or rule.fallback_method.replace("_", " ")
        return replace(result, driver=f"{driver} (fallback)", notes=(note, *result.notes)), weights


def _checked_weights(name: str, request: MethodRequest, methods: Mapping[str, AllocationMethod]) -> tuple[MethodResult, np.ndarray]:
    method = get_method(name, methods)
    problems = method.check_parameters(request.parameters)
    if problems:
        raise MethodError("; ".join(problems))
    result = method.weights(request)
    # Plugins are code we do not control: their weights must be usable as they are.
    weights = np.asarray(_aligned(result.weights, request.targets), dtype=np.float64)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise AllocationError(f"method {name} returned missing, negative or infinite weights")
    if weights.sum() <= 0:
        raise AllocationError(f"method {name} gave every target a zero weight")
    return result, weights


def _product_of_shares(
    rule: Rule,
    request: MethodRequest,
    members: dict[str, tuple[str, ...]],
    drivers_of: Callable[[str], pd.DataFrame],
    methods: Mapping[str, AllocationMethod],
) -> tuple[MethodResult, np.ndarray]:
    """A combination's weight is the product of its members' shares, each dimension shared by its
    own method (`parameters: {product: {method: driver, parameters: {driver: revenue}}, ...}`)."""
    weights = np.ones(1)
    bases: list[list[str]] = []
    labels: list[str] = []
    notes: list[str] = []
    for dimension, dimension_members in members.items():
        spec = rule.parameters[dimension]
        sub_request = replace(request, dimension=dimension, targets=dimension_members, drivers=drivers_of(dimension))
        result, sub_weights = _weigh(rule, spec["method"], spec.get("parameters") or {}, sub_request, methods)
        share = sub_weights / sub_weights.sum()
        basis = _bases(result, dimension_members, spec["method"])
        bases.append([f"{dimension} {m} {s:.2%} by {b}" for m, s, b in zip(dimension_members, share.tolist(), basis)])
        labels.append(f"{dimension} by {result.driver or spec['method'].replace('_', ' ')}")
        notes += [f"{dimension}: {n}" for n in result.notes]
        # itertools.product order: the first dimension varies slowest, as in the targets.
        weights = np.multiply.outer(weights, share).ravel()
    positions = itertools.product(*(range(len(m)) for m in members.values()))
    explanations = [" x ".join(b[i] for b, i in zip(bases, position)) for position in positions]
    targets = list(request.targets)
    result = MethodResult(
        weights=pd.Series(weights, index=targets), driver=" x ".join(labels), notes=tuple(notes),
        explanations=pd.Series(explanations, index=targets, dtype=object),
    )
    return result, weights


def _bases(result: MethodResult, targets: tuple[str, ...], method: str) -> list[str]:
    """What each target's weight rests on, in words (for explanations)."""
    if result.explanations is not None:
        return [b if isinstance(b, str) else "" for b in _aligned(result.explanations, targets)]
    if result.driver is not None and result.driver_values is not None:
        return [f"{result.driver} {v:,.2f}" for v in _aligned(result.driver_values, targets)]
    return [result.driver or method.replace("_", " ")] * len(targets)


def _explain(rule: Rule, share: float, pool_cents: int, driver: str | None, driver_value: float | None, basis: str | None = None) -> str:
    if basis is None:
        # A method without driver values (even_split, a fallback) leaves NaN: the basis is then the driver's name alone.
        measured = driver_value is not None and not np.isnan(driver_value)
        basis = f"{driver} {driver_value:,.2f}" if driver and measured else (driver or rule.method.replace("_", " "))
    return f"{share:.4%} of {format_money(pool_cents)} by {basis}"
