"""``callcenter user token NAME``: an API token for the JSON API and /metrics, shown once.

The token acts with NAME's role (an admin's token may read /metrics and do
what an admin may).  Only its SHA-256 is stored: lose it and make a new one.
``--list`` shows every token (never the secret); ``--revoke ID`` ends one.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from ..db import api_tokens
from ..ledger.timezone import office_text
from .common import CliError, ExitCode, async_handler, database

ORDER = 36


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


def _user_actions(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ACTION subparsers of ``callcenter user`` (cli/users.py registers that command first)."""
    user = sub.choices.get("user")
    if user is None:
        user = sub.add_parser("user", help="manage staff accounts")
        return user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    for action in user._actions:                  # argparse keeps no public handle on nested subparsers
        if isinstance(action, argparse._SubParsersAction):
            return action
    return user.add_subparsers(dest="user_command", metavar="ACTION", required=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = _user_actions(sub).add_parser(
        "token", help="make, list or revoke API tokens (JSON API, /metrics)",
        description="Prints a new token for NAME once; only its hash is kept. "
                    "Send it as 'Authorization: Bearer <token>'.")
    p.add_argument("name", nargs="?", help="username the token acts as")
    p.add_argument("--label", default="", help="what the token is for, e.g. 区平台对接 or prometheus")
    p.add_argument("--list", action="store_true", help="list tokens (ids, owners, last use), not their secrets")
    p.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id")
    p.set_defaults(handler=run_token)


@async_handler
async def run_token(args: argparse.Namespace) -> int:
    chosen = sum(bool(x) for x in (args.name, args.list, args.revoke is not None))
    if chosen != 1:
        raise CliError("give exactly one of: NAME (make a token), --list, --revoke ID", ExitCode.USAGE)
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            if args.list:
                for t in await api_tokens.list_tokens(conn):
                    state = f"revoked {office_text(t['revoked_at'], '%Y-%m-%d')}" if t["revoked_at"] else "active"
                    used = office_text(t["last_used_at"]) if t["last_used_at"] else "never used"
                    print(f"{t['id']:4}  {t['username']:16} {state:18} {used:18} {t['label']}")
                return 0
            try:
                if args.revoke is not None:
                    await api_tokens.revoke_token(conn, args.revoke, actor=_actor())
                    print(f"revoked token {args.revoke}")
                    return 0
                token_id, token = await api_tokens.create_token(conn, args.name, label=args.label,
                                                                created_by=_actor())
            except api_tokens.TokenError as exc:
                raise CliError(str(exc), ExitCode.REJECTED) from exc
    print(token)
    print(f"token {token_id} for {args.name}: shown once, store it now (Authorization: Bearer <token>)",
          file=sys.stderr)
    return 0
