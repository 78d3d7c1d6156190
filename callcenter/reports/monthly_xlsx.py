"""The monthly workbook a 分中心 asks for: summary, rankings, categories, daily trend, problem tickets.

Figures are written as numbers already rounded the way the city shows them
(two decimals, percent), so the workbook and the terminal never disagree;
charts are native openpyxl charts, so they stay live if someone edits a cell.
"""
from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..desk.quality import AGENT_HEADERS, AGENT_NOTE, agent_row
from ..ledger.privacy import shown_phone
from ..ledger.timezone import OFFICE_TZ, office_text
from ..scoring.answers import INTENT_LABELS, SOURCE_LABELS
from ..scoring.explain import Explanation
from ..scoring.ranking import RankedUnit
from ..scoring.rates import BASIS_LABELS, Rates, display
from ..transfer.safe_cells import safe_cell
from .scorecard import COMPLIANCE_HEADERS, Monthly, Ranking, compliance_row

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
RATE_HEADERS = ["有效回访", "响应率(%)", "解决率(%)", "满意率(%)", "综合成绩"]


def _rate_cells(r: Rates) -> list[Any]:
    return [r.counts.n, display(r.response), display(r.solved), display(r.satisfied),
            display(r.composite, percent=False)]


def _table(ws: Worksheet, row: int, headers: Sequence[str], rows: Iterable[Sequence[Any]], col: int = 1) -> int:
    """Write a header and rows from (row, col); return the last row written."""
    for j, h in enumerate(headers):
        cell = ws.cell(row=row, column=col + j, value=h)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    last = row
    for i, values in enumerate(rows, start=1):
        last = row + i
        for j, v in enumerate(values):
            cell = ws.cell(row=last, column=col + j, value=safe_cell(v))
            if hasattr(v, "as_tuple"):          # Decimal figures: keep two decimals visible
                cell.number_format = "0.00"
    return last


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _header(ws: Worksheet, title: str, m: Monthly) -> int:
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=f"期间: {m.period.describe()}，北京时间；核减截至 {office_text(m.as_of)}")
    ws.cell(row=3, column=1, value=f"评分规则: {m.rule_set.describe()}")
    return 5


def _summary(ws: Worksheet, m: Monthly) -> None:
    row = _header(ws, "接诉即办三率月报 — 汇总", m)
    last = _table(ws, row, ["口径", "工单量", *RATE_HEADERS],
                  [[BASIS_LABELS[b], m.street.basis(b).counts.volume, *_rate_cells(m.street.basis(b))]
                   for b in ("all", "excluded")])
    row = last + 2
    ws.cell(row=row, column=1, value="失分分析 (剔除后)").font = BOLD
    for i, line in enumerate(_explanation_lines(m.explanation), start=1):
        ws.cell(row=row + i, column=1, value=line)
    row += len(_explanation_lines(m.explanation)) + 2
    ws.cell(row=row, column=1, value="时限执行情况 (按来电时间)").font = BOLD
    _table(ws, row + 1, COMPLIANCE_HEADERS, [compliance_row(c) for c in m.compliance])
    ws.cell(row=row + 6, column=1, value=f"生成时间 {office_text(datetime.now(OFFICE_TZ))} (北京时间)；期间约定: "
            f"每月{m.calendar.period_start_day}日 0 时起至次月{m.calendar.period_start_day}日 0 时止；"
            f"日报 {m.calendar.daily_cut_hour} 时至次日 {m.calendar.daily_cut_hour} 时")
    _widths(ws, [14, 10, 10, 11, 11, 11, 11])


