"""Two people acting on the same run at the same moment through the console (two browsers, one
thread each, in process), on DuckDB and on PostgreSQL: both requests read the run's state before
either writes (a barrier holds them there), so the race is real every time. Exactly one wins;
the other is told the lifecycle refusal on the run's page; never a 500, never two history rows
or two reversing entries. Single-request refusals are in test_console.py.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from allocation_pipeline.console.app import Settings, create_app
from allocation_pipeline.core.ledger.lifecycle import LifecycleError, check_transition
from allocation_pipeline.warehouse import ledger_store, people_store
from tests.test_console import PASSWORD, approve_and_post, flashes, sign_in, submitted_run, token


@pytest.fixture
def app(reference_warehouse_url):
    """The console on a fresh warehouse (DuckDB file or PostgreSQL schema) with the sample
    company's master data and GL, a preparer and three approvers."""
    warehouse_url = reference_warehouse_url
    application = create_app(Settings(warehouse_url), secret_key="race")
    with application.state.engine.begin() as conn:
        for name, role in (("pat", "preparer"), ("ann", "approver"), ("bob", "approver"), ("cy", "approver")):
            people_store.create_user(conn, name, role, PASSWORD, created_by="test")
    yield application
    application.state.engine.dispose()


class Rendezvous:
    """Once armed, the first two calls of the ledger's clock (taken after a run's state is read
    and just before the guarded update) wait for each other; later calls, such as a retry, do not."""

    def __init__(self):
        self.barrier = threading.Barrier(2, timeout=30)
        self.lock = threading.Lock()
        self.armed = False
        self.arrivals = 0

    def wait(self):
        with self.lock:
            if not self.armed:
                return
            self.arrivals += 1
            first_two = self.arrivals <= 2
        if first_two:
            self.barrier.wait()


@pytest.fixture
def rendezvous(monkeypatch) -> Rendezvous:
    meeting = Rendezvous()
    clock = ledger_store.now

    def now():
        meeting.wait()
        return clock()

    monkeypatch.setattr(ledger_store, "now", now)
    return meeting


@pytest.mark.parametrize("action", ["approve", "void"])
def test_two_people_acting_on_one_run_at_once_one_wins_the_other_is_told(app, action, rendezvous):
    run_id = submitted_run(sign_in(app, "pat"))
    if action == "void":
        approve_and_post(app, run_id)
    people = {name: sign_in(app, name) for name in ("ann", "cy")}
    forms = {name: token(browser.get(f"/runs/{run_id}").text) for name, browser in people.items()}
    fields = {"reason": "duplicate of another run"} if action == "void" else {}

    def act(name):
        return people[name].post(f"/runs/{run_id}/{action}", data={"csrf_token": forms[name], **fields})

    rendezvous.armed = True
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = dict(zip(people, pool.map(act, people)))
    assert rendezvous.arrivals >= 2  # both requests reached the write together
    assert [r.status_code for r in responses.values()] == [303, 303], {n: r.text[:400] for n, r in responses.items()}

    messages = {name: flashes(browser.get(f"/runs/{run_id}").text) for name, browser in people.items()}
    done = "approved by" if action == "approve" else "voided; reversing entry"
    winners = [name for name, said in messages.items() if len(said) == 1 and done in said[0]]
    assert len(winners) == 1, messages
    loser = next(name for name in people if name not in winners)
    status = "approved" if action == "approve" else "voided"
    before = "calculated" if action == "approve" else "posted"
    refusal = messages[loser][0]
    # The loser read the run before the winner wrote: PostgreSQL's guarded update finds it moved
    # on; DuckDB's optimistic write conflicts and the retry finds the new state. Either way a
    # lifecycle message that names the run, never "someone else changed" or a stack trace.
    with pytest.raises(LifecycleError) as again:
        check_transition(run_id, status, status)
    assert refusal in (f"{run_id}: is no longer {before} (changed by another writer); nothing done", str(again.value)), refusal

    with app.state.engine.connect() as conn:
        history = conn.execute(
            sa.text("SELECT to_status, changed_by FROM allocation_run_history WHERE run_id = :r AND to_status = :s"), {"r": run_id, "s": status}
        ).fetchall()
        assert [tuple(h) for h in history] == [(status, winners[0])]
        assert ledger_store.get_run(conn, run_id).status == status
        reversals = conn.execute(sa.text("SELECT COUNT(*) FROM journal_entries WHERE reverses_entry_id IS NOT NULL")).scalar_one()
        assert reversals == (1 if action == "void" else 0)
    assert re.search(r"EE-CAL\d+", messages[winners[0]][0]) or action == "approve"
