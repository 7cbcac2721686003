"""What a period report is made of (frames read from the warehouse) and the figures, flows and
drill-downs computed from them. Money is integer cents throughout (`*_cents` columns)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class ReportData:
    """Everything one entity's report for one fiscal period shows.

    The run-level frames (runs, run_lines, history, entries, entry_lines, links, source_documents)
    cover the runs of the period and of the `history_periods - 1` months before it (the runs list
    and its filters), plus any run with an entry posted in the period (a reversal of an older
    run). The other frames are the period's only: `allocations` (v_allocations_by_pool: target
    lines of posted runs), `origins` (multi-level finals by cost center of origin, other than
    itself), `cost_objects` (v_cost_object_cost), `source_transactions` (top GL documents per
    cost center and expense account), and the insight tables (empty when not computed).
    """

    period: str
    entity: str
    entity_name: str
    currency: str
    period_status: str | None
    first_period: str
    runs: pd.DataFrame
    run_lines: pd.DataFrame
    history: pd.DataFrame
    entries: pd.DataFrame
    entry_lines: pd.DataFrame
    links: pd.DataFrame
    source_documents: pd.DataFrame
    allocations: pd.DataFrame
    origins: pd.DataFrame
    cost_objects: pd.DataFrame
    source_transactions: pd.DataFrame
    narratives: pd.DataFrame
    flags: pd.DataFrame
    driver_analysis: pd.DataFrame
    profitability: pd.DataFrame
    quarantine: pd.DataFrame
    top_documents: int = 8
    generated_at: str = ""
    source: str = ""
    # Issue 13 (empty when not computed): `driver_confidence` one row per insights pool of the
    # period (label strong/moderate/weak/none, p_value, permutations, seed, oos_r2, all_units_r2,
    # kept_r2, units_left_out, proposed, sentence); `forecasts` the entity's forecasts made after
    # the period (kind pool/driver/cost_object, series, period, mean, lower, upper, level, model,
    # backtest_periods, backtest_mape, backtest_mae, backtest_inside, sentence; money in cents for
    # pools and cost objects); `suggestions` the entity's cost-center suggestions of the period
    # (suggestion_id, extract, source_file, row_number, document_id, vendor, account, amount_cents,
    # problem, suggested_cost_center, confidence, label, status, decided_cost_center, decided_by,
    # decided_at, sentence).
    driver_confidence: pd.DataFrame = field(default_factory=pd.DataFrame)
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    suggestions: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Extract rows held back for the period or the master data, each row once however many
    # problems it has (`quarantine` has a row per extract, file, column and reason).
    quarantined_rows: int = 0

    @property
    def period_runs(self) -> pd.DataFrame:
        """The runs of the report's period (any status)."""
        return self.runs[self.runs["period"] == self.period]

    @property
    def period_entries(self) -> pd.DataFrame:
        """The journal entries posted in the report's period (entries and reversals)."""
        return self.entries[self.entries["period"] == self.period]


def summary_figures(data: ReportData) -> dict[str, int]:
    """The key figures of the period: counts, and money in cents.

    `allocated_cents` is what the period's posted runs allocate (their debits); `entries_*` count
    every journal entry posted in the period, reversals included; the cost figures come from
    v_cost_object_cost (direct = expense GL lines; allocated = posted journal lines on expense
    accounts, which net to zero over the entity when every allocation stays inside it).
    """
    runs = data.period_runs
    posted = runs[runs["status"] == "posted"]
    entries = data.period_entries
    costs = data.cost_objects
    direct = costs[costs["component"] == "direct"]["amount_cents"] if not costs.empty else pd.Series(dtype="int64")
    allocated = costs[costs["component"] == "allocated"]["amount_cents"] if not costs.empty else pd.Series(dtype="int64")
    flags = data.flags
    return {
        "runs": len(runs),
        "runs_posted": len(posted),
        "runs_waiting": int(runs["status"].isin(["draft", "calculated", "approved"]).sum()),
        "runs_voided": int((runs["status"] == "voided").sum()),
        "allocated_cents": int(posted["total_debit_cents"].sum()),
        "entries": len(entries),
        "reversals": int(entries["reverses_entry_id"].notna().sum()),
        "entries_debit_cents": int(entries["total_debit_cents"].sum()),
        "direct_cost_cents": int(direct.sum()),
        "allocated_net_cents": int(allocated.sum()),
        "moved_cents": int(allocated[allocated > 0].sum()),
        "cost_after_cents": int(direct.sum() + allocated.sum()),
        "cost_objects": int(costs["cost_center"].nunique()) if not costs.empty else 0,
        "flags": len(flags),
        "flags_high": int((flags["severity"] == "high").sum()) if not flags.empty else 0,
        "unprofitable": int(data.profitability["turned_unprofitable"].astype(bool).sum()) if not data.profitability.empty else 0,
        "quarantined_rows": data.quarantined_rows,
    }


