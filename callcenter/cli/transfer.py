"""``callcenter import|export|sample tickets``: the city's ticket files in and out, and demo data."""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator, Sequence

import asyncpg

from ..db.scoring import load_calendar
from ..db.ticket_export import record_export
from ..ledger.timezone import office_text
from ..scoring.periods import PeriodError, period, period_containing
from ..transfer import sample
from ..transfer.exporter import default_export_path, export_tickets, month_bounds
from ..transfer.importer import ImportRejected, import_tickets
from ..transfer.progress import terminal_progress
from ..transfer.file_errors import FileRejected, UnsupportedFile
from ..transfer.urban_import import import_urban_cases
from ..transfer.writer import FORMATS, format_of
from .common import CliError, ExitCode, async_handler, cli_actor, database

ORDER = 40

#: Rejected rows listed on the terminal; the rest are counted (the rejects file has them all).
MAX_LISTED_ERRORS = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import", help="import the city's ticket export (csv/xlsx) into the ledger")
    imp_kinds = imp.add_subparsers(dest="import_kind", metavar="WHAT", required=True)
    tickets = imp_kinds.add_parser(
        "tickets", help="import tickets from a .csv (UTF-8/GB18030) or .xlsx file",
        description="Import the city's ticket export. Headers are the city's Chinese ones (工单编号, 一级分类, "
                    "来电时间 …) or the ledger's column names (ticket_no, category_l1, called_at …). "
                    "All or nothing: if any row is invalid nothing is written and every bad row is listed "
                    "(exit 3). Each ticket enters the flow at the state its 工单状态 names (docs/city-data.md), "
                    "with no invented steps. Re-importing is safe: known 工单编号 are updated, never duplicated, "
                    "and only ever moved forward; a ledger ahead of the city is kept and the disagreement "
                    "recorded. 是否联系/是否解决/是否满意 accept the labels of the rule set in force on 来电时间 "
                    "(e.g. 基本解决, 比较满意; see `ruleset list`). CSV must be "
                    "UTF-8 (with or without BOM) or GB18030/GBK; times without a zone are Beijing time. "
                    "Exit codes: 0 imported, 2 unusable path, 3 file or rows rejected, 1 other failure.")
    tickets.add_argument("file", type=Path, help="the .csv or .xlsx file")
    tickets.add_argument("--skip-invalid", action="store_true",
                         help="import the valid rows; write the invalid ones with their reasons to "
                              "FILE.rejects.csv beside the input")
    tickets.set_defaults(handler=run_import)
    urban = imp_kinds.add_parser(
        "urban", help="import urban-management / grid cases (csv/xlsx) awaiting 审核",
        description="Import cases from the district's urban-management platform or grid inspections. Headers: "
                    "案件编号, 案件类型, 上报时间 (required), 案件来源 (城管平台/网格巡查), 问题描述, 问题点位, 所在社区, "
                    "上报人, or the column names (case_no, case_type, reported_at …). Same rules as `import "
                    "tickets`: all or nothing, every bad row listed (exit 3), or --skip-invalid; known 案件编号 are "
                    "left unchanged. Exit codes: 0 imported, 2 unusable path, 3 file or rows rejected, 1 other failure.")
    urban.add_argument("file", type=Path, help="the .csv or .xlsx file")
    urban.add_argument("--skip-invalid", action="store_true",
                       help="import the valid rows; write the invalid ones with their reasons to FILE.rejects.csv")
    urban.set_defaults(handler=run_import_urban)

    exp = sub.add_parser("export", help="export one assessment month of the ledger with the city's headers")
    exp_kinds = exp.add_subparsers(dest="export_kind", metavar="WHAT", required=True)
    tickets = exp_kinds.add_parser(
        "tickets", help="export one assessment month's tickets to csv/xlsx",
        description="Write the tickets whose 来电时间 falls in one assessment month (the default) or one "
                    "calendar month, Beijing time (Asia/Shanghai). --period 2024-05 is the assessment month "
                    "2024-04-19 00:00 to 2024-05-19 00:00 (start day from `ruleset calendar`); --month 2024-05 "
                    "is the calendar month 2024-05-01 00:00 to 2024-06-01 00:00. With neither, the assessment "
                    "month running now. The headers are the city's. CSV is UTF-8 with BOM, which Excel on "
                    "Chinese Windows opens correctly. 来电人电话 is masked (138****0001) unless --unmasked; "
                    "only an unmasked file re-imports. Each export is recorded in the audit log.")
    window = tickets.add_mutually_exclusive_group()
    window.add_argument("--period", metavar="YYYY-MM",
                        help="assessment month named by the month it ends in (default: the current one)")
    window.add_argument("--month", metavar="YYYY-MM", help="calendar month of 来电时间, e.g. 2024-05")
    tickets.add_argument("--unmasked", action="store_true",
                         help="write full phone numbers (for re-import or the city); recorded in the audit log")
    tickets.add_argument("--format", choices=FORMATS, help="csv or xlsx (default: from --out, else csv)")
    tickets.add_argument("--out", type=Path, help="output file (default: tickets-YYYY-MM.FORMAT)")
    tickets.set_defaults(handler=run_export)

    smp = sub.add_parser("sample", help="generate synthetic demo data (fictitious people and numbers)")
    smp_kinds = smp.add_subparsers(dest="sample_kind", metavar="WHAT", required=True)
    tickets = smp_kinds.add_parser(
        "tickets", help="write synthetic 西三旗街道 tickets in the city's export format",
        description="Seeded, reproducible synthetic tickets for 海淀区西三旗街道. Every phone number is in "
                    "the fictitious range 13800000000–13800099999 and every name is invented.")
    tickets.add_argument("--rows", type=_non_negative, default=sample.SHIPPED_ROWS,
                         help=f"number of tickets (default {sample.SHIPPED_ROWS})")
    tickets.add_argument("--seed", type=int, default=sample.SHIPPED_SEED,
                         help=f"random seed; same seed, same file (default {sample.SHIPPED_SEED})")
    tickets.add_argument("--out", type=Path, required=True, help="output .csv or .xlsx file")
    tickets.add_argument("--start", type=_day, default=sample.SHIPPED_START, metavar="YYYY-MM-DD",
                         help=f"first day of calls (default {sample.SHIPPED_START})")
    tickets.add_argument("--months", type=_positive, default=sample.SHIPPED_MONTHS,
                         help=f"length of the period in months (default {sample.SHIPPED_MONTHS})")
    tickets.set_defaults(handler=run_sample)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a whole number ≥ 0: {text!r}")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@async_handler
