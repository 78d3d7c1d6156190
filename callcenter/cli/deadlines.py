"""``callcenter deadlines list|add``: the dated 签收 / 首次联系 / 办结 limits, without SQL."""
from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date

from ..db import deadline_policies as repo
from ..db.tickets import load_policies
from ..ledger.deadlines import DEFAULT_POLICY, POLICY_FIELDS
from ..ledger.timezone import office_text
from .common import CliError, ExitCode, async_handler, cli_actor, database

ORDER = 46


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deadlines", help="deadline policies (签收/首次联系/办结 limits), dated")
    actions = p.add_subparsers(dest="deadlines_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="list deadline policies by effective date")
    ls.set_defaults(handler=run_list)
    add = actions.add_parser(
        "add", help="add a deadline policy taking effect on a date",
        description="A ticket is judged by the policy in force when it was dispatched (Beijing date). "
                    "Limits not given are copied from the newest policy. close_days_complex is also the "
                    "longest 延期: a new 办结 deadline may lie at most that many days after dispatch.")
    add.add_argument("--effective-from", required=True, type=_day, help="YYYY-MM-DD")
    for name, label in POLICY_FIELDS:
        add.add_argument(f"--{name.replace('_', '-')}", type=int, metavar="N", help=label)
    add.add_argument("--note", default="", help="why (e.g. the city's notice)")
    add.set_defaults(handler=run_add)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


@async_handler
async def run_list(args: argparse.Namespace) -> int:
    async with database(args) as db:
        rows = await repo.list_policies(db.pool)
    print("生效日期     " + "  ".join(label for _, label in POLICY_FIELDS) + "  说明")
    for r in rows:
        print(f"{r['effective_from'].isoformat()}  " + "  ".join(str(r[name]) for name, _ in POLICY_FIELDS)
              + f"  {r['note']} (录入 {office_text(r['created_at'])})")
    return ExitCode.OK


@async_handler
async def run_add(args: argparse.Namespace) -> int:
    async with database(args) as db:
        policies = await load_policies(db.pool)
        base = max(policies, key=lambda p: p.effective_from) if policies else DEFAULT_POLICY
        given = {name: getattr(args, name) for name, _ in POLICY_FIELDS if getattr(args, name) is not None}
        policy = replace(base, effective_from=args.effective_from, **given)
        async with db.pool.acquire() as conn:
            try:
                await repo.add_policy(conn, policy, note=args.note, actor=cli_actor())
            except repo.PolicyRejected as exc:
                raise CliError(f"办理期限规则被拒绝: {exc}", ExitCode.REJECTED) from exc
    print(f"added deadline policy from {policy.effective_from.isoformat()}: "
          + ", ".join(f"{label} {getattr(policy, name)}" for name, label in POLICY_FIELDS))
    return ExitCode.OK
