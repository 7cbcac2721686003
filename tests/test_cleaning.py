"""Reading and cleaning extracts: quarantine reasons and counts, and files that cannot be used at all.

Literal CSV/Parquet files under tmp_path, the core functions only; the warehouse side of the
quarantine is covered in test_pipeline.py.
"""

from pathlib import Path

import pandas as pd
import pytest

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
from allocation_pipeline.core.ingestion.extracts import ExtractError, read_extract

GL_HEADER = "entity,document_id,document_type,line,posting_date,account,cost_center,product,region,debit,credit,currency,description"
REFERENCES = {"entity": {"EE"}, "account": {"60002", "2000"}, "cost center": {"EE-ENG", "EE-IT"}}


def clean(directory: Path, extract: str, period: str | None = "2026-10", references=REFERENCES):
    spec = EXTRACT_SPECS[extract]
    required, optional = spec.file_columns()
    raw = read_extract(directory, extract, required, optional, period=period if spec.partitioned else None)
    return clean_extract(raw, spec, references, period=period if spec.partitioned else None)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_bad_gl_rows_are_quarantined_with_their_reasons(tmp_path):
    write(
        tmp_path / "gl_lines" / "2026-10.csv",
        f"""
{GL_HEADER}
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,,,120.00,0.00,EUR,good
EE,D1,JOURNAL,2,2026-10-01,2000,EE-ENG,,,0.00,120.00,EUR,good
EE,D2,JOURNAL,1,2026-10-02,60002,XX-NOPE,,,10.00,0.00,EUR,unknown cost center
EE,D2,JOURNAL,2,2026-10-02,2000,EE-ENG,,,0.00,ten,EUR,non-numeric amount
EE,D3,JOURNAL,1,2026-10-32,2000,EE-ENG,,,0.00,5.00,EUR,bad date
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,,,120.00,0.00,EUR,duplicate line
EE,D4,JOURNAL,1,2026-10-03,60002,EE-ENG,,,-5.00,0.00,EUR,negative debit
EE,D5,JOURNAL,1,2026-10-03,60002,EE-ENG,,,5.00,5.00,EUR,both sides
EE,D6,JOURNAL,1,2026-10-03,60002,EE-IT,,,1.005,0.00,EUR,three decimals
EE,D7,JOURNAL,1,2026-10-03,99999,EE-IT,,,1.00,0.00,EUR,unknown account
""",
    )
    result = clean(tmp_path, "gl_lines")
    reasons = {(row.row_number, row.column if isinstance(row.column, str) else None): row.reason for row in result.quarantine.itertuples()}
    assert reasons == {
        (3, "cost_center"): "unknown cost center 'XX-NOPE'",
        (4, "credit"): "not an amount (at most 16 digits and two decimal places)",
        (5, "posting_date"): "not a date (expected YYYY-MM-DD)",
        (6, None): "duplicate entity, document_id, line (first at row 1)",
        (7, "debit"): "must not be below 0.00",
        (8, None): "debit and credit are both non-zero",
        (9, "debit"): "not an amount (at most 16 digits and two decimal places)",
        (10, "account"): "unknown account '99999'",
    }
    assert result.rows_in == 10
    assert result.rows_kept == 2
    assert result.rows_quarantined == 8
    assert result.rows_in == result.rows_kept + result.rows_quarantined
    assert set(result.quarantine["source_file"]) == {"gl_lines/2026-10.csv"}
    bad_value = result.quarantine.set_index("row_number").loc[4, "value"]
    assert bad_value == "ten"
    assert result.kept["debit_cents"].tolist() == [12000, 0]
    assert result.kept["period"].tolist() == ["2026-10", "2026-10"]


def test_negative_hours_and_other_timesheet_problems(tmp_path):
    write(
        tmp_path / "timesheets.csv",
        """
employee,work_date,cost_center,activity,project,hours
E1,2026-10-01,EE-ENG,development,P1,7.5
E1,2026-10-02,EE-ENG,development,,-2
E2,2026-10-02,EE-ENG,support,,25
E3,2026-10-02,EE-ENG,support,,lots
E3,2026-10-02,EE-ENG,support,,1
E4,2026-10-02,,support,,1
""",
    )
    result = clean(tmp_path, "timesheets")
    by_row = dict(zip(result.quarantine["row_number"], result.quarantine["reason"]))
    assert by_row == {
        2: "must not be below 0",
        3: "must not be above 24",
        4: "not a number",
        6: "missing value",
    }
    assert result.rows_kept == 2 and result.rows_in == 6


def test_rows_of_other_periods_in_a_multi_period_file_belong_to_other_partitions(tmp_path):
    write(
        tmp_path / "headcount.csv",
        """
period,cost_center,headcount
2026-09,EE-ENG,10
2026-10,EE-ENG,11
2026-10,EE-IT,4
2026-11,EE-IT,5
""",
    )
    result = clean(tmp_path, "headcount")
    assert result.rows_in == 2 and result.rows_kept == 2 and result.quarantine.empty
    assert result.kept["headcount"].tolist() == [11.0, 4.0]


