"""People: roles and permissions, the four-eyes rule, users with argon2 hashes, sign-in throttling
and the `allocation users` command, on DuckDB and PostgreSQL. The console's use of them is in
test_console.py; the four-eyes rule through the ledger CLI is in test_ledger.py."""

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from allocation_pipeline import cli
from allocation_pipeline.core.ledger.people import ROLES, FourEyesError, PermissionDenied, allowed, check_four_eyes, require
from allocation_pipeline.warehouse import people_store
from allocation_pipeline.warehouse.engine import ensure_schema, make_engine


@pytest.mark.parametrize(
    "role, action, expected",
    [
        ("viewer", "view", True), ("viewer", "submit", False), ("viewer", "approve", False),
        ("preparer", "submit", True), ("preparer", "approve", False), ("preparer", "void", False),
        ("approver", "approve", True), ("approver", "post", True), ("approver", "void", True), ("approver", "reject", True),
        ("approver", "submit", True), ("approver", "manage_users", False), ("admin", "manage_users", True), (None, "view", False),
    ],
)
def test_roles_allow_their_actions_only(role, action, expected):
    assert allowed(role, action) is expected


def test_a_refusal_names_the_person_and_the_role_needed():
    with pytest.raises(PermissionDenied, match=r"vera \(viewer\) may not approve; that takes the role approver or admin"):
        require("vera", "viewer", "approve")


@pytest.mark.parametrize(
    "preparer, actor, action, refused",
    [
        ("alice", "alice", "approve", True), ("alice", "ALICE ", "post", True), ("alice", "bob", "approve", False),
        ("alice", "alice", "reject", False), ("alice", "alice", "void", False), ("pipeline", "pipeline", "post", False),
        ("alice", "pipeline", "post", False), ("pipeline", "alice", "approve", False), (None, "alice", "approve", False),
    ],
)
def test_four_eyes(preparer, actor, action, refused):
    if refused:
        with pytest.raises(FourEyesError, match=f"ALLOC-0007: {actor} prepared this run and cannot {action} it too"):
            check_four_eyes("ALLOC-0007", preparer, actor, action)
    else:
        check_four_eyes("ALLOC-0007", preparer, actor, action)


@pytest.fixture
def warehouse(warehouse_url):
    engine = make_engine(warehouse_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def test_users_are_created_with_a_role_and_a_hash_never_the_password(warehouse):
    with warehouse.begin() as conn:
        people_store.create_user(conn, "ann", "approver", "correct horse battery", created_by="setup")
        people_store.create_user(conn, "sso.user@example.com", "viewer", None, created_by="setup")
    with warehouse.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE user_name = 'ann'")).scalar_one()
        assert stored.startswith("$argon2id$") and "correct horse" not in stored
        assert people_store.authenticate(conn, "ann", "correct horse battery").user.role == "approver"
        assert list(people_store.list_users(conn)["user_name"]) == ["ann", "sso.user@example.com"]
        assert people_store.authenticate(conn, "sso.user@example.com", "").refusal == "wrong user name or password"
        assert people_store.authenticate(conn, "nobody", "correct horse battery").refusal == "wrong user name or password"


@pytest.mark.parametrize(
    "name, role, password, message",
    [
        ("ann", "approver", "x" * 12, "user ann exists already"),
        ("bad name", "viewer", "x" * 12, "user name 'bad name' must be"),
        ("pipeline", "viewer", "x" * 12, "reserved for the pipeline"),
        ("bo", "boss", "x" * 12, "role 'boss' is not one of viewer, preparer, approver, admin"),
        ("bo", "viewer", "short", "a password needs at least 10 characters"),
    ],
)
def test_bad_users_are_refused_with_a_message(warehouse, name, role, password, message):
    with warehouse.begin() as conn:
        people_store.create_user(conn, "ann", "approver", "correct horse battery", created_by="setup")
    with pytest.raises(people_store.UserError, match=message), warehouse.begin() as conn:
        people_store.create_user(conn, name, role, password, created_by="setup")


def test_five_wrong_passwords_in_a_row_throttle_the_account(warehouse):
    with warehouse.begin() as conn:
        people_store.create_user(conn, "ann", "approver", "correct horse battery", created_by="setup")
    start = dt.datetime(2026, 10, 31, 12, 0)
    for attempt in range(1, 6):
        with warehouse.begin() as conn:
            outcome = people_store.authenticate(conn, "ann", f"guess {attempt}", now=start)
        assert outcome.user is None and ("too many wrong passwords" in outcome.refusal) is (attempt == 5)
    # Throttled: even the right password is refused, and says for how long.
    with warehouse.begin() as conn:
        outcome = people_store.authenticate(conn, "ann", "correct horse battery", now=start + dt.timedelta(seconds=30))
    assert outcome.user is None and outcome.refusal == "too many wrong passwords in a row for ann; try again in 5 minute(s)"
    with warehouse.begin() as conn:
        assert people_store.authenticate(conn, "ann", "correct horse battery", now=start + dt.timedelta(minutes=6)).user.name == "ann"
    # A success starts the count again: four wrong ones do not throttle.
    for attempt in range(4):
        with warehouse.begin() as conn:
            assert people_store.authenticate(conn, "ann", "nope", now=start + dt.timedelta(minutes=7)).refusal == "wrong user name or password"


def test_the_users_command_adds_lists_and_changes_users(duckdb_url, monkeypatch, capsys):
    monkeypatch.setenv("ALLOCATION_WAREHOUSE_URL", duckdb_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("first admin password\n"))
    assert cli.main(["users", "add", "root.admin", "--role", "admin", "--password-stdin"]) == 0
    assert "user root.admin added with role admin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "add", "pat", "--role", "preparer", "--password-stdin"]) == 2
    assert "a password needs at least 10 characters" in capsys.readouterr().err
    assert cli.main(["users", "set-role", "root.admin", "approver"]) == 0
    assert cli.main(["users", "deactivate", "root.admin"]) == 0
    assert cli.main(["users", "set-role", "nobody", "viewer"]) == 2
    assert "no user nobody" in capsys.readouterr().err
    assert cli.main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "root.admin" in out and "approver" in out and "pat" not in out
    engine = make_engine(duckdb_url)
    with engine.connect() as conn:
        assert people_store.authenticate(conn, "root.admin", "first admin password").user is None
    engine.dispose()
    assert set(ROLES) == {"viewer", "preparer", "approver", "admin"}


def test_a_rule_names_its_owner_who_then_prepared_its_runs():
    from allocation_pipeline.core.allocation.rules import RulesError, parse_rules
    from tests.test_allocation_core import IT_SPLIT

    assert parse_rules({"rules": [{**IT_SPLIT, "owner": "olga"}]}).rules[0].owner == "olga"
    assert parse_rules({"rules": [IT_SPLIT]}).rules[0].owner is None
    with pytest.raises(RulesError, match="owner: 'two words' is not a user name"):
        parse_rules({"rules": [{**IT_SPLIT, "owner": "two words"}]}, "rules.yaml")
