"""The office report as a Word document, in the register of a street office's 工作日报/周报.

Numbered sections (一、二、…), one sentence of figures per section, then the
table; charts are PNG images (callcenter.reports.charts).
"""
from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.shared import Cm, Pt

from ..desk.quality import AGENT_NOTE
from ..ledger.timezone import OFFICE_TZ
from ..scoring.rates import shown
from . import charts
from . import office_tables as tables
from .figures import change_text
from .office import OfficeReport
from .windows import KIND_LABELS

OFFICE = "西三旗街道"
NUMBERS = "一二三四五六七八九十"
MAX_ROWS = 30


def _table(doc, table: tables.Table) -> None:
    headers, rows = table
    if not rows:
        doc.add_paragraph("（无）")
        return
    t = doc.add_table(rows=1, cols=len(headers))
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, headers):
        cell.text = str(text)
    for row in rows[:MAX_ROWS]:
        for cell, value in zip(t.add_row().cells, row):
            cell.text = "" if value is None else str(value)
    if len(rows) > MAX_ROWS:
        doc.add_paragraph(f"（共 {len(rows)} 行, 此处列前 {MAX_ROWS} 行, 全部见 Excel 附表）")


def _picture(doc, png: bytes) -> None:
    doc.add_picture(io.BytesIO(png), width=Cm(15))


def _rates_sentence(r: OfficeReport) -> str:
    if r.street is None:
        return "；".join(r.notes) or "本期无三率数据。"
    ex, al = shown(r.street.excluded), shown(r.street.all)
    fmt = lambda v: "—" if v is None else str(v)                       # noqa: E731
    return (f"{r.rates_scope}{r.window.month} 考核月截至目前 (评分规则: {r.rule_set}), 剔除后响应率 {fmt(ex['response'])}%、"
            f"解决率 {fmt(ex['solved'])}%、满意率 {fmt(ex['satisfied'])}%, 综合成绩 {fmt(ex['composite'])} 分；"
            f"全口径综合成绩 {fmt(al['composite'])} 分, 有效回访 {r.street.all.counts.n} 件。")


def build(r: OfficeReport) -> Document:
    doc = Document()
    doc.styles["Normal"].font.size = Pt(11)
    w = r.window
    doc.add_heading(f"{OFFICE}接诉即办工作{KIND_LABELS[w.kind]}", level=0)
    when = f"{w.start.astimezone(OFFICE_TZ):%Y年%m月%d日 %H:%M} 至 {w.end.astimezone(OFFICE_TZ):%Y年%m月%d日 %H:%M}"
    scope = "；".join(f"{'一级分类' if k == 'category' else '社区'}: {v}" for k, v in r.filters.items())
    doc.add_paragraph(f"统计区间: {when} (北京时间){'；' + scope if scope else ''}。"
                      f"生成时间: {r.generated_at.astimezone(OFFICE_TZ):%Y-%m-%d %H:%M}。")
    sections = []

    def section(title: str) -> None:
        doc.add_heading(f"{NUMBERS[len(sections)]}、{title}", level=1)
        sections.append(title)

    section("总体情况")
    doc.add_paragraph(f"本期共受理 12345 工单 {r.volume} 件, 上期 {r.previous_volume} 件, 环比"
                      f"{change_text(r.volume, r.previous_volume)}。")
    if len(r.days) > 1:
        _picture(doc, charts.daily_chart("每日工单量", r.days))
    section("三率情况及科室排名")
    doc.add_paragraph(_rates_sentence(r))
    _table(doc, tables.rates(r))
    ranking = tables.ranking(r)
    _table(doc, ranking)
    rated = [row for row in ranking[1] if row[6] is not None]
    if rated:
        _picture(doc, charts.bar_chart("科室综合成绩", [row[1] for row in rated], [row[6] for row in rated],
                                       horizontal=True, ylabel="分"))
    section("诉求分类")
    if r.categories:
        top = r.categories[0]
        doc.add_paragraph(f"诉求最多的是「{top.key}」{top.count} 件 (上期 {top.previous} 件)。前几类如下。")
        _picture(doc, charts.bar_chart("诉求分类 (一级)", [t.key for t in r.categories[:10]],
                                       [t.count for t in r.categories[:10]], horizontal=True))
    _table(doc, tables.categories(r))
    section("热点点位及诉求高发预警")
    doc.add_paragraph(f"按社区和楼号归并点位后, 有 {len(r.hotspots)} 处点位多次被反映；"
                      f"本期触发诉求高发预警 {len(r.warnings)} 条。")
    _table(doc, tables.hotspots(r))
    for warning in r.warnings:
        doc.add_paragraph(warning.reason, style="List Bullet")
    section("超期工单")
    doc.add_paragraph(f"截至统计时点, 超过签收或办结时限仍未完成的工单 {len(r.overdue)} 件。")
    _table(doc, tables.overdue(r))
    section("重复诉求人")
    doc.add_paragraph(f"本期多次来电的诉求人 {len(r.repeat_callers)} 人 (号码已脱敏)。")
    _table(doc, tables.repeat_callers(r))
    section("考核申诉日常工作情况")
    a = r.appeals
    doc.add_paragraph(f"本期筛出不合理诉求候选 {a['candidates']} 件, 起草申诉 {a['drafted']} 件, 提交 {a['submitted']} 件, "
                      f"分中心通过 (核减) {a['granted']} 件, 查否 {a['refused']} 件。")
    section("心理疏导专线")
    h = r.hotline
    doc.add_paragraph(f"专线来电 {h['calls']} 个, 接通 {h['answered']} 个, 放弃 {h['abandoned']} 个, 预约回电 "
                      f"{h['callback_requested']} 个, 平均等待 {h['avg_wait']} 秒；高风险记录 {h['high_risk']} 条。")
    section("人工回访坐席统计")
    calls = sum(f.calls for f in r.agents)
    doc.add_paragraph(f"本期人工回访坐席 {len(r.agents)} 人, 拨打 {calls} 通。{AGENT_NOTE}。")
    _table(doc, tables.agents(r))
    return doc


def write_docx(report: OfficeReport, path: Path) -> Path:
    build(report).save(path)
    return path
