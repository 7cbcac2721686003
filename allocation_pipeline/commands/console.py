"""`allocation console`: the finance console in the browser, served by uvicorn."""

from __future__ import annotations

import argparse
import os
import secrets

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError

SECRET_ENV = "ALLOCATION_CONSOLE_SECRET"
TRUSTED_HEADER_ENV = "ALLOCATION_CONSOLE_TRUSTED_HEADER"


def register(subparsers: argparse._SubParsersAction) -> None:
    console = subparsers.add_parser("console", help="start the finance console in the browser (runs, documents, periods, approvals)")
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    console.add_argument("--port", type=int, default=8040, help="port (default 8040)")
    console.add_argument(
        "--trusted-header", default=os.environ.get(TRUSTED_HEADER_ENV),
        help=f"single sign-on mode: take the user name from this request header set by your SSO proxy (e.g. X-Forwarded-User; "
        f"also ${TRUSTED_HEADER_ENV}). Off by default; only behind a proxy that strips the header from clients",
    )
    console.add_argument("--secure-cookie", action="store_true", help="send the session cookie over HTTPS only (set it behind TLS)")
    console.add_argument("--rules", metavar="FILE", help=f"rules file the preview page reads (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    console.add_argument("--extracts", metavar="DIR", help=f"extracts directory the preview page reads (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts)")
    console.set_defaults(func=_console)


def session_secret() -> str:
    """The key that signs session cookies: $ALLOCATION_CONSOLE_SECRET, else a random key kept in
    the data directory (mode 0600), so sessions survive a restart."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = settings.data_dir() / "console-secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _console(args) -> int:
    import uvicorn

    from allocation_pipeline.console.app import Settings, create_app
    from allocation_pipeline.warehouse.engine import WarehouseError, describe
    from allocation_pipeline.warehouse.people_store import count_users

    url = settings.warehouse_url()
    try:
        app = create_app(Settings(
            url, trusted_header=args.trusted_header, secure_cookie=args.secure_cookie, rules_file=args.rules, extracts_dir=args.extracts,
        ), secret_key=session_secret())
        with app.state.engine.connect() as conn:
            users = count_users(conn)
    except WarehouseError as exc:
        raise CommandError(str(exc)) from exc
    print(f"Allocation console on {describe(url)}: http://{args.host}:{args.port}/")
    if users == 0:
        print("No users yet: create the first with `allocation users add NAME --role admin` (then sign in).")
    if args.trusted_header:
        print(f"Single sign-on mode: users are named by the {args.trusted_header} header.")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
