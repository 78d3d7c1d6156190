"""``callcenter demo``: the whole job on a fresh machine — no PBX, no database to set up.

It runs the real service (dialer, AMI link, FastAGI IVR, web) against the
shipped Asterisk simulator, on a database of its own (``callcenter_demo``,
rebuilt each run, so the office's ledger is never touched): the sample
tickets are imported and worked to 待回访, a campaign calls every one back,
and the three rates per department are printed at the end.
"""
from __future__ import annotations

import argparse
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from ..config import Settings
from ..netutil import free_port, port_is_free
from .common import CliError, ExitCode, async_handler, output_console, settings_from
from .serve import wait_for_stop_signal

ORDER = 10
DEMO_DATABASE = "callcenter_demo"
TRUNK = "citizen-sim"
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a whole callback campaign against the built-in Asterisk simulator",
                       description="Imports the sample tickets into a demo database of its own, starts the "
                                   "service and the Asterisk simulator, calls every closed ticket back with "
                                   "live progress, then prints the three rates per department.")
    p.add_argument("--time-scale", type=_scale, default=0.02,
                   help="simulated call durations × this (default 0.02: a 2-minute call takes 2.4 s)")
    p.add_argument("--channels", type=_positive, default=40, help="trunk channels (default 40)")
    p.add_argument("--cps", type=_positive, default=20, help="call setups per second (default 20)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the simulated citizens' behaviour")
    p.add_argument("--timeout", type=float, default=900.0, help="give up waiting after this many seconds")
    p.add_argument("--sample", type=Path, default=None, metavar="FILE",
                   help="tickets to import instead of the shipped sample (the city's csv/xlsx export format)")
    p.add_argument("--stay", action="store_true",
                   help="keep the service and the web admin running afterwards (Ctrl-C to stop)")
    p.add_argument("--no-web", action="store_true", help="don't start the web admin")
    p.set_defaults(handler=run_demo)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1]")
    return value


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str


@async_handler
async def run_demo(args: argparse.Namespace) -> int:
    from ..db.database import drop_database
    from ..service import Service, ServiceOptions
    from ..sim.simulator import SimConfig, Simulator

    console = output_console()
    if not getattr(args, "verbose", False):      # the progress bar tells the story; per-call logs would drown it
        logging.getLogger("callcenter").setLevel(logging.WARNING)
    base = settings_from(args)
    console.print(f"[bold]接诉即办回访演示[/bold] — database {DEMO_DATABASE!r} "
                  f"({'server ' + base.dsn.split('@')[-1] if base.dsn else 'embedded PostgreSQL under ' + str(base.home)})")
    await drop_database(base, DEMO_DATABASE)
    agi_port = free_port()
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi_port}/callback",
                              time_scale=args.time_scale, seed=args.seed,
                              username=base.ami_user, secret=base.ami_secret))
    sim_port = await sim.start()
    settings = replace(base, ami_host="127.0.0.1", ami_port=sim_port, agi_host="127.0.0.1", agi_port=agi_port,
                       instance_name="demo", recordings_dir=base.home / "demo-recordings",
                       web_port=base.web_port if port_is_free(base.web_host, base.web_port) else 0)
    service = Service(settings, ServiceOptions(database=DEMO_DATABASE, web=not args.no_web))
    try:
        await service.start()
        console.print(f"Asterisk simulator on AMI 127.0.0.1:{sim_port}; FastAGI on :{agi_port}")
        login = None
        if service.web_port:           # first, so the campaign can be watched live in the browser
            async with service.db.pool.acquire() as conn:
                login = await _demo_login(conn)
            console.print(sign_in_line(settings.web_host, service.web_port, login))
        return await _run_campaign(args, service, settings, console, login)
    finally:
        await service.stop(grace=5)
        await sim.close()


def sign_in_line(host: str, port: int, login: DemoLogin) -> str:
    return (f"网页管理台 web admin: http://{host}:{port}/  用户 user [bold]{login.username}[/bold]  "
            f"密码 password [bold]{login.password}[/bold]（管理员 admin）— 登录后在“回访活动”里实时观看")


async def _run_campaign(args: argparse.Namespace, service, settings: Settings, console: Console,
                        login: DemoLogin | None) -> int:
    from ..db import campaigns as campaign_repo
    from ..demo.ledger import SAMPLE_FILE, prepare_ledger
    from ..demo.watch import current_period_label, watch_campaign
    from ..transfer.progress import terminal_progress

    pool = service.db.pool
    with terminal_progress(console.is_terminal) as progress:
        prepared = await prepare_ledger(pool, progress, args.sample or SAMPLE_FILE)
    states = prepared.states
    console.print(f"导入样例工单 {prepared.imported.rows} 件；待回访 {states.get('awaiting_callback', 0)} 件，"
                  f"办理中 {states.get('handling', 0)} 件，市级已回访 {states.get('called_back', 0)} 件")
    async with pool.acquire() as conn:
        await campaign_repo.upsert_trunk(conn, TRUNK, "Local/{number}@citizen-sim", args.channels, args.cps,
                                         '"西三旗街道 12345" <01082345678>')
        campaign_id = await campaign_repo.create_campaign(conn, campaign_repo.CampaignSpec(
            name="演示回访", trunk=TRUNK, windows=("00:00-23:59",), max_attempts=3,
            retry_busy=timedelta(seconds=3), retry_no_answer=timedelta(seconds=4),
            retry_failed=timedelta(seconds=3), retry_partial=timedelta(seconds=4), retry_no_answer_elsewhere=False,
            daily_cap_per_number=50, created_by="demo"))
        await campaign_repo.change_state(conn, campaign_id, "start", actor="demo")
    view = await watch_campaign(pool, campaign_id, console, timeout=args.timeout)
    if not view.done:
        raise CliError(f"campaign still had {view.open_tickets} ticket(s) open after {args.timeout:.0f} s")
    async with pool.acquire() as conn:
        period = await current_period_label(conn)
    await _print_summary(pool, campaign_id, console, period)
    if args.stay:
        if login:
            console.print(sign_in_line(settings.web_host, service.web_port, login))
        console.print("service still running — Ctrl-C to stop")
        await wait_for_stop_signal()
    return ExitCode.OK


async def _demo_login(conn) -> DemoLogin:
    """A throwaway admin for the demo database only (a fresh password each run)."""
    from ..db.users import add_user, get_user
    from ..security.passwords import hash_password
    password = secrets.token_urlsafe(12)
    if await get_user(conn, "demo") is None:
        await add_user(conn, "demo", "admin", hash_password(password))
    return DemoLogin("demo", password)


async def _print_summary(pool, campaign_id: int, console: Console, period: str) -> None:
    from ..campaigns.outcomes import Outcome
    from ..db import campaigns as campaign_repo
    from ..reports import scorecard
    from .scoring import rate_records, rates_view
    async with pool.acquire() as conn:
        counts = await campaign_repo.progress(conn, campaign_id)
        table = await scorecard.rates_table(conn, period, "department")
    outcomes = [f"{o.value} {counts[o.value]}" for o in Outcome if counts.get(o.value)]
    console.print(f"回访 {counts.get('tickets', 0)} 件工单，拨出 {counts.get('placed', 0)} 次：" + "，".join(outcomes))
    console.print(rates_view(table, rate_records(table, ["all"])))