def _ratio(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def _explanation_lines(e: Explanation) -> list[str]:
    lines = [g.sentence() for g in e.groups]
    for w in e.what_ifs[:1]:
        lines.append(f"若{w.label}: 综合成绩 {display(w.rates.composite, percent=False)}"
                     f"（变化 {display(w.composite_change, percent=False)}）")
    return lines or ["本期无失分工单"]


def _ranking(ws: Worksheet, m: Monthly, ranking: Ranking, unit_label: str) -> None:
    row = _header(ws, f"{unit_label}排名 ({BASIS_LABELS[ranking.basis]}，综合成绩降序，同分按工单量)", m)
    ws.cell(row=4, column=1, value=f"上期规则: {ranking.previous_rule_set.describe()}")

    def cells(u: RankedUnit) -> list[Any]:
        change = display(u.composite_change, percent=False)
        return [u.rank if u.rank is not None else "—", u.name, u.volume, *_rate_cells(u.rates),
                u.previous_rank if u.previous_rank is not None else "—",
                u.rank_change if u.rank_change is not None else "—", change if change is not None else "—"]
    last = _table(ws, row, ["排名", unit_label, "工单量", *RATE_HEADERS, "上期排名", "名次变化", "综合成绩变化"],
                  [cells(u) for u in ranking.units])
    scored = sum(1 for u in ranking.units if u.rank is not None)
    if scored:
        chart = BarChart()
        chart.title, chart.y_axis.title = f"{unit_label}综合成绩", "综合成绩"
        chart.add_data(Reference(ws, min_col=8, min_row=row, max_row=row + scored), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=row + 1, max_row=row + scored))
        chart.width, chart.height = 24, 10
        ws.add_chart(chart, f"A{last + 3}")
    _widths(ws, [6, 16, 8, 9, 10, 10, 10, 10, 9, 9, 12])


def _categories(ws: Worksheet, m: Monthly) -> None:
    row = _header(ws, "分类统计 (一级分类，按来电时间，环比上期)", m)
    last = _table(ws, row, ["一级分类", "本期", "上期", "增减", "环比(%)"],
                  [[t.key, t.count, t.previous, t.change, display(t.change_ratio) if t.previous else "—"]
                   for t in m.categories])
    if m.categories:
        chart = BarChart()
        chart.title = "各类工单量"
        chart.add_data(Reference(ws, min_col=2, max_col=3, min_row=row, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=row + 1, max_row=last))
        chart.width, chart.height = 24, 10
        ws.add_chart(chart, "H5")
    row = last + 3
    ws.cell(row=row - 1, column=1, value="三级分类").font = BOLD
    last = _table(ws, row, ["一级分类", "二级分类", "三级分类", "工单量"],
                  [[r["category_l1"], r["category_l2"], r["category_l3"], r["tickets"]] for r in m.categories_by_level])
    row = last + 3
    ws.cell(row=row - 1, column=1, value="诉求类别").font = BOLD
    last = _table(ws, row, ["诉求类别", "工单量"], m.by_appeal_kind)
    row = last + 3
    ws.cell(row=row - 1, column=1, value="来电时段").font = BOLD
    _table(ws, row, ["时段(时)", "工单量"], m.by_hour)
    _widths(ws, [14, 14, 14, 10, 10])


#: The one date base of the 日趋势 and 问题工单 sheets: when a ticket's answers were given.
SCORE_DATE_HEADER = "回访日期 (本街道回访按回访时间, 市级回访按其回访时间, 文件无回访时间时按办结时间)"


def score_date_basis(source: str, city_dated: bool) -> str:
    """Which time dates a scored ticket (callcenter.scoring.answers.resolve)."""
    if source == "own":
        return "回访时间"
    return "市级回访时间" if source == "city" and city_dated else "办结时间"


def _daily(ws: Worksheet, m: Monthly) -> None:
    """One base for every column: the day a ticket was scored (never 来电时间 beside 回访)."""
    row = _header(ws, f"日趋势 (日报 {m.calendar.daily_cut_hour}:00 至次日 {m.calendar.daily_cut_hour}:00，剔除后；"
                      f"按{SCORE_DATE_HEADER})", m)
    rates_by_day = {r.key: r.excluded for r in m.daily.rows}
    days = sorted(rates_by_day)
    last = _table(ws, row, ["日期", "工单量", *RATE_HEADERS],
                  [[d.isoformat(), rates_by_day[d].counts.volume, *_rate_cells(rates_by_day[d])] for d in days])
    if days:
        line = LineChart()
        line.title, line.y_axis.title = "每日三率 (%)", "%"
        line.add_data(Reference(ws, min_col=4, max_col=6, min_row=row, max_row=last), titles_from_data=True)
        line.set_categories(Reference(ws, min_col=1, min_row=row + 1, max_row=last))
        line.width, line.height = 26, 10
        ws.add_chart(line, "J5")
        volume = LineChart()
        volume.title = "每日工单量 (按回访日期)"
        volume.add_data(Reference(ws, min_col=2, min_row=row, max_row=last), titles_from_data=True)
        volume.set_categories(Reference(ws, min_col=1, min_row=row + 1, max_row=last))
        volume.width, volume.height = 26, 8
        ws.add_chart(volume, "J27")
    _widths(ws, [12, 11, 9, 10, 10, 10, 10])


