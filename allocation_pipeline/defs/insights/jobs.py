"""The what-if job: one scenario applied to a materialized fiscal month, stored by name; posts nothing."""

from typing import Optional

import dagster as dg
import yaml

from allocation_pipeline.core.insights.whatif import PeriodInputs, ScenarioError, load_scenario, parse_scenario, run_scenario
from allocation_pipeline.core.money import format_money
from allocation_pipeline.defs.metadata import markdown_table
from allocation_pipeline.defs.resources import RulesResource, WarehouseResource
from allocation_pipeline.warehouse import insights_store as store


class WhatIfConfig(dg.Config):
    """The month (YYYY-MM) and the scenario: a file path, or the scenario's YAML itself; `name`
    overrides the scenario's own name."""

    period: str
    scenario_file: Optional[str] = None
    scenario_yaml: Optional[str] = None
    name: Optional[str] = None


@dg.op(description="Run one what-if scenario against a materialized month and store it (whatif_scenarios, whatif_results).")
def run_whatif_scenario(context: dg.OpExecutionContext, config: WhatIfConfig, warehouse: WarehouseResource, rules: RulesResource) -> dg.Output[str]:
    try:
        if bool(config.scenario_file) == bool(config.scenario_yaml):
            raise ScenarioError("give either scenario_file or scenario_yaml")
        if config.scenario_file:
            scenario = load_scenario(config.scenario_file, config.name)
        else:
            scenario = parse_scenario(yaml.safe_load(config.scenario_yaml) or {}, "scenario_yaml", name=config.name, text=config.scenario_yaml)
        with open(rules.path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        engine = warehouse.get_engine()
        with engine.connect() as conn:
            balances = store.gl_balances_of(conn, config.period)
            drivers = store.driver_history(conn, config.period, config.period)
            cost_centers, entities, _ = store.master_data(conn)
        if balances.empty:
            raise ScenarioError(f"no GL lines of {config.period} in the warehouse: materialize the month first")
        result = run_scenario(PeriodInputs(config.period, balances, drivers, cost_centers, entities, document), scenario)
    except (ScenarioError, yaml.YAMLError, OSError) as exc:
        raise dg.Failure(description=f"what-if for {config.period} failed, nothing stored: {exc}") from exc
    with engine.begin() as conn:
        store.store_scenario(conn, result, context.run.run_id)
    context.log.info(result.report())
    by_object = result.by_cost_object()
    shown = by_object.assign(**{c: [format_money(v) for v in by_object[f"{c}_cents"]] for c in ("baseline", "scenario", "difference")})
    return dg.Output(
        scenario.name,
        metadata={
            "scenario": dg.MetadataValue.text(scenario.name),
            "period": dg.MetadataValue.text(config.period),
            "changes": dg.MetadataValue.md("\n".join(f"- {c}" for c in result.changes) or "_none: equals the baseline_"),
            "objects_changed": dg.MetadataValue.int(int((by_object["difference_cents"] != 0).sum())),
            "by_cost_object": markdown_table(shown[["entity", "cost_center", "currency", "baseline", "scenario", "difference"]]),
        },
    )


@dg.job(description="What-if scenario for one month, side by side with the baseline; stored by name, posts nothing. "
        "Run config ops.run_whatif_scenario.config {period, scenario_file or scenario_yaml, name}.")
def whatif_job():
    run_whatif_scenario()


defs = dg.Definitions(jobs=[whatif_job])
