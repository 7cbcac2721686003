"""`allocation analyze`, `allocation recommend`, `allocation whatif` and `allocation forecast`: driver
analysis of a pool with its confidence, a reviewed rule change written from a confident
recommendation, what-if scenarios stored by name, and forecasts of the next months.

All three read the extracts and the rules file the way `allocation preview` does (cleaned as the
pipeline cleans them). `analyze` writes nothing; `recommend --apply` writes only the rules file;
`whatif` writes only the tables whatif_scenarios and whatif_results (never runs or journals);
`forecast` reads the warehouse and writes only the table forecasts.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import yaml

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.commands.preview import PERIOD_RE

_FILES_HELP = {
    "extracts": f"extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts; extracts that ${settings.SOURCES_FILE_ENV} names are read from their sources)",
    "rules": f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    analyze = subparsers.add_parser(
        "analyze",
        help="driver analysis of a pool: correlations, weights, fit and a recommended key; writes nothing",
        description="Measure each candidate driver of an insights pool (the `insights:` section of the rules file) "
        "against the pool's observed consumption over the months up to PERIOD: correlation, non-negative weights "
        "for a multi-driver key, R2 and leave-one-period-out error; a confidence label (strong, moderate, weak, none) "
        "from a leave-one-unit-out fit and a permutation test (consumption shuffled across units, fixed seed); recommend a single driver or a weighted key with "
        "its reasons; allocate PERIOD's pool by it (and by the rule as it stands) and name the cost objects that "
        "over- or under-consume relative to what they are charged. Nothing is written.",
    )
    analyze.add_argument("--period", required=True, metavar="YYYY-MM", help="the last month of the analysis")
    analyze.add_argument("--pool", metavar="RULE", help="one pool (a rule id, or the id of the rule to add); default: every pool")
    _file_options(analyze)
    analyze.set_defaults(func=_analyze)

    recommend = subparsers.add_parser(
        "recommend",
        help="the recommended key of a pool; with --apply, write it into the rules file for review",
        description="Compute a pool's recommendation as `analyze` does. With --apply, write it into the rules file: "
        "a pool no rule allocates yet gets a new rule (approval as its proposal says); an existing rule gets a "
        "commented proposal block under it and keeps its method until you edit it. Nothing switches silently.",
    )
    recommend.add_argument("--period", required=True, metavar="YYYY-MM", help="the last month of the analysis")
    recommend.add_argument("--rule", required=True, metavar="RULE", help="the pool's rule id (or the id of the rule to add)")
    recommend.add_argument("--apply", action="store_true", help="write the change into the rules file (default: only show it)")
    _file_options(recommend)
    recommend.set_defaults(func=_recommend)

    whatif = subparsers.add_parser(
        "whatif",
        help="allocate a month with rule or driver changes, side by side with the baseline; stored by name, posts nothing",
        description="Apply a scenario (YAML: rule changes, new or removed rules, driver moves/sets/scales, new cost "
        "centers) to PERIOD's allocation, print baseline and scenario per cost object with the differences, and store "
        "it as a named scenario in the warehouse (whatif_scenarios, whatif_results). Never writes allocation runs or "
        "journal tables.",
    )
    whatif.add_argument("--period", required=True, metavar="YYYY-MM", help="the fiscal month")
    whatif.add_argument("--scenario", required=True, metavar="FILE", help="the scenario (YAML)")
    whatif.add_argument("--name", help="store under this name (default: the scenario's `name`, else the file name)")
    whatif.add_argument("--no-store", action="store_true", help="print only; store nothing")
    _file_options(whatif)
    whatif.set_defaults(func=_whatif)

    forecast = subparsers.add_parser(
        "forecast",
        help="next months of each pool, driver and cost object's allocated cost, with intervals and a backtest",
        description="Forecast the next N months after --last (default: the latest month with allocation runs in the "
        "warehouse) of each pool (what a rule allocates), each driver's total and each cost object's allocated cost, "
        "by statsmodels exponential smoothing (ETS; seasonal from 24 months of history), with prediction intervals; "
        "each series is backtested on its last months and the error is shown next to its forecast. Stored in the "
        "warehouse table forecasts (replacing forecasts made after the same month). With --whatif, a scenario is "
        "applied to a forecast month (the last month's inputs moved to the forecast) and printed, not stored.",
    )
    forecast.add_argument("--periods", type=int, default=3, metavar="N", help="months to forecast (default 3)")
    forecast.add_argument("--last", metavar="YYYY-MM", help="the last actual month (default: the latest with allocation runs)")
    forecast.add_argument("--history", type=int, default=36, metavar="MONTHS", help="months of history read (default 36)")
    forecast.add_argument("--level", type=float, default=0.8, help="prediction interval level (default 0.8)")
    forecast.add_argument("--kind", choices=("pool", "driver", "cost_object"), action="append", help="only these series (repeatable)")
    forecast.add_argument("--no-store", action="store_true", help="print only; store nothing")
    forecast.add_argument("--whatif", metavar="FILE", help="apply this scenario (YAML, as for `allocation whatif`) to a forecast month")
    forecast.add_argument("--month", metavar="YYYY-MM", help="the forecast month for --whatif (default: the first)")
    _file_options(forecast)
    forecast.set_defaults(func=_forecast)


def _file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--extracts", metavar="DIR", help=_FILES_HELP["extracts"])
    parser.add_argument("--rules", metavar="FILE", help=_FILES_HELP["rules"])


# --- commands -----------------------------------------------------------------------------------


def _analyze(args: argparse.Namespace) -> int:
    context = AnalysisContext.load(args.period, args.rules, args.extracts, args.pool)
    pools = [context.pool(args.pool)] if args.pool else list(context.config.pools)
    if not pools:
        raise CommandError(f"{context.rules_path}: no insights pools configured (add an `insights: pools:` section)")
    for i, pool in enumerate(pools):
        if i:
            print()
        print(context.report(pool).report())
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from allocation_pipeline.core.insights.recommend import RecommendationError, apply_recommendation

    context = AnalysisContext.load(args.period, args.rules, args.extracts, args.rule)
    report = context.report(context.pool(args.rule))
    print(report.analysis.report())
    if report.analysis.recommendation is None:
        why = "no driver explains this pool" if report.analysis.status == "no_evidence" else "too little data"
        raise CommandError(f"no recommendation for {args.rule} in {args.period}: {why} (see above); nothing written")
    if not report.analysis.recommendation.confident:
        message = (
            f"the recommendation for {args.rule} in {args.period} has {report.analysis.recommendation.confidence} evidence; "
            "only strong or moderate evidence is written into the rules"
        )
        if args.apply:
            raise CommandError(message + "; nothing written")
        print(f"\nNothing to write: {message}.")
        return 0
    path = Path(context.rules_path)
    text = path.read_text(encoding="utf-8")
    try:
        new_text, message = apply_recommendation(text, report, datetime.date.today().isoformat())
    except RecommendationError as exc:
        raise CommandError(str(exc)) from None
    print()
    if new_text == text:
        print(f"Nothing to write: {message}.".replace("; nothing written.", "."))
    elif args.apply:
        path.write_text(new_text, encoding="utf-8")
        print(f"{path}: {message}.")
    else:
        print(f"Not applied (run again with --apply to write it): would have {message}.")
    return 0


def _whatif(args: argparse.Namespace) -> int:
    from allocation_pipeline.core.insights.whatif import ScenarioError, load_scenario

    _check_period(args.period)
    try:
        scenario = load_scenario(args.scenario, args.name)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    result = run_whatif(args.period, scenario, args.rules, args.extracts)
    print(result.report())
    if args.no_store:
        print("\nNot stored (--no-store).")
        return 0
    from allocation_pipeline.warehouse.engine import describe, ensure_schema, make_engine
    from allocation_pipeline.warehouse.insights_store import store_scenario

    url = settings.warehouse_url()
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            store_scenario(conn, result)
    finally:
        engine.dispose()
    print(f"\nStored as scenario '{scenario.name}' for {args.period} in {describe(url)} (whatif_scenarios, whatif_results); nothing was posted.")
    return 0


def run_whatif(period: str, scenario, rules_path: str | None = None, extracts: str | None = None):
    """A scenario's allocation of `period` side by side with the baseline (a ScenarioResult);
    nothing is stored or posted. User errors raise CommandError."""
    from allocation_pipeline.core.insights.whatif import ScenarioError, run_scenario

    _check_period(period)
    document = _rules_document(rules_path or settings.rules_file())
    inputs, _ = _read_extracts(extracts or settings.extracts_dir(), period, document)
    try:
        return run_scenario(inputs, scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None


def _forecast(args: argparse.Namespace) -> int:
    from allocation_pipeline.core.insights.config import shift_period
    from allocation_pipeline.core.insights.forecast import forecast_all, forecasts_frame
    from allocation_pipeline.core.money import format_money
    from allocation_pipeline.warehouse.engine import describe, ensure_schema, make_engine
    from allocation_pipeline.warehouse.insights_store import allocated_history, driver_history, store_forecasts

    if not 1 <= args.periods <= 36:
        raise CommandError(f"--periods {args.periods}: forecast between 1 and 36 months")
    if not 0.5 <= args.level < 1:
        raise CommandError(f"--level {args.level}: give a prediction interval level from 0.5 to below 1, e.g. 0.8")
    if args.last:
        _check_period(args.last)
    url = settings.warehouse_url()
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as conn:
            everything = allocated_history(conn, "0000-01", args.last or "9999-12")
            last = args.last or (max(everything["period"]) if not everything.empty else None)
            if last is None:
                raise CommandError(f"no allocation runs in {describe(url)}: run some months first (allocation run)")
            first = shift_period(last, -(args.history - 1))
            allocated = everything[everything["period"] >= first] if not everything.empty else everything
            drivers = driver_history(conn, first, last)
        kinds = set(args.kind or ("pool", "driver", "cost_object"))
        forecasts = [
            f for f in forecast_all(allocated if kinds & {"pool", "cost_object"} else allocated.iloc[0:0],
                                    drivers if "driver" in kinds else drivers.iloc[0:0], args.periods, args.level)
            if f.kind in kinds
        ]
        if not forecasts:
            raise CommandError(f"nothing to forecast up to {last}: no allocation runs or driver values in {describe(url)}")
        if not args.no_store:
            with engine.begin() as conn:
                store_forecasts(conn, last, forecasts_frame(forecasts, last))
    finally:
        engine.dispose()
    months = [shift_period(last, k) for k in range(1, args.periods + 1)]
    print(f"Forecast of {', '.join(months)} from history up to {last} ({args.level:.0%} prediction intervals):")
    for f in forecasts:
        money = f.kind != "driver"
        show = (lambda v: format_money(int(round(v)))) if money else (lambda v: f"{v:,.2f}")
        where = f" ({f.entity}, {f.currency})" if f.entity else ""
        print(f"  {f.kind} {f.series}{where}, {f.model}, {len(f.history)} months:")
        for row in f.forecast.itertuples(index=False):
            print(f"    {row.period}  {show(row.mean):>16}  [{show(row.lower)} to {show(row.upper)}]")
        if f.backtest_periods:
            error = f"{f.backtest_mape:.1f}%" if f.backtest_mape is not None else "n/a (a zero month)"
            print(f"    backtest on the last {f.backtest_periods} month(s): error {error}, mean absolute {show(f.backtest_mae)}, "
                  f"{f.backtest_inside} of {f.backtest_periods} inside the interval")
        print(f"    {f.sentence}")
    if not args.no_store:
        print(f"Stored {len(forecasts)} series in {describe(url)} (forecasts, made after {last}).")
    if args.whatif:
        _forecast_whatif(args, last, months, forecasts)
    return 0


def _forecast_whatif(args: argparse.Namespace, last: str, months: list[str], forecasts) -> None:
    from allocation_pipeline.core.insights.forecast import forecast_month_inputs
    from allocation_pipeline.core.insights.whatif import ScenarioError, load_scenario, run_scenario

    month = args.month or months[0]
    if month not in months:
        raise CommandError(f"--month {month} is not one of the forecast months ({', '.join(months)})")
    try:
        scenario = load_scenario(args.whatif)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    document = _rules_document(args.rules or settings.rules_file())
    inputs, _ = _read_extracts(args.extracts or settings.extracts_dir(), last, document)
    moved, assumptions = forecast_month_inputs(inputs, forecasts, month)
    try:
        result = run_scenario(moved, scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    print()
    print(f"What-if '{scenario.name}' on forecast month {month}, built from {last}'s inputs: " + "; ".join(assumptions) + ".")
    print(result.report())
    print("Not stored: a forecast month's scenario is printed only.")


# --- reading ------------------------------------------------------------------------------------


class AnalysisContext:
    """The period's inputs, the rules and insights configuration, and the driver history."""

    def __init__(self, period, rules_path, rule_set, config, inputs, history):
        self.period = period
        self.rules_path = rules_path
        self.rule_set = rule_set
        self.config = config
        self.inputs = inputs
        self.history = history

    @classmethod
    def load(cls, period: str, rules: str | None = None, extracts: str | None = None, pool_id: str | None = None) -> "AnalysisContext":
        """Everything an analysis needs (default files from the settings); a pool id that is not
        configured fails before any extract is read. User errors raise CommandError."""
        from allocation_pipeline.config.problems import did_you_mean
        from allocation_pipeline.core.insights.config import InsightsConfigError

        _check_period(period)
        rules_path, document, rule_set, config = load_rules_and_insights(rules)
        try:
            if pool_id is not None:
                config.pool(pool_id)
        except InsightsConfigError as exc:
            message = f"{exc}{did_you_mean(pool_id, [p.id for p in config.pools], quoted=False)}" if pool_id is not None else str(exc)
            raise CommandError(message) from None
        inputs, history = _read_extracts(extracts or settings.extracts_dir(), period, document, config)
        return cls(period, rules_path, rule_set, config, inputs, history)

    def pool(self, pool_id: str):
        return self.config.pool(pool_id)

    def report(self, pool):
        """The pool's PoolReport: driver analysis, recommendation, allocation by both keys, flags."""
        from allocation_pipeline.core.insights.recommend import RecommendationError, analyse_pool

        try:
            return analyse_pool(self.period, pool, self.rule_set, self.config, self.history, self.inputs, _methods())
        except RecommendationError as exc:
            raise CommandError(str(exc)) from None


