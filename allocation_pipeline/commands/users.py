"""`allocation users`: the people who use the console, their roles and passwords."""

from __future__ import annotations

import argparse
import getpass
import sys

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError
from allocation_pipeline.core.ledger.people import ROLES


def register(subparsers: argparse._SubParsersAction) -> None:
    users = subparsers.add_parser("users", help="console users: add, list, change role or password, deactivate")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user (asks for the password unless --password-stdin or --sso)")
    add.add_argument("name", help="user name (letters, digits and . _ @ -)")
    add.add_argument("--role", choices=ROLES, required=True, help="viewer reads; preparer submits; approver approves, rejects, posts, voids; admin all of it and users")
    _password_options(add)
    add.add_argument("--sso", action="store_true", help="no password: the user signs in only through the trusted SSO header")
    add.set_defaults(func=_add)

    listing = actions.add_parser("list", help="list users with role and state")
    listing.set_defaults(func=_list)

    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("name", help="the user whose role changes")
    role.add_argument("role", choices=ROLES, help="the new role: " + ", ".join(ROLES))
    role.set_defaults(func=_set_role)

    password = actions.add_parser("set-password", help="set a new password (also lifts sign-in throttling)")
    password.add_argument("name", help="the user whose password is set")
    _password_options(password)
    password.set_defaults(func=_set_password)

    for name, active in (("deactivate", False), ("activate", True)):
        command = actions.add_parser(name, help=f"{name} a user (a deactivated user cannot sign in)")
        command.add_argument("name", help="the user")
        command.set_defaults(func=_set_active, active=active)


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of standard input")


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ; nothing changed")
    return first


def _acting_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _store(action, *args):
    from allocation_pipeline.warehouse.engine import WarehouseError, ensure_schema, make_engine
    from allocation_pipeline.warehouse.people_store import UserError

    engine = make_engine(settings.warehouse_url())
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            return action(conn, *args)
    except (UserError, WarehouseError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        engine.dispose()


def _add(args) -> int:
    from allocation_pipeline.warehouse.people_store import create_user

    password = None if args.sso else _password(args)
    _store(create_user, args.name, args.role, password, _acting_user())
    print(f"user {args.name} added with role {args.role}" + (" (signs in through SSO only)" if args.sso else ""))
    return 0


def _list(args) -> int:
    from allocation_pipeline.reporting import format_table
    from allocation_pipeline.warehouse.people_store import list_users

    users = _store(list_users)
    if users.empty:
        print("no users yet; add the first with: allocation users add NAME --role admin")
        return 0
    print(format_table(users[["user_name", "role", "active", "failed_logins", "created_at", "created_by"]]))
    return 0


def _set_role(args) -> int:
    from allocation_pipeline.warehouse.people_store import set_role

    _store(set_role, args.name, args.role)
    print(f"user {args.name} now has role {args.role}")
    return 0


def _set_password(args) -> int:
    from allocation_pipeline.warehouse.people_store import set_password

    _store(set_password, args.name, _password(args))
    print(f"password of {args.name} changed")
    return 0


def _set_active(args) -> int:
    from allocation_pipeline.warehouse.people_store import set_active

    _store(set_active, args.name, args.active)
    print(f"user {args.name} {'activated' if args.active else 'deactivated'}")
    return 0