# Each summary tile: key of summary_figures, label, what it counts, money or a count.
FIGURES = [
    ("runs", "Allocation runs in the period", "runs of this entity in the period, any status", False),
    ("runs_posted", "Runs posted", "of those, runs whose journal entry stands (not voided)", False),
    ("allocated_cents", "Allocated by posted runs", "the debits of the posted runs: what their rules and submissions moved, each run counted once", True),
    ("entries", "Journal entries posted", "entries dated in the period, reversals included", False),
    ("entries_debit_cents", "Debits of those entries", "all debits of those entries, reversals included", True),
    ("reversals", "Reversing entries", "entries that reverse a voided run", False),
    ("direct_cost_cents", "Direct cost (expense GL lines)", "expense GL lines of the period, before allocation", True),
    ("moved_cents", "Cost moved in by allocation", "what cost centers gained, net per cost center, from every entry of the period on expense accounts; "
     "less than the runs' total where a center both gives and receives (multi-level), and it counts reversals", True),
    ("cost_after_cents", "Cost after allocation", "direct cost plus every posted allocation line on expense accounts", True),
    ("cost_objects", "Cost centers with cost", "cost centers with direct or allocated cost in the period", False),
    ("flags", "Anomaly flags", "flags raised on this entity's runs of the period", False),
    ("unprofitable", "Turned unprofitable", "cost centers with revenue whose margin turned negative after allocation", False),
    ("quarantined_rows", "Quarantined rows", "extract rows held back for this period or the master data, each row once whatever its problems", False),
]


def figure_rows(figures: dict[str, int]) -> list[dict]:
    """The summary tiles with their values, in display order."""
    return [{"key": k, "label": label, "explain": explain, "money": money, "value": figures[k]} for k, label, explain, money in FIGURES]


def report_narrative(data: ReportData, figures: dict[str, int]) -> list[str]:
    """The summary's sentences: an opening paragraph whose every number is one of this entity's
    summary tiles, then the stored narratives of this entity's own rules (a period narrative
    stored for all entities together is left out: its figures are not this entity's)."""
    from allocation_pipeline.core.money import format_money

    f = figures
    currency = data.currency

    def runs_word(n: int) -> str:
        return "run" if n == 1 else "runs"

    opening = (
        f"In {data.period}, {f['runs_posted']:,} of the {f['runs']:,} allocation {runs_word(f['runs'])} of {data.entity} "
        f"{'is' if f['runs_posted'] == 1 else 'are'} posted; the posted runs allocated {format_money(f['allocated_cents'])} {currency}. "
        f"{f['entries']:,} journal {'entry was' if f['entries'] == 1 else 'entries were'} posted in the period "
        f"({f['reversals']:,} reversing), with debits of {format_money(f['entries_debit_cents'])} {currency}. "
        f"Direct cost on expense GL lines was {format_money(f['direct_cost_cents'])} {currency}; allocation moved "
        f"{format_money(f['moved_cents'])} {currency} into cost centers, which carry {format_money(f['cost_after_cents'])} {currency} "
        f"after allocation across {f['cost_objects']:,} cost centers. "
        f"Anomaly flags: {f['flags']:,}; quarantined rows: {f['quarantined_rows']:,}."
    )
    own = data.narratives
    if not own.empty:
        own = own[(own["scope"] != "period") & (own["entity"] == data.entity)]
    return [opening] + [str(n) for n in own["narrative"]] if not own.empty else [opening]
