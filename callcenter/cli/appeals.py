"""``callcenter appeals``: draw up the daily candidate list (for cron) and set the candidate rules from TOML."""
from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path

import asyncpg

from ..db import appeals as repo
from ..db import scoring as scoring_repo
from ..ledger import appeals as ap
from ..ledger.timezone import OFFICE_TZ
from ..scoring.periods import day_window, report_day
from .common import CliError, ExitCode, async_handler, database

ORDER = 45


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("appeals", help="考核申诉: daily candidate list, candidate rules")
    kinds = p.add_subparsers(dest="appeals_command", metavar="WHAT", required=True)
    c = kinds.add_parser(
        "candidates", help="run the candidate rules over one report day (safe to re-run)",
        description="List the tickets of one daily report window (noon to noon by default, the scoring calendar's "
                    "cut hour) that the rules propose for appeal, for a supervisor to confirm or dismiss on the "
                    "申诉 page. Candidates already listed keep their decision. Exit codes: 0 done, 1 failure, 2 usage.")
    c.add_argument("--day", type=_day, metavar="YYYY-MM-DD", help="report day (default: the current one)")
    c.set_defaults(handler=run_candidates)
    r = kinds.add_parser(
        "rules", help="show the candidate rules, or replace them from a TOML file",
        description="Without --set: print the rules as JSON. With --set FILE: read the [appeals] table of a TOML "
                    "file (keys: street_name, address_keywords, repeat_min_tickets, repeat_window_days, "
                    "duplicate_window_days, keywords, categories, submit_within_days, warn_within_hours), check "
                    "every value, and store it. Exit codes: 0 done, 1 failure, 2 unreadable file, 3 invalid rules.")
    r.add_argument("--set", dest="toml", type=Path, metavar="FILE", help="TOML file with an [appeals] table")
    r.set_defaults(handler=run_rules)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


@async_handler
async def run_candidates(args: argparse.Namespace) -> int:
    try:
        async with database(args) as db:
            async with db.pool.acquire() as conn:
                cal = await scoring_repo.load_calendar(conn)
                day = args.day or report_day(datetime.now(OFFICE_TZ), cal)
                start, end = day_window(day, cal)
                added = await repo.generate_candidates(conn, day, start, end)
                total = len(await repo.list_candidates(conn, day))
    except (ConnectionError, asyncpg.PostgresError) as exc:
        raise CliError(f"候选清单生成失败 (failed): {exc}") from exc
    except ap.AppealError as exc:
        raise CliError(f"申诉规则配置无效 (stored rules invalid): {exc}", ExitCode.USAGE) from exc
    print(f"{day}: 新增候选 {added} 条, 共 {total} 条 (window {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M})")
    return int(ExitCode.OK)


@async_handler
async def run_rules(args: argparse.Namespace) -> int:
    rules = None
    if args.toml:
        try:
            text = args.toml.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{args.toml}: 无法读取 (cannot read): {exc}", ExitCode.USAGE) from exc
        try:
            rules = ap.rules_from_toml(text)
        except ap.AppealError as exc:
            raise CliError(f"{args.toml}: {exc}", ExitCode.REJECTED) from exc
    try:
        async with database(args) as db:
            async with db.pool.acquire() as conn:
                if rules is not None:
                    await repo.save_rules(conn, rules, actor="cli")
                rules = await repo.load_rules(conn)
    except (ConnectionError, asyncpg.PostgresError) as exc:
        raise CliError(f"failed: {exc}") from exc
    print(json.dumps(ap.rules_to_mapping(rules), ensure_ascii=False, indent=2))
    return int(ExitCode.OK)
