"""Multi-level allocation runs: each entity's service cost centers' own cost (GL balances after the
rules' runs), solved over the period's matrix, turned into a balanced run and an origin table."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.allocate import BALANCE_KEYS, LINE_COLUMNS, RunDraft
from allocation_pipeline.core.money import format_cents, format_money
from allocation_pipeline.core.multilevel.inputs import PERCENT_TOLERANCE
from allocation_pipeline.core.multilevel.records import ClosedCycleError, MultilevelError, MultilevelResult, MultilevelWarning
from allocation_pipeline.core.multilevel.solver import solve
from allocation_pipeline.core.multilevel.config import MultilevelSpec

# The producer name of multi-level runs in `allocation_runs.origin`, apart from the rules' runs.
ORIGIN = "multilevel"
ORIGIN_COLUMNS = ["period", "entity", "run_id", "cost_center", "origin", "amount_cents"]
# Origins named in a line's explanation; the rest are counted.
EXPLAINED_ORIGINS = 5


class MultilevelRunError(ValueError):
    """Multi-level allocations that cannot be made in a period; the message names each allocation,
    entity and period, and what is wrong (a closed cycle names its cost centers)."""

    def __init__(self, message: str, cycles: tuple[tuple[str, ...], ...] = ()):
        super().__init__(message)
        self.cycles = cycles


@dataclass(frozen=True)
class EntitySolve:
    """One allocation's solve. `draft` is None when no cost center ends with other than its own cost."""

    spec: MultilevelSpec
    currency: str
    result: MultilevelResult
    draft: RunDraft | None
    matrix_rows: int

    @property
    def ill_conditioned(self) -> pd.DataFrame:
        """Cycles whose condition estimate exceeds the allocation's limit (or could not be estimated):
        component, size, condition, members."""
        cycles = self.result.cycles
        condition = cycles["condition"].to_numpy(dtype=np.float64)
        bad = cycles[~np.isfinite(condition) | (condition > self.spec.condition_limit)]
        members = self.result.cycle_members.groupby("component")["cost_center"].agg(lambda c: ", ".join(map(str, c)))
        return bad.assign(members=bad["component"].map(members))[["component", "size", "condition", "members"]]


@dataclass(frozen=True)
class MultilevelOutcome:
    solves: list[EntitySolve] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def drafts(self) -> list[RunDraft]:
        return [s.draft for s in self.solves if s.draft is not None]


def balances_after_runs(balances: pd.DataFrame, run_lines: pd.DataFrame) -> pd.DataFrame:
    """GL balances (`allocation.gl_balances`) plus the lines of the period's runs (entity, currency,
    account, cost_center, product, region, debit_cents, credit_cents), netted per balance key."""
    if run_lines.empty:
        return balances
    moved = run_lines[["entity", "account", "cost_center", "product", "region", "currency"]].astype("string").fillna("")
    moved["balance_cents"] = run_lines["debit_cents"].to_numpy(np.int64) - run_lines["credit_cents"].to_numpy(np.int64)
    frame = pd.concat([balances[BALANCE_KEYS + ["balance_cents"]].astype({k: "string" for k in BALANCE_KEYS}), moved], ignore_index=True)
    grouped = frame.groupby(BALANCE_KEYS, sort=True, observed=True)["balance_cents"].sum().reset_index()
    return grouped[grouped["balance_cents"] != 0].reset_index(drop=True)


def own_costs(spec: MultilevelSpec, balances: pd.DataFrame, service_centers: list[str]) -> tuple[pd.Series, list[str]]:
    """Own cost (cents) of each service cost center: its balance on the allocation's source accounts
    (and dimensions). Returns the costs in `service_centers` order and the foreign currencies found."""
    frame = balances[balances["entity"].astype("string") == spec.entity]
    accounts = pd.to_numeric(frame["account"], errors="coerce").fillna(-1).to_numpy(np.int64)
    selected = np.zeros(len(frame), dtype=bool)
    for account_range in spec.source.accounts:
        selected |= (accounts >= int(account_range.low)) & (accounts <= int(account_range.high))
    centers = set(service_centers) if spec.source.cost_centers is None else set(service_centers) & set(spec.source.cost_centers)
    selected &= frame["cost_center"].astype("string").isin(centers).to_numpy(dtype=bool)
    for dimension, members in spec.source.dimensions.items():
        selected &= frame[dimension].astype("string").isin(members).to_numpy(dtype=bool)
    chosen = frame[selected]
    costs = chosen.groupby(chosen["cost_center"].astype(str))["balance_cents"].sum()
    costs = costs.reindex(service_centers, fill_value=0).astype(np.int64)
    return costs.rename_axis("cost_center"), sorted(set(chosen["currency"].astype(str)))