def _problems(ws: Worksheet, m: Monthly) -> None:
    row = _header(ws, "不满意 / 未解决工单清单", m)
    _table(ws, row, ["工单编号", "标题", "一级分类", "二级分类", "承办科室", "社区", "问题点位", "是否联系",
                     "是否解决", "是否满意", "不满意原因", "回访来源", "回访时间/办结时间", "时间依据", "已核减"],
           [[p["ticket_no"], p["title"], p["category_l1"], p["category_l2"], p["department"] or "", p["community"] or "",
             p["address"], INTENT_LABELS.get(p["contacted"], ""), INTENT_LABELS.get(p["solved"], ""),
             INTENT_LABELS.get(p["satisfaction"], ""), p["reason"] or "", SOURCE_LABELS.get(p["source"], p["source"]),
             office_text(p["scored_at"]), score_date_basis(p["source"], p["city_dated"]),
             "是" if p["granted"] else ""]
            for p in m.problems])
    ws.freeze_panes = f"A{row + 1}"
    _widths(ws, [16, 24, 12, 12, 12, 12, 20, 8, 9, 9, 30, 11, 16, 9, 7])


def _hot_spots(ws: Worksheet, m: Monthly) -> None:
    row = _header(ws, "热点点位与重复诉求人", m)
    last = _table(ws, row, ["问题点位 (按社区和楼号归并)", "工单量", "不同标题", "分类", "工单编号(前10)"],
                  [[h.place, h.tickets, h.titles, "、".join(h.categories), "、".join(h.ticket_nos)]
                   for h in m.hot_spots])
    _table(ws, last + 3, ["来电人电话", "来电人", "工单量", "分类", "首次来电", "最近来电"],
           [[shown_phone(c["caller_phone"], masked=m.phones_masked), c["caller_name"], c["tickets"], "、".join(c["categories"]),
             office_text(c["first_at"]), office_text(c["last_at"])] for c in m.repeat_callers])
    _widths(ws, [24, 10, 24, 40, 17, 17])


def _urban(ws: Worksheet, m: Monthly) -> None:
    """城市管理: cases by type, community and unit, on-time closure, repeat locations (callcenter.db.urban)."""
    row = _header(ws, "城市管理 / 网格案件", m)
    u = m.urban
    on_time = display(_ratio(u.closed_on_time, u.closed))
    last = _table(ws, row, ["上报案件", "已结案", "按期结案", "按期结案率(%)"], [[u.total, u.closed, u.closed_on_time, on_time]])
    last = _table(ws, last + 2, ["案件类型", "案件数"], u.by_type)
    last = _table(ws, last + 2, ["社区", "案件数"], u.by_community)
    last = _table(ws, last + 2, ["承办单位", "案件数", "已结案", "按期结案", "按期结案率(%)"],
                  [[name, n, closed, ok, display(_ratio(ok, closed))] for name, n, closed, ok in u.by_department])
    _table(ws, last + 2, ["重复点位", "案件数", "案件类型"], u.repeat_locations)
    _widths(ws, [24, 10, 10, 10, 14])


def _agents(ws: Worksheet, m: Monthly) -> None:
    """坐席统计: the /desk/stats table for the assessment month (callcenter.db.quality.agent_statistics)."""
    row = _header(ws, "人工回访坐席统计", m)
    last = _table(ws, row, AGENT_HEADERS, [agent_row(f) for f in m.agents])
    ws.cell(row=last + 2, column=1, value=AGENT_NOTE)
    _widths(ws, [14, 9, 11, 13, 11, 10, 11])


def build_workbook(m: Monthly) -> Workbook:
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    _summary(summary, m)
    _ranking(wb.create_sheet("科室排名"), m, m.departments, "科室")
    _ranking(wb.create_sheet("社区排名"), m, m.communities, "社区")
    _categories(wb.create_sheet("分类统计"), m)
    _daily(wb.create_sheet("日趋势"), m)
    _problems(wb.create_sheet("不满意未解决"), m)
    _hot_spots(wb.create_sheet("热点与重复"), m)
    if m.urban is not None and m.urban.total:      # only when the period had urban cases
        _urban(wb.create_sheet("城市管理"), m)
    if m.agents:                                   # only when agents called or were graded in the period
        _agents(wb.create_sheet("坐席统计"), m)
    return wb


def write_monthly(m: Monthly, path: Path) -> Path:
    """Save the workbook via a temporary file, so a failed run never leaves half a report behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        build_workbook(m).save(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
