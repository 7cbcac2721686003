"""Insight assets of the fiscal month: driver analysis, anomaly flags (with checks), profitability
and narratives, read from and written to the warehouse; the core does the work."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.allocation.allocate import AllocationError, resolve_targets
from allocation_pipeline.core.allocation.drivers import DriverError
from allocation_pipeline.core.sources.reader import ExtractReader
from allocation_pipeline.core.ingestion.extracts import ExtractError
from allocation_pipeline.core.insights.anomalies import Flag, allocations_from_lines, detect_flags, flags_frame
from allocation_pipeline.core.insights.config import InsightsConfig, InsightsConfigError, load_insights, pool_rule, shift_period
from allocation_pipeline.core.insights.driver_analysis import CONFIDENCE_COLUMNS, analyse_drivers
from allocation_pipeline.core.insights.history import driver_history
from allocation_pipeline.core.insights.forecast import forecast_all, forecasts_frame
from allocation_pipeline.core.insights.narrative import narratives
from allocation_pipeline.core.insights.profitability import allocated_net, profitability as profitability_table, unprofitable_flags
from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.allocation.rules import RulesError
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.partitions import fiscal_month_partitions, period_of
from allocation_pipeline.core.sources.config import SourcesError
from allocation_pipeline.defs.resources import EngineResource, ExtractsResource, RulesResource, WarehouseResource
from allocation_pipeline.defs.sources.resources import SourcesResource
from allocation_pipeline.warehouse import insights_store as store
from allocation_pipeline.warehouse.lines import timesheet_hours

# Months of history a forecast reads (ETS is seasonal from 24).
FORECAST_HISTORY = 36

# One check per flag kind on anomaly_flags. Blocking in the graph; a failing check blocks only
# when one of its flags is configured to block (`insights.blocking`), else it is a warning.
FLAG_CHECKS = {
    "consumption_gap": ("allocated_shares_match_consumption", "No target's allocated share is far from its share of observed consumption."),
    "peer_outlier": ("unit_costs_in_line_with_peers", "No target pays a cost per unit far from its peers' (median and MAD)."),
    "period_jump": ("no_unexplained_jumps", "No target's amount jumps against the previous period beyond the threshold."),
    "fit_drop": ("driver_fits_hold", "No rule's key follows consumption much less well than in earlier periods."),
    "confidence_drop": ("driver_keys_keep_their_confidence", "No rule's key loses confidence (permutation test) against its own history."),
}


def _config(rules: RulesResource) -> InsightsConfig:
    try:
        return load_insights(rules.path)
    except InsightsConfigError as exc:
        raise dg.Failure(description=str(exc)) from exc


def _rules_by_id(rules: RulesResource) -> dict:
    try:
        return {r.id: r for r in rules.load().rules}
    except RulesError as exc:
        raise dg.Failure(description=str(exc)) from exc


@dg.asset(
    group_name="insights", partitions_def=fiscal_month_partitions, deps=["driver_values", "cost_centers", "headcount", "usage_metrics", "timesheets"],
    kinds={"pandas", "scipy"},
)
def driver_analysis(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource, extracts: ExtractsResource, sources: SourcesResource,
    engine: EngineResource,
) -> dg.Output[pd.DataFrame]:
    """Driver analysis of every insights pool over the months up to this one: correlation, non-negative
    weights, fit, a confidence from a permutation test across units (driver_confidence) and a
    recommendation, or a plain statement that there is too little data or no driver explains the pool.
    The history is every month of the window the extracts hold, read by the same function as
    `allocation analyze` (core.insights.history), not only the months the warehouse has run."""
    period = period_of(context.partition_key)
    config = _config(rules)
    rule_set = rules.load()
    history, cost_centers = _extract_history("driver analysis", context.run.run_id, period, config, (warehouse, extracts, sources, engine))
    frame, confidence, reports = _analyse_pools(period, config, rule_set, history, cost_centers)
    with warehouse.get_engine().begin() as conn:
        store.replace_period(conn, "driver_analysis", frame, period)
        store.replace_period(conn, "driver_confidence", confidence, period)
    return dg.Output(frame, metadata=_analysis_metadata(config, history, frame, confidence, reports))


# The driver history last read, by (run, period, insights config): driver_analysis and anomaly_flags
# read the same history in one run, and where they run in one process (the embedded warehouse's
# in-process executor) the second takes it from the first instead of cleaning every month's
# extracts again. One entry: a new run replaces it.
_HISTORY: dict[tuple, tuple[pd.DataFrame, pd.DataFrame]] = {}


def _extract_history(
    step: str, run_id: str, period: str, config: InsightsConfig, resources: tuple
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The driver history of `period`'s analysis window as `allocation analyze` reads it
    (core.insights.history: every month the extracts hold, materialized or not), and the cost
    centers of the warehouse it was cleaned against; read once per run and process (see _HISTORY).
    A bad extract fails `step` naming it."""
    key = (run_id, period, repr(config))
    if key not in _HISTORY:
        read = _read_history(step, period, config, *resources)
        _HISTORY.clear()
        _HISTORY[key] = read
    history, cost_centers = _HISTORY[key]
    return history.copy(), cost_centers.copy()


