"""``callcenter trunk|campaign|holiday|dnc``: set up and steer callback campaigns.

The running service picks changes up within seconds (the dialer reloads
campaigns every round), so these commands work against a live system too.
"""
from __future__ import annotations

import argparse
import getpass
import re
from datetime import date, datetime, timedelta

from ..campaigns.lifecycle import CampaignStateError
from ..campaigns.quiet import quiet
from ..campaigns.windows import CallingWindows
from ..db import campaigns as repo
from ..db import dialer as queue
from ..inputs import ascii_digits
from ..ledger.timezone import OFFICE_TZ
from .common import CliError, ExitCode, async_handler, database

ORDER = 50
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
CampaignDefaults = repo.CampaignSpec(name="", trunk="")
#: A new trunk's limits when not given; an existing trunk keeps its own (lowering --channels on a live
#: trunk must not also reset its pacing and caller ID).
TRUNK_DEFAULTS = {"dial": None, "channels": 10, "cps": 2.0, "caller_id": ""}


def duration(text: str) -> timedelta:
    """'30m', '2h', '1d' → timedelta; argparse shows the ValueError text as a usage error."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad duration {text!r}: use e.g. 90s, 30m, 2h, 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def local_day(text: str) -> datetime:
    """A date in office time (Asia/Shanghai) → the instant that day starts."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=OFFICE_TZ)


