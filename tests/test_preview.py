"""`allocation preview RULE --period P`: the lines one rule would create, with driver values,
shares, totals, notes and explanations, on the generated sample company, through the real
command-line entry point (in process); earlier rules run first; user errors exit 2 with one
message; and nothing is written anywhere (extracts, rules, data directory, warehouse).

Does not start Dagster or touch a warehouse; the allocation arithmetic is in test_methods.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from allocation_pipeline.cli import main
from allocation_pipeline.settings import DATA_DIR_ENV, EXTRACTS_DIR_ENV, RULES_FILE_ENV, WAREHOUSE_URL_ENV


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture
def company(sample_company: Path, tmp_path: Path, monkeypatch) -> Path:
    """The sample company, with the data directory and warehouse pointed at paths that must stay absent."""
    for name in (EXTRACTS_DIR_ENV, RULES_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(WAREHOUSE_URL_ENV, f"duckdb:///{tmp_path / 'data' / 'warehouse.duckdb'}")
    return sample_company


def preview(company: Path, *args: str) -> list[str]:
    return ["preview", *args, "--extracts", str(company / "extracts"), "--rules", str(company / "rules.yaml")]


def table_rows(out: str, role: str) -> list[list[str]]:
    """The printed lines of one role, split on whitespace."""
    return [cells for cells in (line.split() for line in out.splitlines()) if len(cells) > 2 and cells[0].isdigit() and cells[1] == role]


def add_rule(company: Path, rule: dict) -> None:
    path = company / "rules.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["rules"].append(rule)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def test_preview_prints_the_lines_and_writes_nothing(company, tmp_path, capsys):
    before = snapshot(company)
    assert main(preview(company, "it_overhead_split", "--period", "2026-10")) == 0
    out = capsys.readouterr().out
    assert "Preview of rule it_overhead_split (EE, 2026-10), method fixed_percentages; nothing is written" in out
    assert "Earlier rules applied first: none" in out
    assert "Pool: 10,000.00 EUR; 3 target line(s)" in out
    assert table_rows(out, "source") + table_rows(out, "target") == [
        ["1", "source", "69100", "EE-IT", "10,000.00"],
        ["2", "target", "69000", "EE-ENG", "6,000.00", "60.0000%"],
        ["3", "target", "69000", "EE-PRD", "2,500.00", "25.0000%"],
        ["4", "target", "69000", "EE-SAL", "1,500.00", "15.0000%"],
    ]
    assert "Totals: debit 10,000.00, credit 10,000.00 (balanced)" in out
    assert "     2  60.0000% of 10,000.00 by fixed percentages" in out
    assert snapshot(company) == before
    assert not (tmp_path / "data").exists()


def test_preview_shows_driver_values_and_reads_the_default_locations(company, monkeypatch, capsys):
    monkeypatch.setenv(EXTRACTS_DIR_ENV, str(company / "extracts"))
    monkeypatch.setenv(RULES_FILE_ENV, str(company / "rules.yaml"))
    assert main(["preview", "ee_facilities_by_floor_area", "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "Earlier rules applied first: it_overhead_split" in out
    header = next(line for line in out.splitlines() if line.startswith("line"))
    assert header.split() == ["line", "role", "account", "cost", "center", "product", "region", "debit", "credit", "driver", "driver", "value", "share"]
    targets = table_rows(out, "target")
    # line, role, account, cost center, debit, driver, driver value, share (product, region, credit blank)
    assert len(targets) == 11 and {t[5] for t in targets} == {"floor_area"}
    assert all(float(t[6].replace(",", "")) > 0 for t in targets)
    shares = sum(float(t[7].rstrip("%")) for t in targets)
    assert shares == pytest.approx(100, abs=0.01)
    assert "(balanced)" in out


def test_preview_runs_earlier_rules_first_so_a_later_rule_can_pool_their_allocation(company, capsys):
    add_rule(
        company,
        {
            "id": "product_costs_by_revenue", "entity": "EE", "order": 15,
            "source": {"accounts": ["69000"], "cost_centers": ["EE-PRD"]},
            "method": "product_of_shares",
            "parameters": {"product": {"method": "driver", "parameters": {"driver": "revenue"}}, "region": {"method": "even_split"}},
            "target": {"dimensions": ["product", "region"], "members": {"product": ["P-CORE", "P-EDGE"], "region": ["EMEA-NORDICS", "EMEA-BALTICS"]}},
            "accounts": {"credit": "69500", "debit": "69000"},
        },
    )
    before = snapshot(company)
    assert main(preview(company, "product_costs_by_revenue", "--period", "2026-10")) == 0
    out = capsys.readouterr().out
    assert "Earlier rules applied first: it_overhead_split" in out
    assert "Pool: 2,500.00 EUR; 4 target line(s)" in out  # EE-PRD's 25% of the IT split
    targets = table_rows(out, "target")
    assert [t[3:6] for t in targets] == [  # cost center, product, region
        ["EE-PRD", "P-CORE", "EMEA-NORDICS"], ["EE-PRD", "P-CORE", "EMEA-BALTICS"],
        ["EE-PRD", "P-EDGE", "EMEA-NORDICS"], ["EE-PRD", "P-EDGE", "EMEA-BALTICS"],
    ]
    assert sum(int(t[6].replace(",", "").replace(".", "")) for t in targets) == 250_000  # debits
    assert "by product P-CORE" in out and "x region EMEA-NORDICS 50.00% by even split" in out
    assert snapshot(company) == before


def test_an_empty_pool_is_reported_not_failed(company, capsys):
    add_rule(
        company,
        {"id": "nothing_here", "entity": "EE", "source": {"accounts": ["49000"]}, "method": "even_split",
         "target": {"members": ["EE-ENG"]}, "accounts": {"debit": "69000"}},
    )
    assert main(preview(company, "nothing_here", "--period", "2026-10")) == 0
    assert "Pool is empty in 2026-10: the rule makes no run." in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["no_such_rule", "--period", "2026-10"], "no rule 'no_such_rule' (rules: it_overhead_split, ee_facilities_by_floor_area, us_facilities_by_floor_area)"),
        (["it_overhead_split", "--period", "2026-13"], "period '2026-13' is not a fiscal month YYYY-MM"),
        (["it_overhead_split", "--period", "October"], "period 'October' is not a fiscal month YYYY-MM"),
        (["it_overhead_splt", "--period", "2026-10"], "no rule 'it_overhead_splt' (did you mean 'it_overhead_split'?)"),
        (["it_overhead_split", "--period", "2025-10"], "no file for period 2025-10 (found periods 2026-08, 2026-09, 2026-10)"),
    ],
)
def test_user_errors_exit_2_with_one_message(company, capsys, args, message):
    assert main(preview(company, *args)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("allocation preview: ") and message in captured.err
    assert "Traceback" not in captured.err


def test_a_rule_not_in_force_or_a_failing_earlier_rule_is_a_user_error(company, capsys):
    add_rule(
        company,
        {"id": "from_next_year", "entity": "EE", "source": {"accounts": ["64000"]}, "method": "even_split",
         "target": {"members": ["EE-ENG"]}, "accounts": {"debit": "69000"}, "effective": {"from": "2027-01"}},
    )
    assert main(preview(company, "from_next_year", "--period", "2026-10")) == 2
    assert "rule from_next_year is not in force in 2026-10 (effective from 2027-01 to open end)" in capsys.readouterr().err
    add_rule(
        company,
        {"id": "broken_driver", "entity": "EE", "order": 12, "source": {"accounts": ["62000-62100"], "cost_centers": ["EE-FAC"]},
         "method": "driver", "parameters": {"driver": "no_such_metric"}, "target": {"where": {"kind": "operating"}}, "accounts": {"debit": "69000"}},
    )
    assert main(preview(company, "ee_facilities_by_floor_area", "--period", "2026-10")) == 2
    err = capsys.readouterr().err
    assert "allocation of 2026-10 failed: rule broken_driver (EE, 2026-10): driver 'no_such_metric' totals zero over the targets in 2026-10" in err


def test_a_bad_rules_file_is_a_user_error(company, capsys):
    (company / "rules.yaml").write_text("rules:\n  - {id: x, entity: EE, method: even_split}\n", encoding="utf-8")
    assert main(preview(company, "x", "--period", "2026-10")) == 2
    err = capsys.readouterr().err
    assert "rule 'x': source: must be a mapping with 'accounts'" in err and "rule 'x': target: must be a mapping" in err


def test_preview_with_another_method_or_an_insights_pools_proposed_rule(company, capsys):
    weights = '{"weights": {"cloud_spend": 50, "app_licences": 30, "it_tickets": 20}}'
    assert main(preview(company, "us_corporate_it", "--period", "2026-10", "--method", "weighted_drivers", "--parameters", weights)) == 0
    out = capsys.readouterr().out
    assert "Preview of rule us_corporate_it (US, 2026-10), method weighted_drivers; nothing is written" in out
    assert "Earlier rules applied first: us_facilities_by_floor_area" in out and "Pool: 833,333.34 USD; 8 target line(s)" in out
    assert main(preview(company, "it_overhead_split", "--period", "2026-10", "--method", "driver", "--parameters", '{"driver": "headcount"}')) == 0
    assert {t[5] for t in table_rows(capsys.readouterr().out, "target")} == {"headcount"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["us_corporate_it"], "no rule 'us_corporate_it' yet; it is an insights pool: preview it with a method"),
        (["it_overhead_split", "--method", "driver", "--parameters", "{nope"], "--parameters is not valid JSON"),
        (["it_overhead_split", "--method", "driver", "--parameters", "[1]"], "--parameters must be a JSON object"),
        (["it_overhead_split", "--parameters", "{}"], "parameters are given without a method (--method)"),
        (["it_overhead_split", "--method", "even_split", "--parameters", '{"x": 1}'], "rule it_overhead_split with method even_split: parameters: even_split takes none (got x)"),
    ],
)
def test_preview_with_a_bad_method_says_why(company, capsys, args, message):
    assert main(preview(company, *args[:1], "--period", "2026-10", *args[1:])) == 2
    assert message in capsys.readouterr().err


def test_a_multilevel_entry_of_the_rules_file_is_previewed_after_the_rules_of_its_entity(company, capsys):
    before = snapshot(company)
    assert main(preview(company, "ee_service_centers", "--period", "2026-10")) == 0
    out = capsys.readouterr().out
    assert "Preview of multi-level entry ee_service_centers (EE, 2026-10), method reciprocal; nothing is written" in out
    assert "Rules applied first: it_overhead_split, ee_facilities_by_floor_area" in out
    sources, targets = table_rows(out, "source"), table_rows(out, "target")
    assert sources and targets
    assert {t[2] for t in targets} == {"69000"} and {s[2] for s in sources} == {"69600"}
    assert all(t[3].startswith("EE-") for t in targets)
    assert "(balanced)" in out
    assert "multi-level reciprocal: ends with" in out
    assert snapshot(company) == before