def _read_history(
    step: str, period: str, config: InsightsConfig, warehouse: WarehouseResource, extracts: ExtractsResource, sources: SourcesResource,
    engine: EngineResource,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history read from the extracts, except the month's own timesheets: the timesheets asset
    cleaned them from the same sources against the same cost centers and stored them in the
    engine, so they are read from there (as driver_values reads them) instead of cleaned again."""
    with warehouse.get_engine().connect() as conn:
        cost_centers, _, _ = store.master_data(conn)
    references = {"cost center": cost_centers["cost_center"]}

    def clean(name: str, month: str | None) -> pd.DataFrame:
        if name == "timesheets" and month == period:
            return timesheet_hours(engine.get_lines(), period)
        return reader.clean(name, references, month, current=period).kept

    try:
        # A source read one month at a time (a FOCUS file pattern holding {period}) gives this
        # month alone as its history, said in the metadata by periods_in_history.
        reader = ExtractReader(sources.load(), extracts.directory)
        return driver_history(period, config, clean), cost_centers
    except (ExtractError, SourcesError, DriverError) as exc:
        raise dg.Failure(description=f"{step} of {period}: {exc}") from exc


def _analyse_pools(
    period: str, config: InsightsConfig, rule_set, history: pd.DataFrame, cost_centers: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Each insights pool's analysis over `history`: the driver_analysis rows, the driver_confidence
    rows and the printed reports. A pool whose rule or targets cannot be resolved fails the step."""
    frames, confidences, reports = [], [], []
    for pool in config.pools:
        try:
            rule = pool_rule(pool, rule_set)
            targets = resolve_targets(rule.target, cost_centers, rule.entity)
        except (InsightsConfigError, AllocationError) as exc:
            raise dg.Failure(description=f"insights pool {pool.id}: {exc}") from exc
        analysis = analyse_drivers(
            history, pool.consumption, pool.candidates, pool_id=pool.id, dimension=rule.target.dimension, targets=targets,
            min_periods=config.min_periods, settings=config.confidence,
        )
        frames.append(analysis.frame(period))
        confidences.append(analysis.confidence_frame(period))
        reports.append(analysis.report())
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    confidence = pd.concat(confidences, ignore_index=True) if confidences else pd.DataFrame(columns=CONFIDENCE_COLUMNS)
    return frame, confidence, reports


def _analysis_metadata(config: InsightsConfig, history: pd.DataFrame, frame: pd.DataFrame, confidence: pd.DataFrame, reports: list[str]) -> dict:
    """What the driver_analysis materialization shows: pools, months of history, a row per pool,
    the confidence of each and the printed analyses."""
    summary = frame.drop_duplicates("pool_id")[["pool_id", "status", "periods_used", "recommendation", "weighted_r2"]] if not frame.empty else frame
    return {
        "pools": dg.MetadataValue.int(len(config.pools)),
        "periods_in_history": dg.MetadataValue.int(history["period"].nunique()),
        "by_pool": markdown_table(summary),
        "confidence": markdown_table(confidence[["pool_id", "label", "p_value", "oos_r2", "all_units_r2", "proposed"]]),
        "analysis": dg.MetadataValue.md("\n\n".join(f"```\n{r}\n```" for r in reports) or "_no insights pools configured_"),
    }


@dg.asset(
    group_name="insights",
    partitions_def=fiscal_month_partitions,
    deps=["allocation_runs", "driver_values", "cost_centers", "headcount", "usage_metrics", "timesheets"],
    kinds={"pandas"},
    check_specs=[dg.AssetCheckSpec(name, asset="anomaly_flags", blocking=True, description=text) for name, text in FLAG_CHECKS.values()],
)
def anomaly_flags(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource, extracts: ExtractsResource, sources: SourcesResource,
    engine: EngineResource,
):
    """Anomaly flags of the month's rule runs: shares far from consumption, unit costs far from peers,
    jumps against the previous month, and keys whose fit or confidence dropped against the driver
    history `allocation analyze` reads (every month the extracts hold, not only those materialized);
    each with severity, figures and a sentence."""
    period = period_of(context.partition_key)
    config = _config(rules)
    by_id = _rules_by_id(rules)
    history, _ = _extract_history("anomaly flags", context.run.run_id, period, config, (warehouse, extracts, sources, engine))
    with warehouse.get_engine().connect() as conn:
        lines = store.rule_run_lines(conn, period)
        previous_lines = store.rule_run_lines(conn, shift_period(period, -1))
    flags = _month_flags(period, config, by_id, history, lines, previous_lines)
    with warehouse.get_engine().begin() as conn:
        store.store_flags(conn, period, flags)
    frame = flags_frame(flags)
    yield dg.Output(frame, metadata=_flags_metadata(frame, flags, lines))
    for kind, (check, _) in FLAG_CHECKS.items():
        yield _check_result(check, [f for f in flags if f.kind == kind])


def _month_flags(period: str, config: InsightsConfig, by_id: dict, history: pd.DataFrame, lines: pd.DataFrame, previous_lines: pd.DataFrame) -> list[Flag]:
    """The flags of the month's rule run lines against the previous month's and the driver history."""
    if lines.empty:
        return []
    previous = shift_period(period, -1)
    return detect_flags(
        period, allocations_from_lines(lines, by_id), history[history["period"] == period], config, by_id,
        previous=allocations_from_lines(previous_lines, by_id) if not previous_lines.empty else None,
        previous_driver_values=history[history["period"] == previous], history=history,
    )


def _flags_metadata(frame: pd.DataFrame, flags: list[Flag], lines: pd.DataFrame) -> dict:
    """What the anomaly_flags materialization shows: counts, runs checked, flags by kind and the list."""
    return {
        "flags": dg.MetadataValue.int(len(flags)),
        "blocking": dg.MetadataValue.int(sum(f.blocking for f in flags)),
        "runs_checked": dg.MetadataValue.int(lines["run_id"].nunique() if not lines.empty else 0),
        "by_kind": markdown_table(frame.groupby(["kind", "severity"]).size().reset_index(name="flags") if not frame.empty else frame),
        "flag_list": markdown_table(frame[["severity", "kind", "rule_id", "cost_object", "message"]] if not frame.empty else frame),
    }


@dg.asset(
    group_name="insights",
    partitions_def=fiscal_month_partitions,
    deps=["allocation_runs", "multilevel_allocation", "gl_lines", "accounts"],
    kinds={"pandas"},
    check_specs=[
        dg.AssetCheckSpec(
            "allocation_leaves_objects_profitable", asset="profitability", blocking=True,
            description="No cost center with revenue turns from profit to loss through allocated cost.",
        )
    ],
)
def profitability(context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource):
    """Profitability after allocation per cost center with revenue: revenue, direct cost, allocated cost
    (every run of the month, multi-level included), margin; cost centers that allocation turns unprofitable."""
    period = period_of(context.partition_key)
    config = _config(rules)
    with warehouse.get_engine().connect() as conn:
        balances = store.gl_balances_of(conn, period)
        _, entities, accounts = store.master_data(conn)
        lines = store.all_run_lines(conn, period)
    table = profitability_table(period, balances, accounts, allocated_net(lines), entities)
    flags = unprofitable_flags(table, config)
    with warehouse.get_engine().begin() as conn:
        store.replace_period(conn, "profitability", table, period)
    yield dg.Output(table, metadata=_profitability_metadata(table, flags))
    yield _check_result("allocation_leaves_objects_profitable", flags)


def _profitability_metadata(table: pd.DataFrame, flags: list[Flag]) -> dict:
    """Cost centers with revenue, how many allocation turned unprofitable, and the table in money."""
    money = ("revenue_cents", "direct_cost_cents", "allocated_cost_cents", "margin_cents")
    shown = table.assign(**{c.removesuffix("_cents"): [format_money(v) for v in table[c]] for c in money})[
        ["entity", "cost_center", "currency", "revenue", "direct_cost", "allocated_cost", "margin", "margin_percent", "turned_unprofitable"]
    ]
    return {
        "cost_centers_with_revenue": dg.MetadataValue.int(len(table)),
        "turned_unprofitable": dg.MetadataValue.int(len(flags)),
        "by_cost_center": markdown_table(shown),
    }


@dg.asset(group_name="insights", partitions_def=fiscal_month_partitions, deps=["anomaly_flags", "profitability"], kinds={"pandas"})
def allocation_narratives(context: dg.AssetExecutionContext, warehouse: WarehouseResource, rules: RulesResource) -> dg.Output[pd.DataFrame]:
    """The month's allocation explained in sentences, for the month and for each rule: amounts, methods and
    drivers, largest receivers, largest changes against the previous month and why, flags, profitability."""
    period = period_of(context.partition_key)
    frame = _month_narratives(period, _config(rules), _rules_by_id(rules), warehouse)
    with warehouse.get_engine().begin() as conn:
        store.replace_period(conn, "narratives", frame.rename(columns={"text": "narrative"}), period)
    return dg.Output(frame, metadata=_narrative_metadata(frame))


def _month_narratives(period: str, config: InsightsConfig, by_id: dict, warehouse: WarehouseResource) -> pd.DataFrame:
    """The narratives of `period` (scope, rule_id, entity, text) from what the warehouse holds for it
    and the previous month: run lines, driver values, stored flags and profitability."""
    previous = shift_period(period, -1)
    with warehouse.get_engine().connect() as conn:
        lines = store.rule_run_lines(conn, period)
        previous_lines = store.rule_run_lines(conn, previous)
        values = store.driver_history(conn, previous, period)
        flags = store.period_flags(conn, period)
        table = store.period_profitability(conn, period)
    if not table.empty:
        flags += unprofitable_flags(table, config)
    return narratives(
        period, lines, by_id, values[values["period"] == period], flags, previous, previous_lines,
        values[values["period"] == previous], table if not table.empty else None,
    )


def _narrative_metadata(frame: pd.DataFrame) -> dict:
    """The month's narrative, how many rules have one, and each rule's."""
    return {
        "period_narrative": dg.MetadataValue.md(frame["text"].iloc[0]),
        "rules": dg.MetadataValue.int(int((frame["scope"] == "rule").sum())),
        "by_rule": dg.MetadataValue.md("\n\n".join(f"**{r.rule_id}** ({r.entity}): {r.text}" for r in frame.iloc[1:].itertuples()) or "_no runs_"),
    }


class ForecastConfig(dg.Config):
    """How many months after the partition's month to forecast, and the prediction interval level."""

    periods: int = 3
    level: float = 0.8


@dg.asset(group_name="insights", partitions_def=fiscal_month_partitions, deps=["allocation_runs", "driver_values"], kinds={"statsmodels"})
def allocation_forecasts(context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: WarehouseResource) -> dg.Output[pd.DataFrame]:
    """The next months of each pool, driver and cost object's allocated cost after this month, by
    exponential smoothing with prediction intervals, each with its backtest error (table forecasts)."""
    period = period_of(context.partition_key)
    first = shift_period(period, -(FORECAST_HISTORY - 1))
    with warehouse.get_engine().connect() as conn:
        allocated = store.allocated_history(conn, first, period)
        drivers = store.driver_history(conn, first, period)
    forecasts = forecast_all(allocated, drivers, config.periods, config.level)
    frame = forecasts_frame(forecasts, period)
    with warehouse.get_engine().begin() as conn:
        store.store_forecasts(conn, period, frame)
    return dg.Output(frame, metadata=_forecast_metadata(forecasts, frame))


def _forecast_metadata(forecasts: list, frame: pd.DataFrame) -> dict:
    """How many series were forecast (and how many had no history), the pools' forecasts and their sentences."""
    pools = frame[frame["kind"] == "pool"][["series", "entity", "period", "mean", "lower", "upper", "backtest_mape"]]
    return {
        "series": dg.MetadataValue.int(len(forecasts)),
        "forecast_without_history": dg.MetadataValue.int(sum(f.forecast.empty for f in forecasts)),
        "pools": markdown_table(pools),
        "sentences": dg.MetadataValue.md("\n".join(f"- {f.sentence}" for f in forecasts if f.kind == "pool") or "_no pools_"),
    }


def _check_result(check: str, flags: list[Flag]) -> dg.AssetCheckResult:
    """Passes without flags; fails as a warning, or as an error (blocking) when a flag is configured to block."""
    blocking = [f for f in flags if f.blocking]
    return dg.AssetCheckResult(
        check_name=check,
        passed=not flags,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={
            "flags": dg.MetadataValue.int(len(flags)),
            "blocking_flags": dg.MetadataValue.int(len(blocking)),
            "high": dg.MetadataValue.int(sum(f.severity == "high" for f in flags)),
            "details": dg.MetadataValue.md("\n".join(f"- [{f.severity}] {f.message}" for f in flags) or "_none_"),
        },
    )


defs = dg.Definitions(assets=[driver_analysis, anomaly_flags, profitability, allocation_narratives, allocation_forecasts])