def insight_figures(data: ReportData) -> dict[str, int]:
    """Counts of the issue 13 insights: pools by confidence label, pools with a key proposed,
    forecast series, and suggestions open, accepted, rejected and of high confidence."""
    confidence, suggestions = data.driver_confidence, data.suggestions
    labels = confidence["label"].value_counts().to_dict() if not confidence.empty else {}
    statuses = suggestions["status"].value_counts().to_dict() if not suggestions.empty else {}
    return {
        **{f"pools_{label}": int(labels.get(label, 0)) for label in ("strong", "moderate", "weak", "none")},
        "pools_proposed": int(confidence["proposed"].astype(bool).sum()) if not confidence.empty else 0,
        "forecast_series": int(data.forecasts[["kind", "series"]].drop_duplicates().shape[0]) if not data.forecasts.empty else 0,
        **{f"suggestions_{status}": int(statuses.get(status, 0)) for status in ("open", "accepted", "rejected")},
        "suggestions_high": int((suggestions["label"] == "high").sum()) if not suggestions.empty else 0,
    }


COST_OBJECT_COLUMNS = ["cost_center", "cost_center_name", "cost_center_kind", "direct_cents", "allocated_cents", "after_cents"]


def cost_object_table(data: ReportData) -> pd.DataFrame:
    """One row per cost center: direct cost, allocated (net), cost after allocation; operating
    cost centers first, largest cost after allocation first."""
    costs = data.cost_objects
    if costs.empty:
        return pd.DataFrame(columns=COST_OBJECT_COLUMNS)
    pivot = costs.pivot_table(index="cost_center", columns="component", values="amount_cents", aggfunc="sum", fill_value=0)
    names = costs.drop_duplicates("cost_center").set_index("cost_center")
    table = pd.DataFrame(
        {
            "cost_center": pivot.index,
            "cost_center_name": names.loc[pivot.index, "cost_center_name"].to_numpy(),
            "cost_center_kind": names.loc[pivot.index, "cost_center_kind"].to_numpy(),
            "direct_cents": pivot.get("direct", pd.Series(0, index=pivot.index)).astype("int64").to_numpy(),
            "allocated_cents": pivot.get("allocated", pd.Series(0, index=pivot.index)).astype("int64").to_numpy(),
        }
    )
    table["after_cents"] = table["direct_cents"] + table["allocated_cents"]
    table["_order"] = (table["cost_center_kind"] != "operating").astype(int)
    table = table.sort_values(["_order", "after_cents", "cost_center"], ascending=[True, False, True], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)[COST_OBJECT_COLUMNS]


# --- the flow diagram -----------------------------------------------------------------------------

NODE_COLUMNS = ["key", "layer", "label", "detail", "href"]
LINK_COLUMNS = ["source", "target", "cents", "run_id"]
POOL, SERVICE, FINAL = 0, 1, 2


def cost_object_key(cost_center: str, product: object = None, region: object = None) -> str:
    """A final cost object: the cost center, with its product and region when the line has them."""
    parts = [str(cost_center)] + [str(v) for v in (product, region) if isinstance(v, str) and v]
    return " · ".join(parts)


