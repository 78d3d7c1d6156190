"""``callcenter rates | explain | report monthly | ruleset list|add``: the three rates from the ledger.

Periods are named by the month they END in: ``--period 2024-05`` is the
assessment month 2024-04-19 00:00 → 2024-05-19 00:00 Beijing time (start day
and daily cut are in table scoring_calendar).  Every output names the rule
set in force on the period's first day, and the as-of instant for 核减.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from rich.table import Table

from ..db import scoring as repo
from ..ledger.timezone import as_local, office_text
from ..reports import scorecard
from ..reports.monthly_xlsx import write_monthly
from ..scoring.periods import Calendar, PeriodError
from ..scoring.explain import Explanation
from ..scoring.rates import BASIS_LABELS, display, round_half_up
from ..scoring.rules import DEFAULT_ANSWER_LABELS, QUESTION_LABELS, RuleSet, RuleSetError, validate
from . import reports as office_reports
from .common import UNMASKED_HELP, CliError, ExitCode, async_handler, audit_unmasked, database, output_console

ORDER = 45

PERIOD_HELP = ("assessment month YYYY-MM, named by the month it ends in: 2024-05 = 2024-04-19 00:00 → "
               "2024-05-19 00:00 Asia/Shanghai (start day configurable in scoring_calendar)")
AS_OF_HELP = ("count appeals granted (核减) up to this instant, ISO 8601, Beijing time if no offset "
              "(default: now; give it to reproduce an earlier report)")
JSON_HELP = "one JSON document on stdout instead of the table (for scripts)"
GROUP_LABELS = {"street": "街道", "department": "科室", "community": "社区", "category": "一级分类", "day": "日报日"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rates", help="三率 and composite score of a period, by unit (全口径 and 剔除后)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--period", required=True, help=PERIOD_HELP)
    p.add_argument("--by", choices=list(GROUP_LABELS), default="department", help="grouping (default: department)")
    p.add_argument("--basis", choices=["all", "excluded", "both"], default="both",
                   help="all = 全口径, excluded = 剔除后 (granted appeals removed), both (default)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--json", action="store_const", const="json", dest="format", help=JSON_HELP)
    p.add_argument("--as-of", type=_instant, help=AS_OF_HELP)
    p.set_defaults(handler=run_rates)

    p = sub.add_parser("explain", help="which tickets cost a unit its points, and what pending appeals would change",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--period", required=True, help=PERIOD_HELP)
    unit = p.add_mutually_exclusive_group()
    unit.add_argument("--department", metavar="NAME", help="科室 name (default: the whole street)")
    unit.add_argument("--community", metavar="NAME", help="社区 name")
    unit.add_argument("--category", metavar="NAME", help="一级分类")
    p.add_argument("--top", type=_positive, default=10, help="how many costliest tickets to list (default 10)")
    p.add_argument("--as-of", type=_instant, help=AS_OF_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=run_explain)

    p = sub.add_parser("stats", help="数据分析: volumes by category / unit / 诉求类别 / hour, hot spots, repeat callers, deadlines",
                       description="Tickets placed by 来电时间.  --day D gives the daily report window "
                                   "(D-1 12:00 → D 12:00 by default, scoring_calendar.daily_cut_hour).")
    p.add_argument("--period", required=True, help=PERIOD_HELP)
    p.add_argument("--day", type=_day, help="one daily report day (YYYY-MM-DD) instead of the whole period")
    p.add_argument("--top", type=_positive, default=10, help="rows per table (default 10)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--json", action="store_const", const="json", dest="format", help=JSON_HELP)
    p.add_argument("--as-of", type=_instant, help="judge deadlines at this instant (default: now)")
    p.add_argument("--unmasked", action="store_true", help=UNMASKED_HELP)
    p.set_defaults(handler=run_stats)

    p = sub.add_parser("report", help="reports: the 分中心's monthly workbook; the office's 日报/周报/月报/专报 (.docx + .xlsx)")
    kinds = p.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    m = kinds.add_parser("monthly", help="monthly workbook: summary, rankings, categories, daily trend, problem list",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--period", required=True, help=PERIOD_HELP)
    m.add_argument("--output", "-o", type=Path, help="the .xlsx to write (default: 三率月报-PERIOD.xlsx)")
    m.add_argument("--as-of", type=_instant, help=AS_OF_HELP)
    m.add_argument("--unmasked", action="store_true", help=UNMASKED_HELP)
    m.add_argument("--out-dir", type=Path, help="where the office's 月报 (.docx with charts + .xlsx) goes "
                   "(default: beside the workbook)")
    m.set_defaults(handler=run_report_monthly)
    office_reports.register_kinds(kinds)                 # daily / weekly / special (.docx + .xlsx)

    p = sub.add_parser("ruleset", help="scoring rule sets (k, weights, exclusions), dated")
    actions = p.add_subparsers(dest="ruleset_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="list rule sets by effective date")
    ls.set_defaults(handler=run_ruleset_list)
    add = actions.add_parser("add", help="add a rule set taking effect on a date",
                             description="Weights must sum to 1 (e.g. --weights 0.30/0.35/0.35 or 30/35/35); "
                                         "0 ≤ k ≤ 1.  A period uses the rule set in force on its first day.")
    add.add_argument("--name", required=True)
    add.add_argument("--effective-from", required=True, type=_day, help="YYYY-MM-DD")
    add.add_argument("--k", required=True, type=_decimal, help="基本满意 factor, e.g. 0.9")
    add.add_argument("--weights", required=True, type=_weights, help="响应/解决/满意 weights, e.g. 0.1/0.5/0.4 or 10/50/40")
    add.add_argument("--partly-counts-as", type=_decimal, default=Decimal(0),
                     help="部分解决 counts as this fraction of 已解决 (default 0 = unsolved)")
    add.add_argument("--include-consult", action="store_true", help="count 咨询 tickets (default: excluded)")
    add.add_argument("--include-failed", action="store_true", help="keep 回访不成功 in the denominator (default: excluded)")
    add.add_argument("--label", action="append", default=[], type=_label, metavar="QUESTION:LABEL=ANSWER",
                     help="accept LABEL in the city's file as ANSWER, e.g. solved:基本解决=已解决 or "
                          "satisfied:比较满意=基本满意 (repeatable; on top of the default labels). Questions: "
                          "contacted (是/否), solved (已解决/部分解决/未解决), satisfied (满意/基本满意/不满意)")
    add.add_argument("--note", default="")
    add.add_argument("--by", default="", help="who adds it (recorded)")
    add.set_defaults(handler=run_ruleset_add)
    cal = actions.add_parser("calendar", help="show or change the assessment calendar (period start day, daily cut)",
                             description="Without options, show it.  --start-day 19 makes 2024-05 run from "
                                         "2024-04-19 to 2024-05-18; 1 makes it the calendar month.")
    cal.add_argument("--start-day", type=int, help="first day of an assessment month, 1–28 (default 19)")
    cal.add_argument("--cut-hour", type=int, help="hour the daily report closes, 0–23 (default 12: noon to noon)")
    cal.set_defaults(handler=run_ruleset_calendar)


def _instant(text: str) -> datetime:
    try:
        return as_local(datetime.fromisoformat(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: {text!r}") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _label(text: str) -> tuple[str, str, str]:
    question, sep, rest = text.partition(":")
    label, eq, answer = rest.partition("=")
    if not (sep and eq and label.strip() and answer.strip()):
        raise argparse.ArgumentTypeError(f"expected QUESTION:LABEL=ANSWER, e.g. solved:基本解决=已解决; got {text!r}")
    return question.strip(), label.strip(), answer.strip()


def _weights(text: str) -> tuple[Decimal, Decimal, Decimal]:
    parts = text.split("/")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("three weights separated by '/', e.g. 0.1/0.5/0.4")
    values = tuple(_decimal(p) for p in parts)
    if sum(values) == 100:          # given in percent
        values = tuple(v / 100 for v in values)
    return values  # type: ignore[return-value]


def _bases(choice: str) -> list[str]:
    return ["all", "excluded"] if choice == "both" else [choice]


def _fmt(value) -> str:
    return "—" if value is None else str(value)


def rate_records(table: scorecard.RatesTable, bases: list[str]) -> list[dict]:
    """One flat record per unit and basis, with rates rounded for display."""
    records = []
    for row in table.rows:
        for basis in bases:
            r = row.basis(basis)
            records.append({"unit": row.name, "basis": basis, "basis_label": BASIS_LABELS[basis],
                            "volume": r.counts.volume, "effective": r.counts.n,
                            "response": display(r.response), "solved": display(r.solved),
                            "satisfied": display(r.satisfied), "composite": display(r.composite, percent=False)})
    return records


def rates_view(table: scorecard.RatesTable, records: list[dict]) -> Table:
    """The terminal table of a rates table (``scoring rates`` and the demo's summary)."""
    label = GROUP_LABELS[table.grouping]
    out = Table(title=f"{table.period.describe()} 三率 — 按{label}",
                caption=f"规则: {table.rule_set.describe()}；核减截至 {office_text(table.as_of)} (北京时间)")
    for head in (label, "口径", "工单量", "有效回访", "响应率%", "解决率%", "满意率%", "综合成绩"):
        out.add_column(head, justify="left" if head in (label, "口径") else "right")
    for r in records:
        out.add_row(r["unit"], r["basis_label"], str(r["volume"]), str(r["effective"]),
                    *(_fmt(r[k]) for k in ("response", "solved", "satisfied", "composite")))
    return out


@async_handler
async def run_rates(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                table = await scorecard.rates_table(conn, args.period, args.by, as_of=args.as_of)
            except PeriodError as exc:
                raise CliError(str(exc), ExitCode.USAGE) from exc
            except LookupError as exc:
                raise CliError(str(exc)) from exc
    records = rate_records(table, _bases(args.basis))
    if args.format == "json":
        json.dump({"period": table.period.label, "from": table.period.start.isoformat(),
                   "to": table.period.end.isoformat(), "rule_set": table.rule_set.describe(),
                   "as_of": as_local(table.as_of).isoformat(), "by": args.by, "rows": records},
                  sys.stdout, ensure_ascii=False, indent=2, default=lambda d: None if d is None else str(d))
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["period", "rule_set", GROUP_LABELS[args.by], "口径", "工单量", "有效回访",
                         "响应率(%)", "解决率(%)", "满意率(%)", "综合成绩"])
        for r in records:
            writer.writerow([table.period.label, table.rule_set.name, r["unit"], r["basis_label"], r["volume"],
                             r["effective"], *(_fmt(r[k]) for k in ("response", "solved", "satisfied", "composite"))])
    else:
        output_console().print(rates_view(table, records))
    return ExitCode.OK


@async_handler
async def run_explain(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            grouping, unit_id = "street", None
            for kind in ("department", "community"):
                name = getattr(args, kind)
                if name:
                    grouping, unit_id = kind, await repo.unit_id_by_name(conn, kind, name)
                    if unit_id is None:
                        raise CliError(f"no {kind} named {name!r}", ExitCode.USAGE)
            if args.category:
                grouping = "category"
            try:
                p, rule_set, e = await scorecard.explain_unit(conn, args.period, grouping, unit_id=unit_id,
                                                              category=args.category, as_of=args.as_of, top=args.top)
            except PeriodError as exc:
                raise CliError(str(exc), ExitCode.USAGE) from exc
            numbers = await repo.ticket_numbers(conn, [c.ticket_id for c in e.costliest])
    unit = args.department or args.community or args.category or "全街道"
    if args.json:
        _dump(explain_document(p, rule_set, e, unit, numbers))
        return ExitCode.OK
    print(f"{p.describe()} — {unit} (剔除后)")
    print(f"规则: {rule_set.describe()}")
    print(f"综合成绩 {_fmt(display(e.rates.composite, percent=False))}；响应率 {_fmt(display(e.rates.response))}%，"
          f"解决率 {_fmt(display(e.rates.solved))}%，满意率 {_fmt(display(e.rates.satisfied))}%，"
          f"有效回访 {e.rates.counts.n} 件")
    for g in e.groups:
        print(f"- {g.sentence()}")
    if e.costliest:
        print("失分最多的工单:")
        for c in e.costliest:
            print(f"  {numbers.get(c.ticket_id, c.ticket_id)}  {c.category_l1}  综合成绩 -{display(c.composite, percent=False)}")
    for w in e.what_ifs:
        print(f"若{w.label}: 综合成绩 {_fmt(display(w.rates.composite, percent=False))}"
              f"（{_fmt(display(w.composite_change, percent=False))}）")
    return ExitCode.OK


def _points(value: Fraction | None) -> float | None:
    """Points to six decimals: enough for a script to add the groups up to the gap exactly (to 0.01)."""
    return None if value is None else float(round_half_up(value, 6))


def explain_document(p, rule_set: RuleSet, e: Explanation, unit: str, numbers: dict) -> dict:
    """``explain --json``: the figures, each 失分 group (its own composite cost), the costliest tickets."""
    return {
        "period": p.label, "from": p.start.isoformat(), "to": p.end.isoformat(), "unit": unit,
        "basis": "excluded", "rule_set": rule_set.describe(), "effective": e.rates.counts.n,
        "composite": _points(e.rates.composite), "response": _points(e.rates.response and e.rates.response * 100),
        "solved": _points(e.rates.solved and e.rates.solved * 100),
        "satisfied": _points(e.rates.satisfied and e.rates.satisfied * 100),
        "gap": _points(None if e.rates.composite is None else 100 - e.rates.composite),
        "groups": [{"label": g.label, "rate": g.rate, "tickets": len(g.ticket_ids), "rate_points": _points(g.points),
                    "composite_points": _points(g.composite_points), "sentence": g.sentence()} for g in e.groups],
        "costliest": [{"ticket_no": numbers.get(c.ticket_id, str(c.ticket_id)), "category_l1": c.category_l1,
                       "composite_points": _points(c.composite)} for c in e.costliest],
        "what_ifs": [{"label": w.label, "composite": _points(w.rates.composite),
                      "change": _points(w.composite_change)} for w in e.what_ifs],
    }


def _dump(document: dict) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    print()


@async_handler
async def run_stats(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                found = await scorecard.statistics(conn, args.period, day=args.day, now=args.as_of, top=args.top)
            except PeriodError as exc:
                raise CliError(str(exc), ExitCode.USAGE) from exc
        if args.unmasked:
            await audit_unmasked(db, "stats", args.period)
            found = replace(found, phones_masked=False)
    if args.format == "json":
        _dump(found.as_dict())
        return ExitCode.OK
    console = output_console()
    console.print(f"[bold]{found.title}[/bold]  ({found.start:%Y-%m-%d %H:%M} → {found.end:%Y-%m-%d %H:%M}, 按来电时间)")
    for title, rows in found.tables().items():
        table = Table(title=title)
        for head in rows[0] if rows else ["—"]:
            table.add_column(str(head))
        for row in rows[1:]:
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)
    return ExitCode.OK


@async_handler
async def run_report_monthly(args: argparse.Namespace) -> int:
    async with database(args) as db:
        async with db.pool.acquire() as conn:
            try:
                m = await scorecard.monthly(conn, args.period, as_of=args.as_of)
            except PeriodError as exc:
                raise CliError(str(exc), ExitCode.USAGE) from exc
            except LookupError as exc:
                raise CliError(str(exc)) from exc
        if args.unmasked:
            await audit_unmasked(db, "report monthly", args.period)
            m = replace(m, phones_masked=False)
        output = args.output or Path(f"三率月报-{m.period.label}.xlsx")
        if output.suffix.lower() != ".xlsx":
            raise CliError(f"{output}: the report is an .xlsx workbook", ExitCode.USAGE)
        try:
            write_monthly(m, output)
        except OSError as exc:
            raise CliError(f"cannot write {output}: {exc}") from exc
        print(f"wrote {output} — {m.period.describe()}, 规则 {m.rule_set.name}")
        async with db.pool.acquire() as conn:          # the office's own 月报, as for 日报 / 周报
            await office_reports.write_office_report(conn, "monthly", args.out_dir or output.parent,
                                                     label=args.period)
    return ExitCode.OK


@async_handler
async def run_ruleset_list(args: argparse.Namespace) -> int:
    async with database(args) as db:
        for r in await repo.load_rule_sets(db.pool):
            print(f"{r.id:3}  {r.describe()}  咨询{'剔除' if r.exclude_consult else '计入'}  "
                  f"回访不成功{'剔除' if r.exclude_failed else '计入'}  {r.note}")
            labels = "；".join(f"{QUESTION_LABELS[q]} {label}={answer}" for q, label, answer in r.answer_labels)
            print(f"     答案标签: {labels or '仅标准答案'}")
    return ExitCode.OK


def with_labels(base: tuple[tuple[str, str, str], ...], extra: list[tuple[str, str, str]]
                ) -> tuple[tuple[str, str, str], ...]:
    """``base`` with each (question, label) of ``extra`` added or re-pointed."""
    table = {(q, label): answer for q, label, answer in base}
    table.update({(q, label): answer for q, label, answer in extra})
    return tuple((q, label, answer) for (q, label), answer in table.items())


@async_handler
async def run_ruleset_add(args: argparse.Namespace) -> int:
    w_response, w_solved, w_satisfied = args.weights
    rule_set = RuleSet(name=args.name, effective_from=args.effective_from, k=args.k, w_response=w_response,
                       w_solved=w_solved, w_satisfied=w_satisfied, partly_counts_as=args.partly_counts_as,
                       exclude_consult=not args.include_consult, exclude_failed=not args.include_failed,
                       note=args.note, answer_labels=with_labels(DEFAULT_ANSWER_LABELS, args.label))
    try:
        validate(rule_set)
    except RuleSetError as exc:
        raise CliError(f"rule set rejected: {exc}", ExitCode.REJECTED) from exc
    async with database(args) as db:
        try:
            new_id = await repo.add_rule_set(db.pool, rule_set, created_by=args.by)
        except repo.RuleSetExists as exc:
            raise CliError(str(exc), ExitCode.REJECTED) from exc
    print(f"added rule set {new_id}: {rule_set.describe()}")
    return ExitCode.OK


@async_handler
async def run_ruleset_calendar(args: argparse.Namespace) -> int:
    async with database(args) as db:
        current = await repo.load_calendar(db.pool)
        if args.start_day is not None or args.cut_hour is not None:
            try:
                current = Calendar(period_start_day=current.period_start_day if args.start_day is None else args.start_day,
                                   daily_cut_hour=current.daily_cut_hour if args.cut_hour is None else args.cut_hour,
                                   timezone=current.timezone)
            except PeriodError as exc:
                raise CliError(str(exc), ExitCode.REJECTED) from exc
            await repo.save_calendar(db.pool, current)
    print(f"考核月: 每月 {current.period_start_day} 日 0:00 起至次月 {current.period_start_day} 日 0:00 止 "
          f"(以结束月份命名); 日报: {current.daily_cut_hour}:00 至次日 {current.daily_cut_hour}:00; 时区 {current.timezone}")
    return ExitCode.OK
