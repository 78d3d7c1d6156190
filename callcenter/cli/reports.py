"""``callcenter report daily|weekly|special``: the office's reports as .docx (with charts) and .xlsx.

(``report monthly``, the 分中心's workbook, lives with the scoring commands; this
module adds its subcommands to the same ``report`` group, and ``monthly`` writes the
office's monthly .docx + .xlsx through :func:`write_office_report` as well.)
"""
from __future__ import annotations

import argparse
import getpass
from datetime import date
from pathlib import Path

from .common import CliError, ExitCode, async_handler, database

HELP = {"daily": "日报: one daily report window (--period YYYY-MM-DD; noon to noon by default)",
        "weekly": "周报: Monday to Sunday (--period YYYY-Www or any day of the week)",
        "special": "专报: any days (--from/--to), optionally one --category or --community"}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def register_kinds(kinds: argparse._SubParsersAction) -> None:
    """Called by the ``report`` group (cli/scoring.py) to add the office's reports beside ``monthly``."""
    for kind, text in HELP.items():
        p = kinds.add_parser(kind, help=text, description=text + ". Writes a .docx (with charts) and an .xlsx "
                             "with the tables into --out-dir and lists them on the 报表 page. "
                             "Exit 2 on a bad period.")
        if kind == "special":
            p.add_argument("--from", dest="start_day", type=_day, required=True, metavar="YYYY-MM-DD")
            p.add_argument("--to", dest="end_day", type=_day, required=True, metavar="YYYY-MM-DD")
        else:
            p.add_argument("--period", required=True)
        p.add_argument("--category", help="only this 一级分类")
        p.add_argument("--community", help="only this 社区 (as the city writes it)")
        p.add_argument("--out-dir", type=Path, default=Path("."), help="where to write (default: here)")
        p.set_defaults(handler=run_report, report_kind=kind)


@async_handler
async def run_report(args: argparse.Namespace) -> int:
    async with database(args) as db, db.pool.acquire() as conn:
        await write_office_report(conn, args.report_kind, args.out_dir, label=getattr(args, "period", None),
                                  start_day=getattr(args, "start_day", None), end_day=getattr(args, "end_day", None),
                                  category=args.category, community=args.community)
    return ExitCode.OK


async def write_office_report(conn, kind: str, out_dir: Path, **window) -> None:
    """Write one office report (.docx with charts + .xlsx), log it for the 报表 page and say where it went."""
    from ..reports.produce import produce           # matplotlib loads only for the command that draws
    from ..reports.windows import WindowError
    try:
        written = await produce(conn, kind, out_dir, created_by=getpass.getuser(), **window)
    except WindowError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    except OSError as exc:
        raise CliError(f"cannot write into {out_dir}: {exc}") from exc
    print(f"wrote {written.docx} and {written.xlsx} — {written.report.window.title}, {written.report.volume} 件")
