"""`allocation multilevel` and the file layer under it (`core.multilevel.files`): CSV in, CSV out,
exact two-place amounts, and bad files reported by file, data row and problem with exit status 2.
Also a smoke run of the `benchmark multilevel` parser on tiny sizes (its numbers are not checked).
Does not cover the solver's mathematics (test_multilevel.py) nor Dagster or the warehouse.
"""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from allocation_pipeline.benchmarks import multilevel as benchmark
from allocation_pipeline.cli import main
from allocation_pipeline.core.multilevel.files import MultilevelFileError, read_costs, solve_files

COSTS = "cost_center,amount\nCC1,1000000\nCC5,800000\nCC10,900000\nCC11,650000\nCC12,1200000.00\nCC9,1641000\n"
MATRIX = (
    "source,target,percent\nCC1,CC1,50\nCC1,CC5,10\nCC1,CC21,40\nCC5,CC10,100\nCC10,CC11,100\n"
    "CC11,CC11,50\nCC11,CC12,50\nCC12,CC12,50\nCC12,CC19,50\nCC9,CC12,100\n"
)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "costs.csv").write_text(COSTS)
    (tmp_path / "matrix.csv").write_text(MATRIX)
    return tmp_path


def run(tmp_path, *extra):
    return main(["multilevel", "--costs", str(tmp_path / "costs.csv"), "--matrix", str(tmp_path / "matrix.csv"),
                 "--out", str(tmp_path / "result.csv"), *extra])


def test_writes_result_and_origins(files, capsys):
    assert run(files, "--by-origin", str(files / "origin.csv")) == 0
    result = pd.read_csv(files / "result.csv", dtype=str)
    assert list(result.columns) == ["cost_center", "own", "received", "total", "final"]
    cc11 = result.set_index("cost_center").loc["CC11"].to_dict()
    assert cc11 == {"own": "650000.00", "received": "1800000.00", "total": "2450000.00", "final": "1225000.00"}
    assert result.set_index("cost_center").loc["CC12", "final"] == "2033000.00"
    origin = pd.read_csv(files / "origin.csv", dtype=str)
    assert list(origin.columns) == ["cost_center", "origin", "amount"]
    cc11_origins = origin[origin["cost_center"] == "CC11"].set_index("origin")["amount"].to_dict()
    assert cc11_origins == {"CC1": "50000.00", "CC5": "400000.00", "CC10": "450000.00", "CC11": "325000.00"}
    out = capsys.readouterr().out
    assert "reciprocal: 8 cost centers, 0 cycle(s); final 6,191,000.00 = own 6,191,000.00" in out


def test_step_down_order_and_iterative_trace(files, capsys):
    assert run(files, "--method", "step-down", "--order", "CC1, CC5") == 0
    assert "closing order CC1,CC5,CC9,CC10,CC11,CC12" in capsys.readouterr().out
    assert run(files, "--method", "iterative", "--iterations", str(files / "trace.csv")) == 0
    trace = pd.read_csv(files / "trace.csv")
    assert list(trace.columns) == ["iteration", "cost_center", "received", "cumulative"]
    assert trace[trace["cost_center"] == "CC11"]["cumulative"].tolist() == [900_000, 1_700_000, 1_800_000]
    assert "5 passes, converged" in capsys.readouterr().out


def test_bad_files_name_file_row_and_problem(tmp_path, capsys):
    (tmp_path / "costs.csv").write_text("cost_center,amount\nA,100\nB,12.345\n,5\nA,3\n")
    (tmp_path / "matrix.csv").write_text("source,target,percent\nA,B,60\nA,C,50\nB,,10\nC,A,-1\n")
    assert run(tmp_path) == 2
    err = capsys.readouterr().err
    costs, matrix = tmp_path / "costs.csv", tmp_path / "matrix.csv"
    assert f"{costs}: row 2: amount '12.345' for 'B' is not an amount with at most two decimal places" in err
    assert f"{costs}: row 3: cost center is empty" in err
    assert f"{costs}: row 4: cost center 'A' appears more than once (rows 1, 4)" in err
    assert f"{matrix}: row 3: target is empty" in err
    assert f"{matrix}: row 4: percent '-1' is negative" in err
    assert f"{matrix}: source 'A': percents sum to 110, more than 100 (rows 1, 2)" in err
    assert "header is not counted" in err
    assert not (tmp_path / "result.csv").exists()


@pytest.mark.parametrize(
    "costs_text, matrix_text, message",
    [
        ("cost_center,amount\nA,1\n", "src,tgt\nA,B\n", "matrix.csv: the header has no column source, target, percent"),
        ("", "source,target,percent\n", "costs.csv: the file is empty; expected a header cost_center,amount"),
        ("cost_center,amount\nA,1\nB,2\n", "source,target,percent\nA,B,100\nB,A,100\n", "matrix.csv: closed cycle: 'A', 'B'"),
        ("cost_center,amount\nA,1\n", "source,target,percent\nA,B,100\nB,X,100\n", "matrix.csv: direct: 'A' sends only"),
    ],
)
def test_unreadable_or_unsolvable_files(tmp_path, capsys, costs_text, matrix_text, message):
    (tmp_path / "costs.csv").write_text(costs_text)
    (tmp_path / "matrix.csv").write_text(matrix_text)
    extra = ["--method", "direct"] if "direct" in message else []
    assert run(tmp_path, *extra) == 2
    assert message in capsys.readouterr().err


def test_missing_file_bad_order_and_unwritable_output(files, capsys):
    assert main(["multilevel", "--costs", str(files / "nope.csv"), "--matrix", str(files / "matrix.csv"),
                 "--out", str(files / "r.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    assert run(files, "--method", "step-down", "--order", "CC1,ZZ") == 2
    assert "--order: item 2: 'ZZ' is not a cost center" in capsys.readouterr().err
    assert run(files, "--method", "step-down", "--order", "CC11x") == 2
    assert "--order: item 1: 'CC11x' is not a cost center of the costs or the matrix (did you mean CC11?)" in capsys.readouterr().err
    assert run(files, "--order", "CC1") == 2
    assert "--order applies only to --method step-down" in capsys.readouterr().err
    assert main(["multilevel", "--costs", str(files / "costs.csv"), "--matrix", str(files / "matrix.csv"),
                 "--out", str(files / "missing-dir" / "r.csv")]) == 2
    assert "missing-dir/r.csv: cannot write" in capsys.readouterr().err


def test_file_layer_reuse(files):
    costs = read_costs(files / "costs.csv")
    assert costs.index.name == "cost_center" and costs["CC12"] == "1200000.00"
    assert solve_files(files / "costs.csv", files / "matrix.csv").final_cents["CC11"] == 122_500_000
    (files / "bad.csv").write_bytes(b"cost_center,amount\n\xff\xfe,1\n")
    with pytest.raises(MultilevelFileError, match="bad.csv: not UTF-8 text"):
        read_costs(files / "bad.csv")


def test_benchmark_parser_smoke(capsys):
    parser = argparse.ArgumentParser(prog="allocation benchmark")
    benchmark.register(parser.add_subparsers(dest="benchmark"))
    args = parser.parse_args(
        ["multilevel", "--services", "60", "--finals", "300", "--rows", "3000", "--centers", "400",
         "--random-rows", "3000", "--seed", "1", "--repeat", "1"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "ratio iterative / reciprocal" in out and "peak RSS" in out and "random uniform case" in out
