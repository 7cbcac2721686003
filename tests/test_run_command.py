"""`allocation run` in process through the real entry point: each step shown as it starts and ends,
the rules file checked before any extract is read, one short message per failure naming the file,
check and account, a summary that speaks only of this run (never an earlier run's runs, entries or
reports), failed and skipped steps named, exit statuses; plus `--version`, `--verbose`, help texts,
suggestions and the outermost project error of a failed step.

A month of the small sample company is run once per module into a template (warehouse, Dagster
home); each test works on its own copy under tmp_path, and the tests that only read what a second
successful run printed share one such run. Does not cover `dagster dev`
(test_dagster_dev.py) or the allocation arithmetic.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest

from allocation_pipeline import cli
from allocation_pipeline.config.problems import did_you_mean
from allocation_pipeline.reporting import _root_message
from allocation_pipeline.settings import DATA_DIR_ENV, EXTRACTS_DIR_ENV, RULES_FILE_ENV, WAREHOUSE_URL_ENV
from tests.conftest import SAMPLE_PERIOD

STEP_DONE = re.compile(r"^  \[\s*\d+/(\d+)\] (\w+)\s+done\s+(?:([\d,]+) rows)?.*?\s(\d+\.\d\d) s$", re.MULTILINE)


def _point_at(monkeypatch, company: Path) -> None:
    for name in (EXTRACTS_DIR_ENV, RULES_FILE_ENV, WAREHOUSE_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(company))
    monkeypatch.setenv("DAGSTER_HOME", str(company / "dagster_home"))
    # Output to a pipe is plain lines, whatever the environment says about colour terminals.
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    (company / "dagster_home").mkdir(exist_ok=True)
    (company / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["run", "--period", SAMPLE_PERIOD, *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def after_one_run(sample_company_template: Path, tmp_path_factory) -> Path:
    """The sample company after one successful `allocation run` of 2026-10 (warehouse and Dagster home inside)."""
    company = tmp_path_factory.mktemp("after_one_run") / "company"
    shutil.copytree(sample_company_template, company)
    with pytest.MonkeyPatch.context() as patch:
        _point_at(patch, company)
        assert cli.main(["run", "--period", SAMPLE_PERIOD]) == 0
    return company


@pytest.fixture
def company(after_one_run: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the company after one run; the command points at it."""
    target = tmp_path / "company"
    shutil.copytree(after_one_run, target)
    _point_at(monkeypatch, target)
    return target


@pytest.fixture(scope="module")
def a_second_run(after_one_run: Path, tmp_path_factory):
    """A successful run again of the month, on a copy of the company after one run: (company, status,
    stdout, stderr). Tests that only read what it printed share it."""
    company = tmp_path_factory.mktemp("a_second_run") / "company"
    shutil.copytree(after_one_run, company)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        _point_at(patch, company)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["run", "--period", SAMPLE_PERIOD])
    return company, status, out.getvalue(), err.getvalue()


