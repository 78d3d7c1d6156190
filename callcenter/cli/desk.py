"""``callcenter desk rules list|set`` and ``desk form list|add``: the human callback desk's settings.

``rules``: which robot results a campaign hands to the desk — the same rules as
the 转人工规则 page (/desk/rules), changed through the same audited repository
call.  ``form``: the 质检 grading form's dated versions (a call is graded on
the version in force on its day, so a new version never touches an old grade).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date

from ..db import desk as repo
from ..db import quality as quality_repo
from ..desk.escalation import SWITCH_LABELS, UNREACHED_RANGE, describe
from ..desk.quality import GradeError, parse_form_items
from ..ledger.timezone import office_text
from .common import CliError, ExitCode, async_handler, cli_actor, database

ORDER = 52
_FLAGS = {"partial": "partial", "refused": "refused", "dissatisfied": "dissatisfied",
          "low_confidence": "low-confidence"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("desk", help="人工回访: the human callback desk (escalation rules per campaign)")
    groups = p.add_subparsers(dest="desk_command", metavar="GROUP", required=True)
    rules = groups.add_parser("rules", help="转人工规则: what a campaign sends to the human queue")
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="every campaign's escalation rules").set_defaults(handler=run_list)
    low, high = UNREACHED_RANGE
    s = actions.add_parser(
        "set", help="change one campaign's rules (only the options given change)",
        description="Change a campaign's escalation rules; options not given keep their value. "
                    "The change is audited and the running dialer applies it to the next finished round. "
                    "Exit 2 on bad usage, 3 for a campaign that does not exist.")
    s.add_argument("campaign", help="campaign name, or its id (from `desk rules list`)")
    onoff = s.add_mutually_exclusive_group()
    onoff.add_argument("--enable", dest="enabled", action="store_const", const=True, help="turn escalation on")
    onoff.add_argument("--disable", dest="enabled", action="store_const", const=False,
                       help="send nothing of this campaign to the desk")
    reach = s.add_mutually_exclusive_group()
    reach.add_argument("--unreached-after", type=int, metavar="N",
                       help=f"escalate a citizen not reached after N robot attempts ({low}–{high})")
    reach.add_argument("--never-unreached", action="store_true", help="never escalate unreached citizens")
    for field, flag in _FLAGS.items():
        s.add_argument(f"--{flag}", dest=field, action=argparse.BooleanOptionalAction, default=None,
                       help=f"{SWITCH_LABELS[field]} goes to the desk (--no-{flag}: it does not)")
    s.set_defaults(handler=run_set)

    form = groups.add_parser("form", help="质检表: the grading form's dated versions")
    form_actions = form.add_subparsers(dest="form_command", metavar="ACTION", required=True)
    form_actions.add_parser("list", help="every form version with its items").set_defaults(handler=run_form_list)
    add = form_actions.add_parser(
        "add", help="a new version of a grading form, in force from a date",
        description="Add a version of the 质检 form. Each --item is key:名称:满分 (e.g. script:按脚本准确读题:30); "
                    "the version number follows the form's newest. Calls are graded on the version in force on "
                    "the call's day (Beijing). Exit 2 on a bad item or date.")
    add.add_argument("--name", default="回访质检", help="form name (default 回访质检)")
    add.add_argument("--effective-from", required=True, type=_day, metavar="YYYY-MM-DD")
    add.add_argument("--item", action="append", required=True, dest="items", metavar="KEY:名称:满分")
    add.set_defaults(handler=run_form_add)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def _campaign_key(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text


@async_handler
async def run_list(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        rows = await repo.campaign_rules(conn)
    if not rows:
        print("no campaigns yet: callcenter campaign create NAME --trunk TRUNK")
    for r in rows:
        print(f"{r['id']:4}  {r['name']:24} {r['state']:9} {describe(repo.rules_of(r))}")
    return ExitCode.OK


@async_handler
async def run_set(args: argparse.Namespace) -> int:
    low, high = UNREACHED_RANGE
    if args.unreached_after is not None and not low <= args.unreached_after <= high:
        raise CliError(f"--unreached-after must be between {low} and {high}", ExitCode.USAGE)
    changes = {field: getattr(args, field) for field in ("enabled", *_FLAGS) if getattr(args, field) is not None}
    if args.unreached_after is not None or args.never_unreached:
        changes["unreached_after"] = args.unreached_after
    if not changes:
        raise CliError("nothing to change: give --enable/--disable, --unreached-after N, --never-unreached "
                       "or a --[no-]RULE option", ExitCode.USAGE)
    async with database(args) as db, db.pool.acquire() as conn:
        key = _campaign_key(args.campaign)
        found = await repo.campaign_rules_of(conn, key)
        if found is None and isinstance(key, int):         # a campaign may be named with digits only
            found = await repo.campaign_rules_of(conn, args.campaign)
        if found is None:
            raise CliError(f"活动 {args.campaign!r} 不存在 (callcenter desk rules list 列出全部活动)", ExitCode.REJECTED)
        campaign_id, name, current = found
        rules = replace(current, **changes)
        if not await repo.set_campaign_rules(conn, campaign_id, rules, by=cli_actor()):
            raise CliError(f"活动 {args.campaign!r} 不存在", ExitCode.REJECTED)
    print(f"campaign {name} (id {campaign_id}): {describe(rules)}")
    return ExitCode.OK


def _items(raw) -> list[dict]:
    return json.loads(raw) if isinstance(raw, str) else raw


@async_handler
async def run_form_list(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        rows = await quality_repo.forms(conn)
    for r in rows:
        items = _items(r["items"])
        print(f"{r['effective_from'].isoformat()}  {r['name']} 第 {r['version']} 版  满分 {sum(int(i['max']) for i in items)}"
              f"  已评 {r['grades']} 通  (录入 {r['created_by']} {office_text(r['created_at'])})")
        for i in items:
            print(f"    {i['key']:12} {i['label']}  {i['max']}")
    return ExitCode.OK


@async_handler
async def run_form_add(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > 40:
        raise CliError("--name must be 1–40 characters", ExitCode.USAGE)
    try:
        items = parse_form_items(args.items)
    except GradeError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    async with database(args) as db, db.pool.acquire() as conn:
        version = await quality_repo.add_form(conn, name, args.effective_from, items, by=cli_actor())
    print(f"form {name} version {version} from {args.effective_from.isoformat()}: "
          + ", ".join(f"{i.label} {i.max}" for i in items) + f" (满分 {sum(i.max for i in items)})")
    return ExitCode.OK