def sankey_flows(data: ReportData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and links of the period's flow from cost pools through service cost centers to final
    cost objects, from the posted runs (v_allocations_by_pool) and multi-level origins.

    A run from the rules (or submitted) is a pool node linked to each target it debits; a target
    that is a service cost center of the multi-level allocation links to that service node. A
    multi-level run links each service cost center (origin) to the final cost objects it reaches
    (multilevel_origins), and its pool node to each service cost center with what the center
    passes on beyond what rules brought in; a target's debit not explained by origins (rounding,
    or a center that is also a source) links from the pool directly. Every link carries exact
    cents; non-positive amounts are not drawn (they stay in the tables).
    """
    allocations = data.allocations
    origins = data.origins
    nodes: dict[str, dict] = {}
    links: list[tuple[str, str, int, str]] = []
    service_centers = set(origins["origin"]) if not origins.empty else set()
    with_origins = set(origins["run_id"]) if not origins.empty else set()

    def pool_node(run) -> str:
        key = f"pool:{run.run_id}"
        if key not in nodes:
            where = run.source_cost_center if isinstance(run.source_cost_center, str) else "several cost centers"
            label = run.pool if isinstance(run.pool, str) else run.run_id
            nodes[key] = {"key": key, "layer": POOL, "label": label, "detail": f"{run.run_id} from {where}", "href": f"#{anchor('run', run.run_id)}"}
        return key

    def service_node(cost_center: str) -> str:
        key = f"service:{cost_center}"
        nodes.setdefault(key, {"key": key, "layer": SERVICE, "label": cost_center, "detail": "service cost center", "href": f"#{anchor('co', cost_center)}"})
        return key

    def final_node(cost_center: str, product=None, region=None) -> str:
        label = cost_object_key(cost_center, product, region)
        key = f"final:{label}"
        nodes.setdefault(key, {"key": key, "layer": FINAL, "label": label, "detail": "cost object", "href": f"#{anchor('co', cost_center)}"})
        return key

    rules_into_service: dict[str, int] = defaultdict(int)
    if not allocations.empty:
        for run_id, lines in allocations.groupby("run_id", sort=True):
            if run_id in with_origins:
                continue
            first = next(lines.itertuples(index=False))
            pool = pool_node(first)
            for line in lines.itertuples(index=False):
                cents = int(line.amount_cents)
                if line.cost_center in service_centers:
                    target = service_node(line.cost_center)
                    rules_into_service[line.cost_center] += cents
                else:
                    target = final_node(line.cost_center, line.product, line.region)
                links.append((pool, target, cents, run_id))
        for run_id, lines in allocations[allocations["run_id"].isin(with_origins)].groupby("run_id", sort=True):
            first = next(lines.itertuples(index=False))
            pool = pool_node(first)
            run_origins = origins[origins["run_id"] == run_id]
            by_target = {cc: part for cc, part in run_origins.groupby("cost_center")}
            passed_on: dict[str, int] = defaultdict(int)
            for line in lines.itertuples(index=False):
                cents = int(line.amount_cents)
                target = final_node(line.cost_center, line.product, line.region)
                explained = 0
                part = by_target.get(line.cost_center)
                if part is not None:
                    for row in part.itertuples(index=False):
                        links.append((service_node(row.origin), target, int(row.amount_cents), run_id))
                        passed_on[row.origin] += int(row.amount_cents)
                        explained += int(row.amount_cents)
                if cents - explained:
                    links.append((pool, target, cents - explained, run_id))
            for center, cents in sorted(passed_on.items()):
                links.append((pool, service_node(center), cents - rules_into_service.get(center, 0), run_id))
    link_frame = pd.DataFrame(links, columns=LINK_COLUMNS)
    link_frame = link_frame.groupby(["source", "target", "run_id"], as_index=False, sort=False)["cents"].sum()[LINK_COLUMNS]
    node_frame = pd.DataFrame(list(nodes.values()), columns=NODE_COLUMNS)
    return node_frame, link_frame


def anchor(kind: str, value: object) -> str:
    """A stable HTML id for a run, entry, document, cost object or source listing."""
    text = str(value)
    safe = "".join(c if c.isalnum() or c in "-_." else f"_{ord(c):x}_" for c in text)
    return f"{kind}-{safe}"
