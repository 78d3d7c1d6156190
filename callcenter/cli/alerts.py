"""``callcenter duty …`` (值班表) and ``callcenter alerts …`` (rules, group-robot channels, the list)."""
from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import asyncpg

from ..alerts.messages import RULE_LABELS, STATE_LABELS
from ..db import alerts as alerts_repo
from ..db import duty as duty_repo
from ..ledger.duty import ShiftError, make_shift
from ..ledger.timezone import OFFICE_TZ
from .common import CliError, ExitCode, async_handler, database

ORDER = 62
CHANNEL_KINDS = ("wecom", "dingtalk", "webhook")


def _local(at: datetime) -> str:
    return at.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


def register(sub: argparse._SubParsersAction) -> None:
    duty = sub.add_parser("duty", help="值班表: the duty rota that alert e-mails go to")
    d = duty.add_subparsers(dest="duty_command", metavar="ACTION", required=True)
    add = d.add_parser("add", help="add a shift (Beijing time)",
                       description="Add one person's shift. Times are Beijing time, YYYY-MM-DD HH:MM. "
                                   "Alert e-mails go to the --email of everyone on duty. Exit 2 on bad input.")
    add.add_argument("--from", dest="start", required=True, metavar="'YYYY-MM-DD HH:MM'")
    add.add_argument("--to", dest="end", required=True, metavar="'YYYY-MM-DD HH:MM'")
    add.add_argument("--name", required=True, help="the person on duty")
    add.add_argument("--email", default="", help="where alert e-mails go")
    add.add_argument("--phone", default="")
    add.add_argument("--note", default="")
    add.set_defaults(handler=run_duty_add)
    lst = d.add_parser("list", help="current and coming shifts")
    lst.set_defaults(handler=run_duty_list)
    rm = d.add_parser("remove", help="remove a shift by its id (from `duty list`)")
    rm.add_argument("id", type=int)
    rm.set_defaults(handler=run_duty_remove)

    alerts = sub.add_parser("alerts", help="预警: rules, group-robot channels, open alerts")
    a = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    a.add_parser("list", help="alerts not yet closed").set_defaults(handler=run_alerts_list)
    a.add_parser("rules", help="the rules, on/off and thresholds").set_defaults(handler=run_rules)
    rule = a.add_parser("rule", help="turn a rule on/off or change its threshold",
                        description="Thresholds: new_ticket and deadline_passed and hotline_high_risk: look-back "
                                    "hours; deadline_soon: minutes ahead; spike: minimum count for a 高发 warning.")
    rule.add_argument("rule", choices=tuple(RULE_LABELS))
    rule.add_argument("--threshold", type=int)
    onoff = rule.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="enabled", action="store_const", const=True)
    onoff.add_argument("--off", dest="enabled", action="store_const", const=False)
    rule.set_defaults(handler=run_rule)
    chan = a.add_parser("channel", help="group-robot webhooks alerts are sent to")
    c = chan.add_subparsers(dest="channel_command", metavar="ACTION", required=True)
    cadd = c.add_parser("add", help="add a 企业微信 / 钉钉 robot or a generic JSON webhook")
    cadd.add_argument("name")
    cadd.add_argument("--kind", choices=CHANNEL_KINDS, required=True)
    cadd.add_argument("--url", required=True, help="the robot's webhook address (http/https)")
    cadd.set_defaults(handler=run_channel_add)
    c.add_parser("list", help="the channels").set_defaults(handler=run_channel_list)
    crm = c.add_parser("remove", help="remove a channel by name")
    crm.add_argument("name")
    crm.set_defaults(handler=run_channel_remove)


@async_handler
async def run_duty_add(args: argparse.Namespace) -> int:
    try:
        shift = make_shift(args.start, args.end, args.name, args.email, args.phone, args.note)
    except ShiftError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    async with database(args) as db, db.pool.acquire() as conn:
        shift_id = await duty_repo.add_shift(conn, **asdict(shift), created_by="cli")
    print(f"shift {shift_id}: {shift.staff_name} {_local(shift.starts_at)} – {_local(shift.ends_at)}")
    return ExitCode.OK


@async_handler
async def run_duty_list(args: argparse.Namespace) -> int:
    now = datetime.now(timezone.utc)
    async with database(args) as db, db.pool.acquire() as conn:
        shifts = await duty_repo.shifts_from(conn, now - timedelta(days=1))
    for s in shifts:
        mark = "*" if s["starts_at"] <= now < s["ends_at"] else " "
        print(f"{mark}{s['id']:>5}  {_local(s['starts_at'])} – {_local(s['ends_at'])}  {s['staff_name']}  "
              f"{s['email']}  {s['phone']}  {s['note']}".rstrip())
    if not shifts:
        print("no shifts (没有排班)")
    return ExitCode.OK


@async_handler
async def run_duty_remove(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        if not await duty_repo.remove_shift(conn, args.id):
            raise CliError(f"班次 {args.id} 不存在", ExitCode.USAGE)
    print(f"removed shift {args.id}")
    return ExitCode.OK


@async_handler
async def run_alerts_list(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        items = await alerts_repo.alert_list(conn, ("new", "acknowledged"))
    for i in items:
        print(f"{i['id']:>6}  {_local(i['created_at'])}  {STATE_LABELS[i['state']]}  {RULE_LABELS[i['rule']]}  "
              f"{i['title']}")
    return ExitCode.OK


@async_handler
async def run_rules(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        for r in (await alerts_repo.rules(conn)).values():
            print(f"{r['rule']:<18} {'on ' if r['enabled'] else 'off'}  threshold {r['threshold']:<5} "
                  f"{RULE_LABELS[r['rule']]}")
    return ExitCode.OK


@async_handler
async def run_rule(args: argparse.Namespace) -> int:
    if args.threshold is not None and args.threshold < 0:
        raise CliError("--threshold 不能为负数", ExitCode.USAGE)
    async with database(args) as db, db.pool.acquire() as conn:
        await alerts_repo.set_rule(conn, args.rule, enabled=args.enabled, threshold=args.threshold, actor="cli")
    print(f"rule {args.rule} updated")
    return ExitCode.OK


@async_handler
async def run_channel_add(args: argparse.Namespace) -> int:
    if not args.url.startswith(("http://", "https://")):
        raise CliError("--url 应以 http:// 或 https:// 开头", ExitCode.USAGE)
    async with database(args) as db, db.pool.acquire() as conn:
        try:
            channel_id = await alerts_repo.add_channel(conn, args.name, args.kind, args.url)
        except asyncpg.UniqueViolationError:
            raise CliError(f"渠道 {args.name} 已存在", ExitCode.USAGE) from None
    print(f"channel {channel_id}: {args.name} ({args.kind})")
    return ExitCode.OK


@async_handler
async def run_channel_list(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        for c in await alerts_repo.channels(conn):
            print(f"{c['name']:<20} {c['kind']:<9} {'on ' if c['active'] else 'off'} {c['url']}")
    return ExitCode.OK


@async_handler
async def run_channel_remove(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        if not await alerts_repo.remove_channel(conn, args.name):
            raise CliError(f"渠道 {args.name} 不存在", ExitCode.USAGE)
    print(f"removed channel {args.name}")
    return ExitCode.OK
