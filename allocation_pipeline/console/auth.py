"""Who is asking and may they: the session user (or the trusted SSO header), CSRF on every
state-changing request and the role check, all in the one dependency `requires(action)`.

Each request has one connection to the ledger (`connection`): the permission check reads the
user through it and the view reads its page (or writes its action) through the same one, so a
DuckDB file is opened once per request."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, Request

from allocation_pipeline import settings as project_settings
from allocation_pipeline.core.ledger.people import PermissionDenied, require
from allocation_pipeline.warehouse.people_store import User, get_user

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInNeeded(Exception):
    """No signed-in user: the handler sends the browser to the login page (and back after)."""

    def __init__(self, next_url: str):
        self.next_url = next_url


class Refused(Exception):
    """A request refused with a status and a message shown to the person (403 role, 403 CSRF)."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Settings:
    """What the console needs from its deployment. `trusted_header` None: local accounts only.
    `rules_file` and `extracts_dir` (what the preview reads) None: the pipeline's defaults
    ($ALLOCATION_RULES_FILE and $ALLOCATION_EXTRACTS_DIR, else under the data directory)."""

    warehouse_url: str
    trusted_header: str | None = None
    secure_cookie: bool = False
    rules_file: str | None = None
    extracts_dir: str | None = None

    def rules_path(self) -> str:
        return self.rules_file or project_settings.rules_file()

    def extracts_path(self) -> str:
        return self.extracts_dir or project_settings.extracts_dir()


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; every form carries it."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose form field or header does not carry the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(CSRF_FIELD)
    given = request.headers.get(CSRF_HEADER)
    if not given and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        given = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise Refused(403, "This form has expired or did not come from the console (CSRF check failed). Reload the page and try again.")


def connection(request: Request) -> Iterator[sa.Connection]:
    """The request's one connection to the ledger, closed when the request is done. FastAPI
    hands the same one to every dependency and view of a request that asks for it."""
    with request.app.state.engine.connect() as conn:
        yield conn


def transaction(conn: sa.Connection):
    """A transaction for an action on the request's connection: what the permission check read
    is put aside first (it wrote nothing), so the action sees the ledger as it is now."""
    if conn.in_transaction():
        conn.rollback()
    return conn.begin()


def current_user(request: Request, conn: sa.Connection | None = None) -> User | None:
    """The signed-in user, read from the ledger on every request so a role change or a
    deactivation takes effect at once; in trusted-header mode, the user the SSO proxy names.
    Read once per request (through `conn`, the request's connection) and kept on the request."""
    if hasattr(request.state, "user"):
        return request.state.user
    settings: Settings = request.app.state.settings
    if settings.trusted_header:
        name = request.headers.get(settings.trusted_header)
    else:
        name = request.session.get("user")
    user = None
    if name:
        if conn is None:
            with request.app.state.engine.connect() as own:
                user = get_user(own, name)
        else:
            user = get_user(conn, name)
        if user is None or not user.active:
            request.session.pop("user", None)
            user = None
    request.state.user = user
    return user


def requires(action: str):
    """The dependency every view declares: a signed-in user whose role allows `action`, and on a
    state-changing request a valid CSRF token. Views never check permissions themselves."""

    async def dependency(request: Request, conn: sa.Connection = Depends(connection)) -> User:
        user = current_user(request, conn)
        if user is None:
            raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        await check_csrf(request)
        try:
            require(user.name, user.role, action)
        except PermissionDenied as exc:
            raise Refused(403, str(exc)) from None
        return user

    return dependency


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")


def safe_next(next_url: str | None) -> str:
    """Only a path on this site, never another host (no open redirect)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/runs"
    return next_url