def test_a_row_the_csv_parser_cannot_split_is_quarantined_not_lost(tmp_path):
    write(
        tmp_path / "gl_lines" / "2026-10.csv",
        f"""
{GL_HEADER}
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,,,120.00,0.00,EUR,good
EE,D1,JOURNAL,2,2026-10-01
EE,D1,JOURNAL,3,2026-10-01,2000,EE-ENG,,,0.00,120.00,EUR,good
""",
    )
    result = clean(tmp_path, "gl_lines")
    assert result.rows_in == 3 and result.rows_kept == 2
    problem = result.quarantine.iloc[0]
    assert problem["row_number"] == 2
    assert problem["reason"] == "row has 5 field(s), the header has 13"
    assert result.kept["row_number"].tolist() == [1, 3]


def test_csv_and_parquet_extracts_give_the_same_rows(tmp_path):
    csv_dir, parquet_dir = tmp_path / "csv", tmp_path / "parquet"
    text = f"""
{GL_HEADER}
EE,D1,JOURNAL,1,2026-10-01,60002,EE-ENG,P1,,120.00,0.00,EUR,a
EE,D1,JOURNAL,2,2026-10-01,2000,EE-ENG,,,0.00,120.00,EUR,
"""
    write(csv_dir / "gl_lines" / "2026-10.csv", text)
    frame = pd.read_csv(csv_dir / "gl_lines" / "2026-10.csv", dtype=str, keep_default_na=False)
    (parquet_dir / "gl_lines").mkdir(parents=True)
    frame.to_parquet(parquet_dir / "gl_lines" / "2026-10.parquet", index=False)
    from_csv = clean(csv_dir, "gl_lines").kept.drop(columns=["source_file"])
    from_parquet = clean(parquet_dir, "gl_lines").kept.drop(columns=["source_file"])
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_missing_extract_names_what_was_looked_for(tmp_path):
    with pytest.raises(ExtractError, match=r"gl_lines: extract 'gl_lines' not found \(expected gl_lines.csv, gl_lines.parquet"):
        clean(tmp_path, "gl_lines")


def test_missing_columns_name_the_file_and_the_columns(tmp_path):
    write(tmp_path / "headcount.csv", "period,cost_centre,fte\n2026-10,EE-ENG,3\n")
    with pytest.raises(ExtractError) as error:
        clean(tmp_path, "headcount")
    assert str(error.value) == "headcount.csv: missing required column(s) cost_center, headcount (found: period, cost_centre, fte)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("headcount.csv", b"", "headcount.csv: empty file: no header row"),
        ("headcount.csv", b"period,cost_center,headcount\n\xff\xfe,1,2\n", "headcount.csv: not UTF-8 text"),
        ("headcount.parquet", b"PAR1 this is not parquet", "headcount.parquet: not a readable Parquet file"),
        ("headcount.csv", b"period,period,headcount\n", "headcount.csv: duplicate column name(s) in header: period"),
    ],
)
def test_unusable_files_fail_with_the_file_name(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ExtractError) as error:
        clean(tmp_path, "headcount")
    assert str(error.value).startswith(message)


def test_two_formats_of_one_extract_are_refused(tmp_path):
    write(tmp_path / "headcount.csv", "period,cost_center,headcount\n")
    write(tmp_path / "headcount.parquet", "x")
    with pytest.raises(ExtractError, match="ambiguous: found headcount.csv, headcount.parquet; keep one"):
        clean(tmp_path, "headcount")


def test_a_period_without_its_file_is_named(tmp_path):
    write(tmp_path / "gl_lines" / "2026-09.csv", GL_HEADER)
    with pytest.raises(ExtractError, match=r"gl_lines/: no file for period 2026-10 \(found periods 2026-09\)"):
        clean(tmp_path, "gl_lines")


def test_master_data_types_and_booleans(tmp_path):
    write(
        tmp_path / "accounts.csv",
        """
account,name,type,active
60002,Software,expense,true
61000,Travel,expense,FALSE
6x,Bad number,expense,true
62000,Rent,expenses,true
63000,Odd,expense,maybe
60002,Again,expense,true
""",
    )
    result = clean(tmp_path, "accounts", references={})
    assert result.kept["active"].tolist() == [True, False]
    reasons = dict(zip(result.quarantine["row_number"], result.quarantine["reason"]))
    assert reasons[3] == r"does not have the expected format ^\d{3,10}$"
    assert reasons[4] == "must be one of expense, revenue, asset, liability, equity"
    assert reasons[5] == "not true or false"
    assert reasons[6] == "duplicate account (first at row 1)"
