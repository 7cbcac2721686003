"""Excel sources: a sheet read as an extract with every quarantine reason naming its cell, and
workbooks that cannot be used refused with the workbook, sheet and problem. Pure: workbooks under
tmp_path, no warehouse, no Dagster."""

from __future__ import annotations

import datetime as dt

import pytest

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.sources.config import SourcesError, parse_sources
from allocation_pipeline.core.sources.reader import name_places, read_sourced_extract
from tests.sources_files import write_workbook

REQUIRED, OPTIONAL = EXTRACT_SPECS["headcount"].file_columns()
HEADER = ["Period", "Cost center", "FTE", "Comment"]
ROWS = [
    ["2026-10", "EE-IT", 7.5, None],  # row 4
    [dt.datetime(2026, 10, 1), "EE-HR", 3, "period typed as a date"],  # row 5
    ["2026-10", "EE-FIN", -2, None],  # row 6: negative FTE
    [None, None, None, None],  # row 7: blank, skipped
    ["2026-10", "EE-IT", 8, "again"],  # row 8: duplicate of row 4
    ["2026-10", "EE-OPS", "two", None],  # row 9: not a number
    ["2026-09", "EE-IT", 7, "other month"],  # row 10: another partition's row
]


def _config(**overrides):
    source = {"kind": "excel", "workbook": "people/headcount.xlsx", "sheet": "Headcount", "header_row": 3,
              "columns": {"period": "Period", "cost_center": "Cost center", "headcount": "FTE"}}
    source.update(overrides)
    return parse_sources({"sources": {"headcount": source}})


def _read(tmp_path, config=None, period="2026-10"):
    return read_sourced_extract(config or _config(), tmp_path, "headcount", REQUIRED, OPTIONAL, period=period)


def test_rows_keep_their_worksheet_row_and_reasons_name_the_cell(tmp_path):
    write_workbook(tmp_path / "people" / "headcount.xlsx", "Headcount", [HEADER] + ROWS, header_row=3, title="Headcount October")
    raw = _read(tmp_path)
    assert raw.files == ["people/headcount.xlsx!Headcount"]
    assert raw.frame["row_number"].tolist() == [4, 5, 6, 8, 9, 10]
    assert raw.frame["period"].tolist()[:2] == ["2026-10", "2026-10"]  # a date cell as its month
    assert raw.frame["headcount"].tolist()[:3] == ["7.5", "3", "-2"]
    result = name_places(clean_extract(raw, EXTRACT_SPECS["headcount"], {}, period="2026-10"), raw)
    assert result.kept[["cost_center", "headcount"]].values.tolist() == [["EE-IT", 7.5], ["EE-HR", 3.0]]
    assert result.rows_in == 5 and result.rows_quarantined == 3  # the 2026-09 row is another partition's
    reasons = dict(zip(result.quarantine["row_number"], result.quarantine["reason"]))
    assert reasons == {
        6: "must not be below 0 (cell people/headcount.xlsx!Headcount!C6)",
        8: "duplicate period, cost_center (first at row 4) (cell people/headcount.xlsx!Headcount!A8:C8)",
        9: "not a number (cell people/headcount.xlsx!Headcount!C9)",
    }


def test_header_names_default_to_the_extract_columns_and_the_first_sheet(tmp_path):
    write_workbook(tmp_path / "people" / "headcount.xlsx", "Sheet1", [["period", "cost_center", "headcount"], ["2026-10", "EE-IT", 4]])
    raw = _read(tmp_path, _config(sheet=None, header_row=1, columns={}))
    assert raw.frame[["period", "cost_center", "headcount"]].values.tolist() == [["2026-10", "EE-IT", "4"]]
    assert raw.frame["source_file"].tolist() == ["people/headcount.xlsx!Sheet1"]


@pytest.mark.parametrize(
    ("build", "config", "message"),
    [
        (lambda p: None, {}, "headcount (excel people/headcount.xlsx): workbook not found"),
        (lambda p: p.write_bytes(b"not a zip"), {}, "headcount (excel people/headcount.xlsx): not a readable .xlsx workbook"),
        (lambda p: write_workbook(p, "Staff", [HEADER] + ROWS, header_row=3), {},
         "headcount (excel people/headcount.xlsx): no sheet 'Headcount' (sheets: Staff, Notes)"),
        (lambda p: write_workbook(p, "Headcount", [HEADER] + ROWS, header_row=3, merge="B3:C3"), {},
         "headcount (excel people/headcount.xlsx!Headcount): merged header cell(s) B3:C3 in row 3; unmerge them"),
        (lambda p: write_workbook(p, "Headcount", [["Period", "Cost center", "Headcount"]] + ROWS, header_row=3), {},
         "headcount (excel people/headcount.xlsx!Headcount): missing column(s) headcount (header 'FTE') in header row 3 "
         "(found: Period, Cost center, Headcount)"),
        (lambda p: write_workbook(p, "Headcount", [["Period", "Cost center", "FTE", "FTE"]] + ROWS, header_row=3), {},
         "header 'FTE' appears twice in row 3 (C, D)"),
        (lambda p: write_workbook(p, "Headcount", [HEADER], header_row=1), {"header_row": 5},
         "no header in row 5: the sheet ends at row 1"),
    ],
)
def test_workbooks_that_cannot_be_used_are_refused_whole(tmp_path, build, config, message):
    path = tmp_path / "people" / "headcount.xlsx"
    path.parent.mkdir(parents=True)
    build(path)
    with pytest.raises(SourcesError) as error:
        _read(tmp_path, _config(**config))
    assert message in str(error.value)