async def run_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    with _import_errors(path):
        with terminal_progress(sys.stdout.isatty()) as progress:
            async with database(args) as db:
                report = await import_tickets(db.pool, path, skip_invalid=args.skip_invalid, progress=progress)
    _print_ignored_headers(report.ignored_headers)
    print(f"{path.name}: {report.rows} 行 rows ({report.encoding}) — 新增 inserted {report.inserted}, "
          f"更新 updated {report.updated}, 未变 unchanged {report.unchanged}, 拒绝 rejected {report.rejected}")
    if report.units_created:
        print(f"新建单位 (new departments/communities): {report.units_created}")
    _print_rejects(report.errors, report.rejects_file)
    return int(ExitCode.OK)


@async_handler
async def run_import_urban(args: argparse.Namespace) -> int:
    path: Path = args.file
    with _import_errors(path):
        async with database(args) as db:
            report = await import_urban_cases(db.pool, path, actor=cli_actor(), skip_invalid=args.skip_invalid)
    _print_ignored_headers(report.ignored_headers)
    print(f"{path.name}: {report.rows} 行 rows ({report.encoding}) — 新增 inserted {report.inserted}, "
          f"已存在 existing {report.existing}, 拒绝 rejected {report.rejected}")
    _print_rejects(report.errors, report.rejects_file)
    return int(ExitCode.OK)