def load_rules_and_insights(rules: str | None = None):
    """The rules file (default from the settings): its path, parsed document, RuleSet and
    InsightsConfig. User errors raise CommandError."""
    from allocation_pipeline.core.insights.config import InsightsConfigError, parse_insights
    from allocation_pipeline.core.allocation.methods import MethodError
    from allocation_pipeline.core.allocation.rules import RulesError, parse_rules

    rules_path = rules or settings.rules_file()
    document = _rules_document(rules_path)
    try:
        return rules_path, document, parse_rules(document, rules_path, _methods()), parse_insights(document, rules_path)
    except (RulesError, InsightsConfigError, MethodError) as exc:
        raise CommandError(str(exc)) from None


def rule_of_pool(pool_id: str, rules: str | None = None):
    """The rule allocating a pool and whether the rules file has it: the rules file's rule of that
    id, else the rule an insights pool's proposal describes (a pool no rule allocates yet).
    CommandError when neither exists."""
    from allocation_pipeline.core.insights.config import InsightsConfigError, pool_rule

    rules_path, _, rule_set, config = load_rules_and_insights(rules)
    rule = next((r for r in rule_set.rules if r.id == pool_id), None)
    if rule is not None:
        return rule, True
    pool = config.pool_for_rule(pool_id)
    if pool is None:
        known = ", ".join([r.id for r in rule_set.rules] + [p.id for p in config.pools])
        raise CommandError(f"{rules_path}: no rule or insights pool '{pool_id}' (known: {known})")
    try:
        return pool_rule(pool, rule_set, _methods()), False
    except InsightsConfigError as exc:
        raise CommandError(str(exc)) from None


