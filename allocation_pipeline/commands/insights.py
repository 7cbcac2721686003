"""`allocation analyze`, `allocation recommend` and `allocation whatif`: driver analysis of a pool,
a reviewed rule change written from its recommendation, and what-if scenarios stored by name.

All three read the extracts and the rules file the way `allocation preview` does (cleaned as the
pipeline cleans them). `analyze` writes nothing; `recommend --apply` writes only the rules file;
`whatif` writes only the tables whatif_scenarios and whatif_results (never runs or journals).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import pandas as pd
import yaml

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError, did_you_mean
from allocation_pipeline.commands.preview import PERIOD_RE

_FILES_HELP = {
    "extracts": f"extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts)",
    "rules": f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    analyze = subparsers.add_parser(
        "analyze",
        help="driver analysis of a pool: correlations, weights, fit and a recommended key; writes nothing",
        description="Measure each candidate driver of an insights pool (the `insights:` section of the rules file) "
        "against the pool's observed consumption over the months up to PERIOD: correlation, non-negative weights "
        "for a multi-driver key, R2 and leave-one-period-out error; recommend a single driver or a weighted key with "
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


def _file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--extracts", metavar="DIR", help=_FILES_HELP["extracts"])
    parser.add_argument("--rules", metavar="FILE", help=_FILES_HELP["rules"])


# --- commands -----------------------------------------------------------------------------------


def _analyze(args: argparse.Namespace) -> int:
    context = _Context.load(args, args.pool)
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

    context = _Context.load(args, args.rule)
    report = context.report(context.pool(args.rule))
    print(report.analysis.report())
    if report.analysis.recommendation is None:
        raise CommandError(f"no recommendation for {args.rule} in {args.period}: too little data (see above); nothing written")
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
    from allocation_pipeline.core.insights.whatif import ScenarioError, load_scenario, run_scenario

    _check_period(args.period)
    try:
        scenario = load_scenario(args.scenario, args.name)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    rules_path = args.rules or settings.rules_file()
    document = _rules_document(rules_path)
    inputs, _ = _read_extracts(args.extracts or settings.extracts_dir(), args.period, document)
    try:
        result = run_scenario(inputs, scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
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


# --- reading ------------------------------------------------------------------------------------


class _Context:
    """The period's inputs, the rules and insights configuration, and the driver history."""

    def __init__(self, period, rules_path, rule_set, config, inputs, history):
        self.period = period
        self.rules_path = rules_path
        self.rule_set = rule_set
        self.config = config
        self.inputs = inputs
        self.history = history

    @classmethod
    def load(cls, args: argparse.Namespace, pool_id: str | None = None) -> "_Context":
        """Everything an analysis needs; a pool id that is not configured fails before any extract is read."""
        from allocation_pipeline.core.insights.config import InsightsConfigError, parse_insights
        from allocation_pipeline.core.methods import MethodError
        from allocation_pipeline.core.rules import RulesError, parse_rules

        _check_period(args.period)
        rules_path = args.rules or settings.rules_file()
        document = _rules_document(rules_path)
        try:
            rule_set = parse_rules(document, rules_path, _methods())
            config = parse_insights(document, rules_path)
        except (RulesError, InsightsConfigError, MethodError) as exc:
            raise CommandError(str(exc)) from None
        if pool_id is not None:
            try:
                config.pool(pool_id)
            except InsightsConfigError as exc:
                raise CommandError(f"{exc}{did_you_mean(pool_id, [p.id for p in config.pools])}") from None
        inputs, history = _read_extracts(args.extracts or settings.extracts_dir(), args.period, document, config)
        return cls(args.period, rules_path, rule_set, config, inputs, history)

    def pool(self, pool_id: str):
        return self.config.pool(pool_id)

    def report(self, pool):
        from allocation_pipeline.core.insights.recommend import RecommendationError, analyse_pool

        try:
            return analyse_pool(self.period, pool, self.rule_set, self.config, self.history, self.inputs, _methods())
        except RecommendationError as exc:
            raise CommandError(str(exc)) from None


def _methods():
    from allocation_pipeline.core.methods import available_methods

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
    """The period's inputs cleaned as the pipeline cleans them (quarantined rows left out), and,
    with an insights `config`, the driver values of its analysis window (hours only when a pool
    names them: timesheets are one file per month)."""
    from allocation_pipeline.core.allocation import gl_balances
    from allocation_pipeline.core.cleaning import EXTRACT_SPECS, clean_extract
    from allocation_pipeline.core.drivers import DriverError, compute_driver_values
    from allocation_pipeline.core.extracts import ExtractError, read_extract
    from allocation_pipeline.core.insights.config import shift_period
    from allocation_pipeline.core.insights.whatif import PeriodInputs

    def clean(name: str, references: dict | None = None, wanted: str | None = None) -> pd.DataFrame:
        spec = EXTRACT_SPECS[name]
        required, optional = spec.file_columns()
        return clean_extract(read_extract(extracts, name, required, optional, period=wanted), spec, references, period=wanted).kept

    try:
        entities = clean("entities")
        accounts = clean("accounts")
        cost_centers = clean("cost_centers", {"entity": entities["entity"]})
        references = {"entity": entities["entity"], "account": accounts["account"], "cost center": cost_centers["cost_center"]}
        gl_lines = clean("gl_lines", references, period)
        headcount = clean("headcount", references)
        usage = clean("usage_metrics", references)
        current = compute_driver_values(period, headcount, clean("timesheets", references, period), usage)
        frames = [current]
        if config is not None:
            first = shift_period(period, -(config.history_periods - 1))
            needs_hours = any("hours" in p.candidates or p.consumption == "hours" for p in config.pools)
            earlier = sorted(p for p in set(headcount["period"]) | set(usage["period"]) if first <= p < period)
            for month in earlier:
                sheets = clean("timesheets", references, month) if needs_hours else _NO_TIMESHEETS
                frames.append(compute_driver_values(month, headcount, sheets, usage))
    except (ExtractError, DriverError) as exc:
        raise CommandError(str(exc)) from None
    inputs = PeriodInputs(period, gl_balances(gl_lines), current, cost_centers, entities, document)
    return inputs, pd.concat(frames, ignore_index=True)


_NO_TIMESHEETS = pd.DataFrame(
    {"period": pd.Series(dtype=str), "cost_center": pd.Series(dtype=str), "activity": pd.Series(dtype=str), "hours": pd.Series(dtype=float)}
)