def entity_matrix(spec: MultilevelSpec, period: str, matrix: pd.DataFrame, cost_centers: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The entity's matrix rows of `period`, sorted by source and target, and the problems found:
    a cost center of another entity or an inactive one, a source sending more than 100 percent.
    Problems name the file and row."""
    rows = matrix[(matrix["period"].astype("string") == period) & (matrix["entity"].astype("string") == spec.entity)]
    rows = rows.sort_values(["source", "target"], kind="stable").reset_index(drop=True)
    owner = dict(zip(cost_centers["cost_center"].astype(str), cost_centers["entity"].astype(str)))
    active = dict(zip(cost_centers["cost_center"].astype(str), cost_centers["active"].astype(bool)))
    problems = []
    for row in rows.itertuples(index=False):
        where = _where(row)
        for column in ("source", "target"):
            center = str(getattr(row, column))
            if center in owner and owner[center] != spec.entity:
                problems.append(f"{where}: {column} {center} belongs to entity {owner[center]}, not {spec.entity}")
            elif center in active and not active[center]:
                problems.append(f"{where}: {column} {center} is inactive")
    sums = rows.groupby("source", sort=True)["percent"].sum()
    for source, total in sums[sums > 100 + PERCENT_TOLERANCE].items():
        listed = rows[rows["source"] == source]
        problems.append(f"source {source} sends {total:.10g} percent, more than 100 ({_rows(listed)})")
    return rows, problems


def _where(row) -> str:
    source_file = getattr(row, "source_file", None)
    row_number = getattr(row, "row_number", None)
    if source_file is None or row_number is None:
        return "matrix row"
    return f"{source_file} row {int(row_number)}"


def _rows(rows: pd.DataFrame) -> str:
    if "source_file" not in rows or "row_number" not in rows or rows.empty:
        return "rows of the matrix"
    files = rows["source_file"].astype(str).unique()
    numbers = ", ".join(str(int(n)) for n in rows["row_number"].head(10))
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"{', '.join(files)} rows {numbers}{more}"


def allocate_multilevel(
    period: str,
    specs: list[MultilevelSpec],
    balances: pd.DataFrame,
    matrix: pd.DataFrame,
    cost_centers: pd.DataFrame,
    entities: pd.DataFrame,
    matrix_quarantine: pd.DataFrame | None = None,
) -> MultilevelOutcome:
    """Solve every multi-level allocation in force and build its run.

    `balances` are the period's GL balances after the rules' runs (`balances_after_runs`);
    `matrix` the cleaned allocation matrix (period, entity, source, target, percent, and
    source_file/row_number to name rows). A matrix with quarantined rows of the period
    (`matrix_quarantine`: source_file, row_number, reason) is refused: with a row missing its
    source would keep cost it should send. Raises one MultilevelRunError listing every failing
    allocation; nothing is returned partially. An entity without matrix rows makes no run (noted).
    """
    if matrix_quarantine is not None and not matrix_quarantine.empty:
        shown = "; ".join(f"{r.source_file} row {int(r.row_number)}: {r.reason}" for r in matrix_quarantine.head(10).itertuples())
        more = f" and {len(matrix_quarantine) - 10} more" if len(matrix_quarantine) > 10 else ""
        raise MultilevelRunError(
            f"the allocation matrix of {period} has quarantined rows ({shown}{more}); "
            "fix them first: without them their sources would keep cost they should send on"
        )
    currencies = dict(zip(entities["entity"].astype(str), entities["currency"].astype(str)))
    solves: list[EntitySolve] = []
    notes: list[str] = []
    errors: list[str] = []
    cycles: list[tuple[str, ...]] = []
    for spec in specs:
        label = f"multilevel {spec.id} ({spec.entity}, {period})"
        currency = currencies.get(spec.entity)
        if currency is None:
            errors.append(f"{label}: entity {spec.entity} is not in the entities extract")
            continue
        rows, problems = entity_matrix(spec, period, matrix, cost_centers)
        if rows.empty:
            notes.append(f"{label}: the allocation matrix has no rows for {spec.entity}; no run")
            continue
        service_centers = sorted(set(rows["source"].astype(str)))
        costs, foreign = own_costs(spec, balances, service_centers)
        foreign = [c for c in foreign if c != currency]
        if foreign:
            problems.append(f"own costs hold {', '.join(foreign)} amounts but entity {spec.entity} books in {currency}")
        if problems:
            errors += [f"{label}: {p}" for p in problems]
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MultilevelWarning)
                result = solve(
                    _as_amounts(costs),
                    rows[["source", "target", "percent"]],
                    method=spec.method,
                    order=list(spec.order) if spec.order else None,
                    condition_limit=spec.condition_limit,
                )
        except ClosedCycleError as exc:
            cycles += list(exc.cycles)
            errors += [f"{label}: {p.message}" for p in exc.problems]
            continue
        except MultilevelError as exc:
            errors += [f"{label}: {_locate(p, rows)}" for p in exc.problems] or [f"{label}: {exc}"]
            continue
        draft = run_draft(spec, period, currency, result)
        if draft is None:
            notes.append(f"{label}: every cost center ends with its own cost; no run")
        solves.append(EntitySolve(spec, currency, result, draft, len(rows)))
    if errors:
        raise MultilevelRunError("; ".join(errors) + "; nothing stored", tuple(cycles))
    return MultilevelOutcome(solves=solves, notes=notes)


def _as_amounts(cents: pd.Series) -> pd.Series:
    """Cents as exact two-place text, the solver's lossless input."""
    return pd.Series([format_cents(int(c)) for c in cents], index=cents.index, dtype="string")


def _locate(problem, rows: pd.DataFrame) -> str:
    """A solver problem with its matrix row named by file and row number."""
    if problem.table == "matrix" and problem.row is not None and 0 < problem.row <= len(rows):
        return f"{_where(rows.iloc[problem.row - 1])}: {problem.message}"
    return str(problem)


def run_draft(spec: MultilevelSpec, period: str, currency: str, result: MultilevelResult) -> RunDraft | None:
    """The balanced run of one solve: a credit on the credit account for each cost center that ends
    below its own cost, a debit on the debit account for each that ends above; exact cents, so
    debits equal credits (finals sum exactly to own costs). None when nothing moves."""
    own = result.own_cents.astype(np.int64)
    final = result.final_cents.astype(np.int64)
    net = (final - own).sort_index()
    parts = _origin_parts(result)
    label = f"multi-level {spec.method_name.replace('_', '-')}"
    credits = net[net < 0]
    debits = net[net > 0]
    if credits.empty and debits.empty:
        return None
    total_debit = int(debits.sum())
    columns: dict[str, list] = {c: [] for c in LINE_COLUMNS if c != "line_no"}

    def add(role: str, account: str, center: str, debit: int, credit: int, driver, share: float, explanation: str) -> None:
        values = {
            "role": role, "account": account, "cost_center": center, "product": None, "region": None,
            "debit_cents": debit, "credit_cents": credit, "driver": driver, "driver_value": np.nan,
            "share": share, "explanation": explanation,
        }
        for key, value in values.items():
            columns[key].append(value)

    for center, amount in credits.items():
        add("source", spec.credit_account, center, 0, int(-amount), None, np.nan, _explain_source(result, center, label))
    for center, amount in debits.items():
        share = int(amount) / total_debit
        add("target", spec.debit_account, center, int(amount), 0, label, share, _explain_target(result, center, parts.get(center), label))
    lines = pd.DataFrame(columns)
    lines.insert(0, "line_no", np.arange(1, len(lines) + 1))
    lines = lines[LINE_COLUMNS].astype(
        {"line_no": "int64", "debit_cents": "int64", "credit_cents": "int64", "driver_value": "float64", "share": "float64"}
    )
    notes = list(result.warnings)
    return RunDraft(
        rule_id=spec.id, entity=spec.entity, period=period, run_type=spec.type, method=f"multilevel_{spec.method_name}",
        currency=currency, pool_cents=int(own.sum()), lines=lines, notes=tuple(notes),
    )


def _origin_parts(result: MultilevelResult) -> dict[str, pd.Series]:
    """Per cost center, its final split by origin (cents), largest first."""
    frame = result.by_origin
    if frame is None or frame.empty:
        return {}
    ordered = frame.sort_values(["cost_center", "amount_cents", "origin"], ascending=[True, False, True])
    return {str(center): group.set_index("origin")["amount_cents"] for center, group in ordered.groupby("cost_center", sort=False)}


def _explain_source(result: MultilevelResult, center: str, label: str) -> str:
    own = int(result.own_cents[center])
    final = int(result.final_cents[center])
    total = float(result.total[center])
    received = round(total * 100) - own
    retention = float(result.retention[center])
    return (
        f"{label}: own cost {format_money(own)}, {format_money(received)} received from other service cost centers; "
        f"keeps {format_money(final)} ({retention:.2%} of its total {format_money(round(total * 100))}); "
        f"{format_money(own - final)} passed on"
    )


def _explain_target(result: MultilevelResult, center: str, parts: pd.Series | None, label: str) -> str:
    own = int(result.own_cents[center])
    final = int(result.final_cents[center])
    head = f"{label}: ends with {format_money(final)}"
    if own:
        kept = int(parts.get(center, 0)) if parts is not None else 0
        head += f" (own cost {format_money(own)}, of which it keeps {format_money(kept)})"
    if parts is None:
        return head
    others = parts[parts.index != center]
    shown = ", ".join(f"{format_money(int(v))} from {origin}" for origin, v in others.head(EXPLAINED_ORIGINS).items())
    more = f" and {format_money(int(others.iloc[EXPLAINED_ORIGINS:].sum()))} from {len(others) - EXPLAINED_ORIGINS} more" if len(others) > EXPLAINED_ORIGINS else ""
    return f"{head}: {shown}{more}" if shown else head


def origin_table(period: str, solves: list[EntitySolve], run_ids: dict[str, str]) -> pd.DataFrame:
    """Rows of `multilevel_origins`: each cost center's final split by the cost center where it
    started (cents); the parts of one cost center sum exactly to its final. `run_ids` maps
    `id@entity` to the stored run (absent: no run)."""
    frames = []
    for item in solves:
        by_origin = item.result.by_origin
        if by_origin is None or by_origin.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "period": period,
                    "entity": item.spec.entity,
                    "run_id": run_ids.get(f"{item.spec.id}@{item.spec.entity}"),
                    "cost_center": by_origin["cost_center"].astype(str).to_numpy(),
                    "origin": by_origin["origin"].astype(str).to_numpy(),
                    "amount_cents": by_origin["amount_cents"].to_numpy(np.int64),
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "amount_cents" else "string") for c in ORIGIN_COLUMNS})
    table = pd.concat(frames, ignore_index=True).sort_values(["entity", "cost_center", "origin"], ignore_index=True)
    return table.astype({"period": "string", "entity": "string", "run_id": "string", "cost_center": "string", "origin": "string"})


def results_table(solves: list[EntitySolve]) -> pd.DataFrame:
    """One row per cost center of every solve: entity, cost_center, own_cents, received_cents,
    final_cents, retention (for reports and metadata)."""
    frames = []
    for item in solves:
        r = item.result
        total_cents = np.round(r.total.to_numpy(dtype=np.float64) * 100).astype(np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "entity": item.spec.entity,
                    "cost_center": r.own_cents.index.astype(str),
                    "own_cents": r.own_cents.to_numpy(np.int64),
                    "received_cents": total_cents - r.own_cents.to_numpy(np.int64),
                    "final_cents": r.final_cents.to_numpy(np.int64),
                    "retention": r.retention.to_numpy(np.float64),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["entity", "cost_center", "own_cents", "received_cents", "final_cents", "retention"])
    return pd.concat(frames, ignore_index=True)