def _methods():
    from allocation_pipeline.core.allocation.methods import available_methods

    return available_methods()


def _check_period(period: str) -> None:
    if not PERIOD_RE.fullmatch(period or ""):
        raise CommandError(f"--period {period!r} is not a fiscal month YYYY-MM")


def _rules_document(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: rules file not found")
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise CommandError(f"{path}: expected a mapping with a 'rules' list")
    return document


def _read_extracts(extracts: str, period: str, document: dict, config=None):
    """The period's inputs read from the same sources and cleaned as the pipeline cleans them
    (quarantined rows left out), and, with an insights `config`, the driver values of its analysis
    window (hours only when a pool names them: timesheets are one file per month)."""
    from allocation_pipeline.core.allocation.allocate import gl_balances
    from allocation_pipeline.core.allocation.drivers import DriverError
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.insights.history import driver_history
    from allocation_pipeline.core.insights.whatif import PeriodInputs
    from allocation_pipeline.core.sources.config import SourcesError
    from allocation_pipeline.core.sources.reader import ExtractReader

    try:
        reader = ExtractReader.from_file(settings.sources_file(), extracts)
        entities = reader.clean("entities").kept
        accounts = reader.clean("accounts").kept
        cost_centers = reader.clean("cost_centers", {"entity": entities["entity"]}).kept
        references = {"entity": entities["entity"], "account": accounts["account"], "cost center": cost_centers["cost_center"]}
        gl_lines = reader.clean("gl_lines", references, period).kept
        history = driver_history(period, config, lambda name, month: reader.clean(name, references, month, current=period).kept)
    except (ExtractError, SourcesError, DriverError) as exc:
        raise CommandError(str(exc)) from None
    current = history[history["period"] == period].reset_index(drop=True)
    inputs = PeriodInputs(period, gl_balances(gl_lines), current, cost_centers, entities, document)
    return inputs, history

