"""Smoke test of the Dagster UI command that `allocation run` prints: pasted into a shell in another
directory, the webserver starts, its code location is named after the project and its asset graph
holds the pipeline.

Starts the real `dagster dev` (webserver, daemon and code server) through `bash -c` with the printed
command, on a free loopback port chosen by the system (no fixed port: parallel workers each get
their own), with DAGSTER_HOME and ALLOCATION_DATA_DIR under tmp_path and tmp_path as
the working directory; asks its GraphQL endpoint for the locations and asset nodes (standard library
only) and stops the whole process group by PID. Does not launch a run, read extracts or touch a
warehouse; what the assets compute is covered elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from allocation_pipeline.commands.run import dagster_ui_command

STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30
EXPECTED_ASSETS = {"gl_lines", "driver_values", "allocation_runs", "journal_entries"}
LOCATION_NAME = "allocation_pipeline"

# One request answers both questions: has the code location loaded (or failed), and what is in it.
QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  assetNodes { assetKey { path } }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_signals() -> None:
    # A shell running us in the background leaves SIGINT ignored, and the child would inherit that;
    # `dagster dev` gives SIGTERM the handler SIGINT has (dagster/_utils/interrupts.py), so it would ignore both.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _wait_until_group_empty(pgid: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return members


def _stop(process: subprocess.Popen) -> tuple[bool, list[int]]:
    """Stop `dagster dev` and everything it started; returns (it exited on SIGTERM, PIDs that needed SIGKILL).

    SIGTERM goes to the `dagster dev` PID first, not the whole group: it then shuts its services down in
    order. A group-wide SIGTERM races its code-server supervisor, which was seen restarting the gRPC
    server it had just lost and leaving that running. Whatever is left then gets SIGTERM, then SIGKILL.
    """
    pgid = process.pid  # start_new_session made `dagster dev` its own group leader
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        exited_on_sigterm = True
    except subprocess.TimeoutExpired:
        exited_on_sigterm = False
    if _wait_until_group_empty(pgid, 10):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    needed_kill = _wait_until_group_empty(pgid, 10)
    if needed_kill:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process.poll() is None:
        process.wait(timeout=10)
    _wait_until_group_empty(pgid, 10)
    return exited_on_sigterm, needed_kill


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _wait_for_loaded_location(process: subprocess.Popen, port: int, log: Path) -> dict:
    """The GraphQL answer once the code location has finished loading; fails with the log otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with status {process.returncode} before answering\n{log.read_text()}")
        try:
            answer = _graphql(port)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
            last_error = repr(exc)
        else:
            workspace = answer.get("data", {}).get("workspaceOrError", {})
            entries = workspace.get("locationEntries") or []
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return answer
            last_error = json.dumps(answer)[:500]
        time.sleep(1)
    pytest.fail(f"dagster dev did not load the workspace within {STARTUP_TIMEOUT_SECONDS} s ({last_error})\n{log.read_text()}")


def _start(command: str, cwd: Path, env: dict, log: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            # As a user pastes it; bash execs a single command, so the PID is dagster's and SIGTERM reaches it.
            ["bash", "-c", f"{command} -h 127.0.0.1 -p {port}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    return process, port


@pytest.fixture
def dagster_dev(tmp_path: Path):
    """A running `dagster dev` started with the printed command: yields (process, port, log path); stopped and checked afterwards."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    # No usage statistics leave a test run.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCATION_")}
    env.update(ALLOCATION_DATA_DIR=str(tmp_path / "data"))
    env.pop("DAGSTER_HOME", None)  # the printed command sets it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "dagster_dev.log"
    process, port = _start(dagster_ui_command(home), elsewhere, env, log)
    try:
        yield process, port, log
    finally:
        exited_on_sigterm, needed_kill = _stop(process)
        leftover = _group_members(process.pid)
    assert leftover == [], f"processes of dagster dev still running after SIGKILL: {leftover}\n{log.read_text()}"
    assert exited_on_sigterm, f"dagster dev ignored SIGTERM for {STOP_TIMEOUT_SECONDS} s (SIGKILLed: {needed_kill})\n{log.read_text()}"


@pytest.mark.slow
def test_dagster_dev_serves_the_asset_graph(dagster_dev):
    process, port, log = dagster_dev
    answer = _wait_for_loaded_location(process, port, log)
    entries = answer["data"]["workspaceOrError"]["locationEntries"]
    errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
    assert errors == [], f"the code location failed to load: {errors}\n{log.read_text()}"
    assert [e["name"] for e in entries] == [LOCATION_NAME]
    assets = {"/".join(node["assetKey"]["path"]) for node in answer["data"]["assetNodes"]}
    missing = EXPECTED_ASSETS - assets
    assert not missing, f"asset graph lacks {sorted(missing)}; it has {sorted(assets)}"