@contextmanager
def _import_errors(path: Path) -> Iterator[None]:
    """Both importers fail the same ways; map each to its message and exit code in one place."""
    try:
        yield
    except UnsupportedFile as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    except ConnectionError as exc:
        raise CliError(f"无法连接数据库 (cannot reach the database): {exc}") from exc
    except (asyncpg.PostgresError, OSError) as exc:
        raise CliError(f"{path.name}: 导入失败, 未写入任何数据 (import failed, nothing written): {exc}") from exc
    except FileRejected as exc:
        raise CliError(f"{exc}; 未导入任何数据 (nothing imported)", ExitCode.REJECTED) from exc
    except ImportRejected as exc:
        _print_errors(exc.errors)
        raise CliError(f"{path.name}: {exc}", ExitCode.REJECTED) from exc


def _print_ignored_headers(headers: Sequence[str]) -> None:
    if headers:
        print(f"忽略未知列 (ignored columns): {'、'.join(headers)}", file=sys.stderr)


def _print_rejects(errors, rejects_file: Path | None) -> None:
    """With --skip-invalid the bad rows were set aside: list them and say where they went."""
    if rejects_file:
        _print_errors(errors)
        print(f"被拒绝的行及原因已写入 (rejected rows written to): {rejects_file}")


def _print_errors(errors) -> None:
    for error in errors[:MAX_LISTED_ERRORS]:
        value = f" [{error.value}]" if error.value else ""
        print(f"第 {error.line} 行 line {error.line}, 列 {error.column}: {error.reason}{value}", file=sys.stderr)
    if len(errors) > MAX_LISTED_ERRORS:
        print(f"… 另有 {len(errors) - MAX_LISTED_ERRORS} 个错误 (more errors)", file=sys.stderr)


@async_handler
async def run_export(args: argparse.Namespace) -> int:
    try:
        fmt = args.format or (format_of(args.out) if args.out else "csv")
        if args.month:
            bounds, label, basis = month_bounds(args.month), args.month, "自然月"
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    out = args.out
    try:
        with terminal_progress(sys.stdout.isatty()) as progress:
            async with database(args) as db:
                if not args.month:
                    cal = await load_calendar(db.pool)
                    try:
                        p = period(args.period, cal) if args.period else period_containing(datetime.now(cal.tz), cal)
                    except PeriodError as exc:
                        raise CliError(str(exc), ExitCode.USAGE) from exc
                    bounds, label, basis = (p.start, p.end), p.label, "考核月"
                out = out or default_export_path(label, fmt)
                rows = await export_tickets(db.pool, bounds, out, fmt, progress, mask_phones=not args.unmasked)
                await record_export(db.pool, actor=cli_actor(), month=label, path=str(out.resolve()), rows=rows,
                                    basis=basis, unmasked=args.unmasked)
    except ConnectionError as exc:
        raise CliError(f"无法连接数据库 (cannot reach the database): {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise CliError(f"导出失败 (export failed): {exc}") from exc
    except OSError as exc:
        raise CliError(f"{out}: 导出失败 (export failed): {exc.strerror or exc}") from exc
    start, end = (office_text(b) for b in bounds)
    masked = "完整号码 (已记入审计日志)" if args.unmasked else "电话已脱敏"
    print(f"exported {rows} tickets of {basis} {label} (来电时间 {start} → {end}, 北京时间; {masked}) to {out}")
    return int(ExitCode.OK)


def run_sample(args: argparse.Namespace) -> int:
    try:
        fmt = format_of(args.out)
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc
    try:
        rows = sample.write_sample(args.out, args.rows, seed=args.seed, start=args.start,
                                   months=args.months, fmt=fmt)
    except OSError as exc:
        raise CliError(f"{args.out}: 无法写入 (cannot write): {exc.strerror or exc}") from exc
    print(f"wrote {rows} synthetic tickets to {args.out} (seed {args.seed}, from {args.start}, "
          f"{args.months} months; phones 13800000000–13800099999 are fictitious)")
    return int(ExitCode.OK)
