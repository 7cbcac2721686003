"""People in the ledger: users with roles and argon2 password hashes, sign-in with throttling,
and who prepared a run (the four-eyes rule's other half).

Every function takes a connection inside the caller's transaction, like the ledger store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from allocation_pipeline.core.ledger.people import check_four_eyes, check_role, check_user_name
from allocation_pipeline.warehouse.bulk import read_frame
from allocation_pipeline.warehouse.engine import sql_text

# Five wrong passwords in a row throttle the account for this long (every further wrong one restarts it).
LOGIN_FAILURE_LIMIT = 5
LOGIN_THROTTLE = dt.timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against for unknown names, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(ValueError):
    """A user that cannot be created or changed; the message names the user and what is wrong."""


@dataclass(frozen=True)
class User:
    """A person who signs in. `password_hash` None: signs in only through the trusted SSO header."""

    name: str
    role: str
    active: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(conn: sa.Connection, name: str, role: str, password: str | None, created_by: str) -> User:
    """Add a person with a role; `password` None makes an SSO-only account (trusted-header mode)."""
    try:
        check_user_name(name)
        check_role(role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if conn.execute(sql_text("select_user"), {"user_name": name}).first() is not None:
        raise UserError(f"user {name} exists already (change the role with `allocation users set-role`)")
    password_hash = None if password is None else hash_password(password)
    conn.execute(sql_text("insert_user"), {"user_name": name, "role": role, "password_hash": password_hash, "created_by": created_by, "now": _now()})
    return User(name, role, True)


def get_user(conn: sa.Connection, name: str) -> User | None:
    row = conn.execute(sql_text("select_user"), {"user_name": name}).first()
    return None if row is None else User(row.user_name, row.role, bool(row.active))


def list_users(conn: sa.Connection) -> pd.DataFrame:
    return read_frame(conn, sql_text("select_users"))


def count_users(conn: sa.Connection) -> int:
    return len(list_users(conn))


def _existing(conn: sa.Connection, name: str):
    row = conn.execute(sql_text("select_user"), {"user_name": name}).first()
    if row is None:
        raise UserError(f"no user {name} (add one with `allocation users add {name} --role viewer`)")
    return row


def set_role(conn: sa.Connection, name: str, role: str) -> None:
    _existing(conn, name)
    try:
        check_role(role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    conn.execute(sql_text("update_user_role"), {"user_name": name, "role": role, "now": _now()})


def set_password(conn: sa.Connection, name: str, password: str) -> None:
    """A new password; it also lifts any sign-in throttling."""
    _existing(conn, name)
    conn.execute(sql_text("update_user_password"), {"user_name": name, "password_hash": hash_password(password), "now": _now()})


def set_active(conn: sa.Connection, name: str, active: bool) -> None:
    _existing(conn, name)
    conn.execute(sql_text("update_user_active"), {"user_name": name, "active": active, "now": _now()})


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user, or why not (`refusal`). Never says whether the name or
    the password was wrong, except when the account is throttled."""

    user: User | None
    refusal: str | None = None


def authenticate(conn: sa.Connection, name: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a password. After LOGIN_FAILURE_LIMIT wrong passwords in a row the account refuses
    every attempt, right or wrong, for LOGIN_THROTTLE. A refusal is returned, not raised, because
    the caller must commit the failure count."""
    now = now or _now()
    row = conn.execute(sql_text("select_user"), {"user_name": name}).first()
    if row is not None and row.throttled_until is not None and _as_datetime(row.throttled_until) > now:
        wait = _as_datetime(row.throttled_until) - now
        return SignIn(None, _throttled(name, wait))
    if row is None or not row.active or row.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return SignIn(None, WRONG_NAME_OR_PASSWORD)
    if not _verify(row.password_hash, password):
        conn.execute(
            sql_text("update_user_login_failed"),
            {"user_name": name, "limit": LOGIN_FAILURE_LIMIT, "throttled_until": now + LOGIN_THROTTLE},
        )
        if int(row.failed_logins) + 1 >= LOGIN_FAILURE_LIMIT:
            return SignIn(None, _throttled(name, LOGIN_THROTTLE))
        return SignIn(None, WRONG_NAME_OR_PASSWORD)
    conn.execute(sql_text("update_user_login_ok"), {"user_name": name})
    return SignIn(User(row.user_name, row.role, True))


WRONG_NAME_OR_PASSWORD = "wrong user name or password"


def _throttled(name: str, wait: dt.timedelta) -> str:
    minutes = max(1, int(-(-wait.total_seconds() // 60)))
    return f"too many wrong passwords in a row for {name}; try again in {minutes} minute(s)"


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _as_datetime(value) -> dt.datetime:
    # SQLite hands timestamps back as text.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


# --- four-eyes ------------------------------------------------------------------------------------


def preparer_of_run(conn: sa.Connection, run_id: str) -> str | None:
    """Who prepared a run: the `changed_by` of its first history row (the submitter of a
    submitted run, the rule's owner or `pipeline` for a pipeline run)."""
    return conn.execute(sql_text("select_run_preparer"), {"run_id": run_id}).scalar_one_or_none()


def enforce_four_eyes(conn: sa.Connection, run_id: str, actor: str, action: str) -> None:
    """Refuse (FourEyesError) when `actor` prepared `run_id` and would approve or post it."""
    check_four_eyes(run_id, preparer_of_run(conn, run_id), actor, action)
