"""The sources file: validation reporting every problem with its place, the resource's env var,
and the README's examples, each loaded and read against files or a database the test makes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from allocation_pipeline import settings
from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.sources.config import ExcelSource, FocusSource, SourcesError, SqlSource, load_sources, parse_sources
from allocation_pipeline.core.sources.reader import read_sourced_extract
from allocation_pipeline.defs.sources.resources import SourcesResource, sources_resource
from tests.sources_files import Charge, write_focus, write_workbook
from tests.test_sources_excel import HEADER, ROWS
from tests.test_sources_sql import _create_erp

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_examples() -> list[dict]:
    blocks = re.findall(r"```yaml\n(# sources.yaml\n.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


def test_every_problem_is_reported_at_once_with_its_place():
    document = {"sources": {
        "gl_lines": {"kind": "sql", "url": "postgresql://h/db", "table": "t", "query": "SELECT 1"},
        "headcount": {"kind": "excel", "workbook": "people.xls", "sheeet": "x"},
        "usage_metrics": [{"kind": "files"}, {"kind": "focus", "files": "b/*.csv", "cost": "Cost",
                                              "cost_center": {"by": "SubAccountId"}, "metrics": [{"name": "Cloud"}]}],
        "timesheets": {"kind": "excel", "workbook": "t.xlsx"},
        "payroll": {"kind": "files"},
        "accounts": {"kind": "xml"},
    }}
    with pytest.raises(SourcesError) as error:
        parse_sources(document, "sources.yaml")
    assert error.value.problems == [
        "sources.timesheets: kind excel is for the small extracts, not gl_lines, ap_invoices, timesheets",
        "sources.payroll: unknown extract (extracts: " + ", ".join(EXTRACT_SPECS) + ")",
        "sources.gl_lines: give exactly one of 'table' (a table or view, schema.name allowed) or 'query'",
        "sources.headcount.workbook: 'people.xls' is not an .xlsx workbook (save it as .xlsx; .xls and .ods are not read)",
        "sources.headcount.sheeet: unknown setting",
        "sources.usage_metrics[2].cost: Input should be 'EffectiveCost', 'BilledCost', 'ListCost' or 'ContractedCost'",
        "sources.usage_metrics[2].cost_center: 'by: SubAccountId' needs 'map' or 'map_file'",
        "sources.usage_metrics[2].metrics[1].name: metric name 'Cloud' must be lower case letters, digits and _ (e.g. cloud_spend)",
        "sources.accounts: kind must be one of files, sql, focus, excel",
    ]
    assert str(error.value).startswith("sources.yaml: \n  sources.timesheets:")


def test_a_missing_or_unparseable_file_and_a_document_without_sources(tmp_path):
    with pytest.raises(SourcesError, match="sources file not found"):
        load_sources(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("sources: [unclosed")
    with pytest.raises(SourcesError, match="not valid YAML"):
        load_sources(tmp_path / "bad.yaml")
    with pytest.raises(SourcesError, match="expected a mapping with a 'sources' mapping"):
        parse_sources({"gl_lines": {"kind": "files"}})


def test_the_resource_reads_files_without_a_sources_file_and_takes_the_env_var(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.SOURCES_FILE_ENV, raising=False)
    assert sources_resource().path == "" and SourcesResource().load() is None
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(_readme_examples()[3]))
    monkeypatch.setenv(settings.SOURCES_FILE_ENV, str(path))
    resource = sources_resource()
    import dagster as dg

    with dg.build_resources({"sources": resource}) as built:
        assert isinstance(built.sources.load().sources_of("headcount")[0], ExcelSource)
    # A resource made before the variable was set (definitions imported earlier) reads it when used.
    assert isinstance(SourcesResource().load().sources_of("headcount")[0], ExcelSource)


def test_the_readme_examples_load_and_read(tmp_path):
    sql, _, focus, excel = _readme_examples()  # the line extracts example: test_sources_lines
    assert [type(s) for s in parse_sources(sql).sources_of("gl_lines")] == [SqlSource]
    assert [type(s) for s in parse_sources(focus).sources_of("usage_metrics")][1] is FocusSource

    # SQL: the same tables in a DuckDB file instead of the ERP replica.
    url = f"duckdb:///{tmp_path / 'replica.duckdb'}"
    engine = _create_erp(url, schema="finance")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE finance.cost_centres (cc_code VARCHAR, cc_name VARCHAR, company VARCHAR, cc_kind VARCHAR, parent_code VARCHAR, is_active BOOLEAN)"))
        conn.execute(sa.text("INSERT INTO finance.cost_centres VALUES ('EE-IT', 'IT', 'EE', 'support', NULL, true), ('EE-SALES', 'Sales', 'EE', 'operating', NULL, false)"))
    engine.dispose()
    for source in sql["sources"].values():
        source["url"] = url
    config = parse_sources(sql)
    gl = _clean(config, tmp_path, "gl_lines", "2026-10")
    assert gl.rows_in == 4 and gl.rows_kept == 3
    centers = _clean(config, tmp_path, "cost_centers", None)
    assert centers.kept[["cost_center", "kind", "active"]].values.tolist() == [["EE-IT", "support", True], ["EE-SALES", "operating", False]]

    # FOCUS next to the usage file.
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    (extracts / "usage_metrics.csv").write_text("period,metric,dimension,cost_object,value\n2026-10,tickets,cost_center,EE-SALES,12\n")
    (extracts / "cloud_accounts.csv").write_text("SubAccountId,cost_center\n222222222222,EE-SALES\n")
    write_focus(extracts / "billing" / "2026-10" / "export.parquet", [
        Charge("Amazon EC2", "Compute", "111111111111", 10.0, {"cost_center": "EE-IT"}),
        Charge("Amazon RDS", "Databases", "222222222222", 5.0),
    ])
    usage = _clean(parse_sources(focus), extracts, "usage_metrics", "2026-10")
    assert sorted(zip(usage.kept["metric"], usage.kept["cost_object"], usage.kept["value"])) == [
        ("cloud_spend", "EE-IT", 10.0), ("cloud_spend", "EE-SALES", 5.0), ("database_spend", "EE-SALES", 5.0),
        ("spend_compute", "EE-IT", 10.0), ("spend_databases", "EE-SALES", 5.0), ("tickets", "EE-SALES", 12.0),
    ]

    # Excel: the headcount sheet and a matrix whose headers are the extract's column names.
    write_workbook(extracts / "people" / "headcount.xlsx", "Headcount", [HEADER] + ROWS, header_row=3)
    write_workbook(extracts / "finance" / "allocation_matrix.xlsx", "Matrix",
                   [["period", "entity", "source", "target", "percent"], ["2026-10", "EE", "EE-IT", "EE-SALES", 100]])
    assert _clean(parse_sources(excel), extracts, "headcount", "2026-10").rows_kept == 2
    matrix = _clean(parse_sources(excel), extracts, "allocation_matrix", "2026-10")
    assert matrix.kept[["source", "target", "percent"]].values.tolist() == [["EE-IT", "EE-SALES", 100.0]]


def _clean(config, root, extract, period):
    required, optional = EXTRACT_SPECS[extract].file_columns()
    raw = read_sourced_extract(config, root, extract, required, optional, period=period)
    return clean_extract(raw, EXTRACT_SPECS[extract], {}, period=period)
