"""Methods from other packages: a tiny distribution built under tmp_path (a module plus a
`*.dist-info` folder with METADATA and entry_points.txt, exactly what pip installs) is put on
sys.path, and the registry finds its method through the `allocation_pipeline.methods`
entry-point group; rules using it validate, allocate, and show up in the allocation_runs
metadata of a real Dagster materialization. Broken plugins are reported by name.

Nothing is installed into the environment: sys.path and sys.modules are restored after each test.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocation_pipeline.core.allocation.allocate import AllocationError, allocate_period, gl_balances
from allocation_pipeline.core.allocation.methods import BUILTIN_METHODS, MethodError, available_methods, get_method
from allocation_pipeline.core.allocation.rules import RulesError, load_rules, parse_rules

PLUGIN_MODULE = "tiny_allocation_plugin"
PLUGIN_SOURCE = '''
"""A third-party allocation method: the pool shared by the square of a driver."""

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.methods import AllocationMethod, MethodResult, ZeroDriverError, driver_array


class SquareDriver(AllocationMethod):
    """Square driver: shares by the square of a driver, favouring the heaviest users."""

    name = "square_driver"

    def check_parameters(self, parameters):
        return [] if isinstance(parameters.get("driver"), str) else ["parameters.driver: name the driver"]

    def weights(self, request):
        values = np.nan_to_num(driver_array(request, request.parameters["driver"]))
        if not values.sum() > 0:
            raise ZeroDriverError(request.parameters["driver"], request.period)
        return MethodResult(weights=pd.Series(values**2, index=list(request.targets)), driver=request.parameters["driver"] + " squared")


class NegativeWeights(AllocationMethod):
    """A broken method: it returns a negative weight."""

    name = "negative_weights"

    def weights(self, request):
        return MethodResult(weights=pd.Series(-1.0, index=list(request.targets)))


class NotAMethod:
    pass
'''


def install_distribution(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """Write the plugin module and a dist-info folder declaring `entry_points` under `site`."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{PLUGIN_MODULE}.py").write_text(textwrap.dedent(PLUGIN_SOURCE), encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n", encoding="utf-8")
    lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[allocation_pipeline.methods]\n{lines}\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A function installing a distribution on sys.path for this test only."""

    def install(entry_points: dict[str, str], name: str = "tiny-allocation-plugin") -> None:
        site = tmp_path / "site-packages"
        install_distribution(site, name, entry_points)
        monkeypatch.syspath_prepend(str(site))

    yield install
    sys.modules.pop(PLUGIN_MODULE, None)


ENTITIES = pd.DataFrame({"entity": ["EE"], "currency": ["EUR"]})
COST_CENTERS = pd.DataFrame({"cost_center": ["EE-IT", "A", "B", "C"], "entity": ["EE"] * 4, "kind": ["support"] + ["operating"] * 3, "active": [True] * 4})
GL = pd.DataFrame(
    [{"entity": "EE", "account": "64000", "cost_center": "EE-IT", "product": None, "region": None, "debit_cents": 100, "credit_cents": 0, "currency": "EUR"}]
)
DRIVERS = pd.DataFrame(
    {"period": ["2026-10"] * 3, "driver": ["tickets"] * 3, "dimension": ["cost_center"] * 3, "cost_object": ["A", "B", "C"], "value": [1.0, 2.0, 3.0]}
)


def plugin_rule(method: str = "square_driver", parameters=None) -> dict:
    return {
        "id": "squared", "entity": "EE", "source": {"accounts": ["64000"]}, "method": method,
        "parameters": {"driver": "tickets"} if parameters is None else parameters,
        "target": {"members": ["A", "B", "C"]}, "accounts": {"credit": "69100", "debit": "69000"},
    }


def test_an_installed_package_adds_a_method_that_rules_can_use(plugin_site):
    assert "square_driver" not in available_methods()
    plugin_site({"square_driver": f"{PLUGIN_MODULE}:SquareDriver"})
    methods = available_methods()
    builtins = [cls.name for cls in BUILTIN_METHODS]
    assert list(methods) == [*builtins, "square_driver"]
    with pytest.raises(MethodError, match=f"unknown method 'magic'; available: {', '.join(builtins)}, square_driver"):
        get_method("magic", methods)

    rules = parse_rules({"rules": [plugin_rule()]}, "rules.yaml", methods).rules
    (run,) = allocate_period("2026-10", list(rules), gl_balances(GL), DRIVERS, COST_CENTERS, ENTITIES).runs
    # Squares 1, 4, 9 of 14: quotas 7.14, 28.57, 64.29 cents -> 7, 29, 64.
    targets = run.lines[run.lines["role"] == "target"]
    assert dict(zip(targets["cost_center"], targets["debit_cents"])) == {"A": 7, "B": 29, "C": 64}
    assert set(targets["driver"]) == {"tickets squared"}
    assert run.total_debit_cents == run.total_credit_cents == 100


def test_a_plugin_checks_its_parameters_when_the_rules_load(plugin_site, tmp_path):
    plugin_site({"square_driver": f"{PLUGIN_MODULE}:SquareDriver"})
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {id: squared, entity: EE, source: {accounts: ['64000']}, method: square_driver,\n"
        "     target: {members: [A, B]}, accounts: {debit: '69000'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="rule 'squared': parameters.driver: name the driver"):
        load_rules(path)


def test_without_plugins_the_registry_holds_the_builtins_only():
    # Also shows the fixture restored sys.path when a plugin test ran earlier in this process.
    assert list(available_methods()) == [cls.name for cls in BUILTIN_METHODS]


def test_a_plugin_cannot_replace_a_builtin(plugin_site):
    plugin_site({"even_split": f"{PLUGIN_MODULE}:SquareDriver"})
    assert type(available_methods()["even_split"]).__module__ == "allocation_pipeline.core.allocation.methods"


@pytest.mark.parametrize(
    "target, message",
    [
        (f"{PLUGIN_MODULE}:NotAMethod", r"entry point broken \(tiny_allocation_plugin:NotAMethod\) is not an AllocationMethod"),
        (f"{PLUGIN_MODULE}:Missing", r"entry point broken \(tiny_allocation_plugin:Missing\) cannot be loaded: .*Missing"),
        ("no_such_module:Method", r"entry point broken \(no_such_module:Method\) cannot be loaded: No module named 'no_such_module'"),
    ],
)
def test_a_broken_plugin_is_named(plugin_site, target, message):
    plugin_site({"broken": target})
    with pytest.raises(MethodError, match=message):
        available_methods()


def test_a_plugin_returning_negative_weights_fails_its_rule(plugin_site):
    plugin_site({"negative_weights": f"{PLUGIN_MODULE}:NegativeWeights"})
    rules = parse_rules({"rules": [plugin_rule("negative_weights", {})]}, "rules.yaml", available_methods()).rules
    with pytest.raises(AllocationError, match=r"rule squared \(EE, 2026-10\): method negative_weights returned missing, negative or infinite weights"):
        allocate_period("2026-10", list(rules), gl_balances(GL), DRIVERS, COST_CENTERS, ENTITIES)


def test_a_plugin_rule_in_the_dagster_pipeline_shows_in_the_run_metadata(plugin_site, sample_company, reference_duckdb_url):
    """Only the rules change: the month's runs are made on a copy of the warehouse that holds its GL lines."""
    from allocation_pipeline.reporting import run_failures
    from tests.conftest import materialize
    from tests.test_pipeline import RUNS_ON_LOADED_GL

    plugin_site({"square_driver": f"{PLUGIN_MODULE}:SquareDriver"})
    rules = sample_company / "rules.yaml"
    document = yaml.safe_load(rules.read_text(encoding="utf-8"))
    document["rules"].append(
        {
            "id": "hr_by_squared_headcount", "description": "HR travel shared by the square of headcount.", "entity": "EE",
            "order": 40, "source": {"accounts": ["61000-61200"], "cost_centers": ["EE-HR"]}, "method": "square_driver",
            "parameters": {"driver": "headcount"}, "target": {"members": ["EE-ENG", "EE-PRD", "EE-SAL"]},
            "accounts": {"credit": "69300", "debit": "69000"},
        }
    )
    rules.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = materialize(sample_company, reference_duckdb_url, selection=RUNS_ON_LOADED_GL)
    assert result.success, run_failures(result)
    metadata = result.asset_materializations_for_node("allocation_runs")[0].metadata
    table = metadata["by_rule"].value
    header, _, *rows = table.splitlines()
    assert header == "| run_id | rule_id | entity | method | source | pool | targets | total | currency | notes |"
    (row,) = [r for r in rows if "hr_by_squared_headcount" in r]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:5] == ["square_driver", "61000-61200 @ EE-HR"]
    assert cells[6] == "3" and cells[5] == cells[7] and cells[8] == "EUR"
    it_row = [c.strip() for c in rows[0].strip("|").split("|")]
    assert it_row[1:8] == ["it_overhead_split", "EE", "fixed_percentages", "64000 @ EE-IT", "10,000.00", "3", "10,000.00"]