def test_a_run_shows_each_step_as_it_starts_and_ends_and_what_it_produced(a_second_run):
    company, status, out, err = a_second_run
    assert status == 0, out + err
    # Not a terminal: one plain line when a step starts and one when it ends, with rows and seconds.
    started = re.findall(r"^  \[\s*\d+/\d+\] (\w+)\s+started$", out, re.MULTILINE)
    done = {m.group(2): m for m in STEP_DONE.finditer(out)}
    assert started and set(started) == set(done), out
    assert int(next(iter(done.values())).group(1)) == len(started)
    gl_rows = len((company / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv").read_text().splitlines()) - 1
    assert done["gl_lines"].group(3) == f"{gl_rows:,}"
    assert out.index("gl_lines                 started") < out.index("allocation_runs          started")
    assert "Allocation runs:  5" in out and "Journal entries:  5" in out
    assert re.search(r"^Period reports:\s+\S+/2026-10/EE\.html$", out, re.MULTILINE), out
    assert "did not finish cleanly" not in out and "Skipped" not in out
    assert err == ""


def test_run_rejects_a_period_that_is_not_a_month(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _point_at(monkeypatch, data_dir)
    status = cli.main(["run", "--period", "2026-13"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "2026-13" in err and "Traceback" not in err
    assert not (data_dir / "warehouse.duckdb").exists()


def test_run_without_gl_lines_fails_and_names_the_extract(sample_company, monkeypatch, capsys):
    shutil.rmtree(sample_company / "extracts" / "gl_lines")
    _point_at(monkeypatch, sample_company)
    status, out, err = _run(capsys)
    assert status != 0, out + err
    # The summary on stdout, not only Dagster's log on stderr, must say what is missing.
    summary = out.partition("did not finish cleanly")[2]
    assert re.search(r"gl_lines.*not found", summary), out + err


def test_a_typo_in_a_method_stops_before_any_extract_is_read(company, capsys):
    rules = company / "rules.yaml"
    rules.write_text(rules.read_text().replace("method: fixed_percentages", "method: fixed_percentage", 1))
    shutil.rmtree(company / "extracts" / "gl_lines")  # never reached: the rules are checked first
    status, out, err = _run(capsys)
    assert status == 2
    assert out == ""
    assert "allocation run: the rules file cannot be used, nothing was run" in err
    assert "unknown method 'fixed_percentage'" in err and "gl_lines" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "text, problem",
    [
        ("rules: [it_overhead_split\n", "not valid YAML"),
        ("version: 1\nrules: []\nmultilevel:\n  - {id: m, entity: EE}\n", "multilevel"),
    ],
)
def test_a_rules_file_that_cannot_be_used_stops_the_run_with_the_loaders_message(company, capsys, text, problem):
    (company / "rules.yaml").write_text(text)
    status, out, err = _run(capsys)
    assert status == 2 and out == ""
    assert str(company / "rules.yaml") in err and problem in err
    assert "Traceback" not in err


def test_a_failed_run_after_a_successful_one_shows_nothing_of_the_old_run(company, capsys):
    gl = company / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv"
    data = gl.read_bytes()
    cut = data.index(b"\n", len(data) // 2)
    gl.write_bytes(data[:cut] + b"\xe9x" + data[cut:])  # not UTF-8 in the middle of the file
    status, out, err = _run(capsys)
    assert status == 1
    # The outermost project error (ExtractError naming the file), not the library error under it.
    assert f"  - gl_lines: gl_lines/{SAMPLE_PERIOD}.csv: " in out, out
    assert "UnicodeDecodeError" not in out and "ArrowInvalid" not in out
    assert "ALLOC-0001" not in out and "CAL0000" not in out and "Period reports" not in out
    assert "Allocation runs:  none (allocation_runs skipped, multilevel_allocation skipped)" in out
    assert "Journal entries:  none posted (journal_entries skipped)" in out
    skipped = re.search(r"^Skipped \(an upstream step or blocking check failed\): (.*)$", out, re.MULTILINE)
    assert skipped and {"allocation_runs", "journal_entries", "period_report"} <= set(skipped.group(1).split(", "))
    assert "Traceback" not in out + err and "Stack Trace" not in out + err


def test_verbose_adds_the_traceback_of_a_failed_step(company, capsys):
    (company / "extracts" / "gl_lines" / f"{SAMPLE_PERIOD}.csv").write_bytes(b"entity,document_id\n\xe9\n")
    status, out, err = _run(capsys, "--verbose")
    assert status == 1
    assert "--- gl_lines ---" in err and "Stack Trace" in err


def test_a_failed_blocking_check_names_what_it_found(company, capsys):
    accounts = company / "extracts" / "accounts.csv"
    rows = accounts.read_text().splitlines()
    accounts.write_text("\n".join(r.replace(",true", ",false") if r.startswith("69000,") else r for r in rows) + "\n")
    status, out, err = _run(capsys)
    assert status == 1
    assert "  - check runs_valid on allocation_runs failed: rule it_overhead_split (EE): Account 69000 is inactive" in out, out
    assert "Allocation runs:  none (allocation_runs failed, multilevel_allocation skipped)" in out
    assert "ALLOC-0001" not in out


def test_a_rerun_after_a_submitted_run_lists_it_without_a_rule_id(company, capsys):
    lines = company / "slack.csv"
    lines.write_text("role,account,cost_center,debit,credit\nsource,60002,EE-ENG,0,120.00\ntarget,60002,EE-PRD,120.00,0\n")
    assert cli.main(["submit", str(lines), "--source-document", "EE-BILL000527", "--by", "alice"]) == 0
    assert cli.main(["approve", "alloc-0006", "--by", "bob"]) == 0
    capsys.readouterr()
    status, out, err = _run(capsys)
    assert status == 0, out + err
    # The submitted run, posted by this run's journal_entries step, has no rule: said, not "nan".
    assert re.search(r"^    ALLOC-0006  EE  \(submitted\)\s+posted\s+120\.00 EUR -> EE-CAL\d+$", out, re.MULTILINE), out
    assert "Allocation runs:  6" in out and "nan" not in out


def test_the_dagster_ui_command_names_the_dagster_of_this_environment(a_second_run):
    company, status, out, _ = a_second_run
    assert status == 0
    (command,) = re.findall(r"^Dagster UI:\s+(.*)$", out, re.MULTILINE)
    home, program, *rest = command.split()
    assert home == f"DAGSTER_HOME={company / 'dagster_home'}"
    assert Path(program).is_file() and Path(program).name == "dagster"
    assert rest[:2] == ["dev", "-w"] and Path(rest[2]).is_absolute() and Path(rest[2]).name == "workspace.yaml"


def test_report_entities_are_read_in_any_case_and_a_misspelled_one_gets_a_suggestion(company, tmp_path, capsys):
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--entity", "ee", "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.split() == [str((tmp_path / "out" / "EE.html").resolve())]
    assert cli.main(["report", "--period", SAMPLE_PERIOD, "--entity", "EEE", "--out", str(tmp_path / "out")]) == 2
    assert "unknown entity EEE (did you mean EE?) (entities in the warehouse: EE, US)" in capsys.readouterr().err


def test_on_a_terminal_the_steps_show_a_live_bar(monkeypatch, capsys):
    from allocation_pipeline.commands.run import StepProgress
    from allocation_pipeline.reporting import StepOutcome

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with StepProgress(2) as progress:
        step = StepOutcome("gl_lines")
        progress(step, "start")
        step.status, step.rows, step.seconds = "succeeded", 2_000, 0.25
        progress(step, "end")
    out = capsys.readouterr().out
    assert "━" in out and "1/2" in out  # rich's bar and its step count
    assert re.search(r"\[ 1/2\] gl_lines\s+done\s+2,000 rows\s+0\.25 s", out), out


def test_a_run_that_fails_outside_its_steps_says_so():
    from dagster._core.events import DagsterEvent, JobFailureData

    from allocation_pipeline.reporting import RunWatch

    watch = RunWatch(["gl_lines"])
    error = _error("DagsterResourceFunctionError", "dagster._core.errors.DagsterResourceFunctionError: init\n",
                   _error("WarehouseError", "allocation_pipeline.warehouse.engine.WarehouseError: warehouse.duckdb is locked by another process\n"))
    event = DagsterEvent(event_type_value="PIPELINE_FAILURE", job_name="period_close_job", event_specific_data=JobFailureData(error=error))
    watch(dg.EventLogEntry(error_info=None, level=40, user_message="", run_id="r", timestamp=0.0, dagster_event=event))
    assert watch.failures == ["run: warehouse.duckdb is locked by another process"]
    assert watch.skipped() == ["gl_lines"]


# --- the command line as a whole -------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert re.fullmatch(r"allocation \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def _parsers(parser: argparse.ArgumentParser, name: str = "allocation"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_and_option_has_help():
    missing = []
    for name, parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {c.dest}" for c in action._choices_actions if not c.help]
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_an_unexpected_error_is_one_line_unless_verbose(monkeypatch, capsys):
    def boom(args):
        raise KeyError("column 'x'")

    from allocation_pipeline.commands import ledger

    monkeypatch.setattr(ledger, "_runs", boom)
    assert cli.main(["runs"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["allocation runs: KeyError: \"column 'x'\"", "(run again with --verbose for the traceback)"]
    assert cli.main(["runs", "--verbose"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "word, choices, quoted, expected",
    [
        ("alloc-001", ["ALLOC-0001", "ALLOC-0002"], False, " (did you mean ALLOC-0001?)"),
        ("EE-ENGG", ["EE-ENG", "EE-PRD"], False, " (did you mean EE-ENG?)"),
        ("zzz", ["EE-ENG"], False, ""),
        # The configuration's messages quote the name; case is ignored there too.
        ("Floor_Aera", ["floor_area", "headcount"], True, " (did you mean 'floor_area'?)"),
        ("zzz", ["floor_area"], True, ""),
    ],
)
def test_did_you_mean(word, choices, quoted, expected):
    assert did_you_mean(word, choices, quoted=quoted) == expected


def _error(cls_name: str, message: str, cause=None):
    from dagster._utils.error import SerializableErrorInfo

    return SerializableErrorInfo(message=message, stack=[], cls_name=cls_name, cause=cause)


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            _error("DagsterExecutionStepExecutionError", 'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "gl_lines"\n',
                   _error("ExtractError", "allocation_pipeline.core.ingestion.extracts.ExtractError: gl_lines/2026-10.csv: not UTF-8 text (invalid start byte at byte 7)\n",
                          _error("UnicodeDecodeError", "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9\n"))),
            "gl_lines/2026-10.csv: not UTF-8 text (invalid start byte at byte 7)",
        ),
        (
            _error("DagsterExecutionStepExecutionError", "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred\n",
                   _error("Failure", "dagster._core.definitions.events.Failure: posting 2026-08 failed, nothing was posted\n")),
            "posting 2026-08 failed, nothing was posted",
        ),
        (
            _error("DagsterExecutionStepExecutionError", "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred\n",
                   _error("KeyError", "KeyError: 'x'\n")),
            "KeyError: 'x'",
        ),
    ],
)
def test_a_failed_step_says_the_outermost_project_error(error, expected):
    assert _root_message(error) == expected