def window(text: str) -> str:
    try:
        CallingWindows.parse([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def register(sub: argparse._SubParsersAction) -> None:
    _register_trunk(sub)
    _register_campaign(sub)
    hol = sub.add_parser("holiday", help="days with no callbacks (法定节假日)")
    hol_actions = hol.add_subparsers(dest="holiday_command", metavar="ACTION", required=True)
    add = hol_actions.add_parser("add", help="add a holiday")
    add.add_argument("day", type=lambda s: local_day(s).date(), help="YYYY-MM-DD")
    add.add_argument("--name", default="", help="e.g. 国庆节")
    add.set_defaults(handler=run_holiday_add)
    dnc = sub.add_parser("dnc", help="do-not-call list (勿扰名单)")
    dnc_actions = dnc.add_subparsers(dest="dnc_command", metavar="ACTION", required=True)
    add = dnc_actions.add_parser("add", help="never call this number again")
    add.add_argument("phone")
    add.add_argument("--reason", required=True)
    add.set_defaults(handler=run_dnc_add)


def _register_trunk(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("trunk", help="outbound trunks: dial string, channel and rate limits")
    actions = p.add_subparsers(dest="trunk_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create or update a trunk (an update changes only the options given)")
    add.add_argument("name")
    add.add_argument("--dial", help="dial string template, e.g. 'PJSIP/{number}@trunk' (required for a new trunk)")
    add.add_argument("--channels", type=int, help=f"max concurrent channels (default {TRUNK_DEFAULTS['channels']})")
    add.add_argument("--cps", type=float, help=f"max call setups per second (default {TRUNK_DEFAULTS['cps']:g})")
    add.add_argument("--caller-id", help="caller ID shown to citizens")
    add.set_defaults(handler=run_trunk_add)


def _register_campaign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="callback campaigns: create, start, pause, resume, stop, status")
    actions = p.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    c = actions.add_parser("create", help="create a campaign in state draft",
                           description="Tickets are covered by a filter (closed date range in office time, "
                                       "department, community, category) or, with --standing, every ticket "
                                       "that passes 结案审核 from now on.")
    c.add_argument("name")
    c.add_argument("--trunk", required=True)
    c.add_argument("--script", default="callback_three_rates", help="IVR script in ivr_scripts/")
    c.add_argument("--standing", action="store_true", help="every newly closed ticket joins")
    c.add_argument("--closed-from", type=local_day, help="first closing day, YYYY-MM-DD (inclusive)")
    c.add_argument("--closed-to", type=local_day, help="last closing day, YYYY-MM-DD (inclusive)")
    c.add_argument("--department", help="科室 name")
    c.add_argument("--community", help="社区 name")
    c.add_argument("--category", help="一级分类")
    c.add_argument("--window", action="append", type=window, dest="windows",
                   help="calling window HH:MM-HH:MM, Asia/Shanghai; repeatable (default 09:00-12:00 and 14:00-20:00)")
    c.add_argument("--max-attempts", type=int, default=3)
    c.add_argument("--retry-busy", type=duration, default=timedelta(minutes=30))
    c.add_argument("--retry-no-answer", type=duration, default=timedelta(hours=2))
    c.add_argument("--retry-failed", type=duration, default=timedelta(hours=1))
    c.add_argument("--retry-partial", type=duration, default=timedelta(hours=2),
                   help="a citizen who hung up mid-survey is called again after this (default 2h)")
    c.add_argument("--no-answer-same-window", action="store_true",
                   help="retry unanswered calls in the same window segment (default: another time of day)")
    c.add_argument("--daily-cap", type=int, default=2, help="calls per number per day (default 2)")
    c.add_argument("--caller-id", default="")
    c.set_defaults(handler=run_create)
    for command, text in (("start", "start dialing"), ("pause", "stop placing new calls; live calls finish"),
                          ("resume", "continue a paused campaign"),
                          ("stop", "finish for good; attempts not yet dialed are cancelled, and their tickets "
                                   "go to the next campaign")):
        a = actions.add_parser(command, help=text)
        a.add_argument("name")
        a.set_defaults(handler=run_change_state, command=command)
    actions.add_parser("list", help="every campaign with its state").set_defaults(handler=run_list)
    st = actions.add_parser("status", help="attempts by state and outcome")
    st.add_argument("name")
    st.set_defaults(handler=run_status)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


@async_handler
async def run_trunk_add(args: argparse.Namespace) -> int:
    if args.dial is not None and "{number}" not in args.dial:
        raise CliError("--dial must contain {number}, e.g. 'PJSIP/{number}@trunk'", ExitCode.USAGE)
    if (args.channels is not None and args.channels < 1) or (args.cps is not None and args.cps <= 0):
        raise CliError("--channels must be ≥ 1 and --cps > 0", ExitCode.USAGE)
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            async with conn.transaction():
                old = await repo.trunk_by_name(conn, args.name)
                kept = (TRUNK_DEFAULTS if old is None else
                        {"dial": old["dial_template"], "channels": old["max_channels"], "cps": float(old["max_cps"]),
                         "caller_id": old["caller_id"]})
                given = {"dial": args.dial, "channels": args.channels, "cps": args.cps, "caller_id": args.caller_id}
                t = {key: kept[key] if value is None else value for key, value in given.items()}
                if t["dial"] is None:
                    raise CliError(f"trunk {args.name} does not exist yet: give --dial, e.g. 'PJSIP/{{number}}@trunk'",
                                   ExitCode.USAGE)
                trunk_id = await repo.upsert_trunk(conn, args.name, t["dial"], t["channels"], t["cps"],
                                                   t["caller_id"])
    print(f"trunk {args.name} (id {trunk_id}): {t['dial']}, {t['channels']} channels, {t['cps']:g} setups/s"
          + (f", caller ID {t['caller_id']}" if t["caller_id"] else ""))
    return 0


@async_handler
async def run_create(args: argparse.Namespace) -> int:
    if args.closed_from and args.closed_to and args.closed_to < args.closed_from:
        raise CliError("--closed-to is before --closed-from", ExitCode.USAGE)
    if args.max_attempts < 1 or args.daily_cap < 1:
        raise CliError("--max-attempts and --daily-cap must be ≥ 1", ExitCode.USAGE)
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                spec = repo.CampaignSpec(
                    name=args.name, trunk=args.trunk, script=args.script, standing=args.standing,
                    closed_from=args.closed_from,
                    closed_to=args.closed_to + timedelta(days=1) if args.closed_to else None,
                    department_id=await repo.unit_id(conn, "department", args.department) if args.department else None,
                    community_id=await repo.unit_id(conn, "community", args.community) if args.community else None,
                    category_l1=args.category,
                    windows=tuple(args.windows or CampaignDefaults.windows),
                    max_attempts=args.max_attempts, retry_busy=args.retry_busy,
                    retry_no_answer=args.retry_no_answer, retry_failed=args.retry_failed,
                    retry_partial=args.retry_partial, retry_no_answer_elsewhere=not args.no_answer_same_window,
                    daily_cap_per_number=args.daily_cap, caller_id=args.caller_id, created_by=_actor())
                campaign_id = await repo.create_campaign(conn, spec)
            except (repo.CampaignNotFound, ValueError) as exc:
                raise CliError(str(exc).strip("'\""), ExitCode.REJECTED) from exc
    print(f"campaign {args.name} created (id {campaign_id}, draft); start it with: callcenter campaign start {args.name}")
    return 0


@async_handler
async def run_change_state(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                campaign = await repo.get_campaign(conn, args.name)
                state = await repo.change_state(conn, campaign.id, args.command, actor=_actor())
            except repo.CampaignNotFound as exc:
                raise CliError(str(exc).strip("'\""), ExitCode.REJECTED) from exc
            except CampaignStateError as exc:
                raise CliError(str(exc), ExitCode.REJECTED) from exc
            notes = (await _stop_notes(conn, campaign.id) if state.value == "finished"
                     else await _notes(conn, await repo.get_campaign(conn, campaign.id)))
    print(f"campaign {args.name}: {state.value}")
    for note in notes:
        print(f"  {note}")
    return 0


async def _stop_notes(conn, campaign_id: int) -> list[str]:
    """After a stop: the calls still on the line are not cut off, and are recorded when they end."""
    counts = await repo.progress(conn, campaign_id)
    live = counts.get("dialing", 0) + counts.get("answered", 0)
    return [f"{live} call(s) still live finish and are recorded; calls not yet dialled are cancelled "
            "and their tickets go to the next campaign"] if live else []


async def _notes(conn, campaign: repo.Campaign) -> list[str]:
    """Why a campaign dials nothing now, or that it is done (callcenter.campaigns.quiet), in the CLI's words."""
    now = datetime.now(OFFICE_TZ)
    q = quiet(campaign.state.value, campaign.standing, campaign.windows, await repo.progress(conn, campaign.id),
              await queue.count_eligible(conn, campaign.id), now, await queue.capped_today(conn, campaign.id, now),
              await queue.last_heartbeat(conn))
    notes = []
    if q.paused:
        notes.append(f"paused: no new calls until: callcenter campaign resume {campaign.name}")
    if q.nothing_matches:
        notes.append("no ticket waiting at 待回访 matches this campaign's filters: nothing will be dialled"
                     + (" until a ticket passes 结案审核" if campaign.standing else ""))
    elif q.waiting and q.state in ("draft", "running"):
        notes.append(f"{q.waiting} ticket(s) waiting at 待回访 match"
                     + (" and join within seconds" if q.state == "running" else ""))
    if q.next_call_at is not None:
        notes.append(f"outside its calling windows now ({q.windows} Asia/Shanghai, not on holidays): "
                     f"the first call goes out at {q.next_call_at:%Y-%m-%d %H:%M}")
    if q.capped:
        notes.append(f"{q.capped} call(s) wait for tomorrow: their number was called {campaign.daily_cap_per_number} "
                     "time(s) today, the campaign's daily cap (--daily-cap)")
    if q.no_dialer_ever or q.no_dialer_since:
        notes.append("no dialer is running: nothing is dialled until `callcenter serve` runs"
                     + (f" (the last one checked in at {q.no_dialer_since:%Y-%m-%d %H:%M:%S})"
                        if q.no_dialer_since else ""))
    if q.done:
        notes.append(f"done: every ticket's callback is over; close it with: callcenter campaign stop {campaign.name}")
    return notes


@async_handler
async def run_list(args: argparse.Namespace) -> int:
    async with database(args) as db:
        rows = await repo.list_campaigns(db.pool)
    if not rows:
        print("no campaigns yet: callcenter campaign create NAME --trunk TRUNK")
    for r in rows:
        kind = "standing" if r["standing"] else "filter"
        print(f"{r['id']:4}  {r['name']:24} {r['state']:9} {kind:8} trunk={r['trunk']}  attempts={r['attempts']}")
    return 0


@async_handler
async def run_status(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                campaign = await repo.get_campaign(conn, args.name)
            except repo.CampaignNotFound as exc:
                raise CliError(str(exc).strip("'\""), ExitCode.REJECTED) from exc
            counts = await repo.progress(conn, campaign.id)
            notes = await _notes(conn, campaign) if campaign.state.value != "finished" else []
    print(f"campaign {campaign.name} ({campaign.state.value}), script {campaign.script}")
    for key in sorted(counts):
        print(f"  {key:20} {counts[key]}")
    for note in notes:
        print(f"note: {note}")
    return 0


@async_handler
async def run_holiday_add(args: argparse.Namespace) -> int:
    async with database(args) as db:
        await repo.add_holiday(db.pool, args.day, args.name)
    print(f"holiday {args.day} {args.name}: no callbacks that day")
    return 0


@async_handler
async def run_dnc_add(args: argparse.Namespace) -> int:
    phone = re.sub(r"[\s-]", "", args.phone)
    if not ascii_digits(phone):
        raise CliError(f"not a phone number: {args.phone!r}", ExitCode.USAGE)
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            cancelled = await repo.add_do_not_call(conn, phone, args.reason, _actor())
    print(f"{phone[:3]}****{phone[-4:]} will not be called again"
          + (f"; {cancelled} robot call(s) not yet dialled cancelled (the tickets stay 待回访 for a person)"
             if cancelled else ""))
    return 0
