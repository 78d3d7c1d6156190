"""``callcenter user add|list``: staff accounts, starting with the first admin."""
from __future__ import annotations

import argparse
import getpass
import sys

from ..db.users import ROLES, UserExists, add_user, list_users
from ..security.passwords import WeakPassword, check_strength, hash_password
from .common import CliError, ExitCode, async_handler, database

ORDER = 35


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="manage staff accounts (admin / supervisor / agent)")
    actions = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create an account; the password is asked for (or read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", default="", help="display name, e.g. 王主任")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=run_add)
    ls = actions.add_parser("list", help="list accounts")
    ls.set_defaults(handler=run_list)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for a password: use --password-stdin", ExitCode.USAGE)
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / again: ") != first:
        raise CliError("passwords differ", ExitCode.USAGE)
    return first


@async_handler
async def run_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    try:
        check_strength(password)
    except WeakPassword as exc:
        raise CliError(str(exc), ExitCode.REJECTED) from exc
    async with database(args) as db:
        try:
            user_id = await add_user(db.pool, args.username, args.role, hash_password(password), args.name)
        except UserExists as exc:
            raise CliError(str(exc), ExitCode.REJECTED) from exc
    print(f"created user {args.username} ({args.role}), id {user_id}")
    return 0


@async_handler
async def run_list(args: argparse.Namespace) -> int:
    async with database(args) as db:
        for u in await list_users(db.pool):
            print(f"{u['id']:4}  {u['username']:16} {u['role']:10} {'active' if u['active'] else 'disabled'}  {u['display_name']}")
    return 0
