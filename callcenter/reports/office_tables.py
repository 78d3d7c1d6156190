"""The office report's tables (pure): header + rows, shared by the .docx and the .xlsx so both say the same."""
from __future__ import annotations

from typing import Any

from ..desk.quality import AGENT_HEADERS, agent_row
from ..hotspots.warnings import PERIODS
from ..ledger.timezone import OFFICE_TZ
from ..scoring.rates import BASIS_LABELS, display, shown
from .figures import change_text
from .office import OfficeReport

Table = tuple[list[str], list[list[Any]]]
RATE_HEADERS = ["口径", "工单量", "有效回访", "响应率(%)", "解决率(%)", "满意率(%)", "综合成绩"]


def _n(value) -> float | None:
    """Displayed decimals as numbers the workbook can sum (None stays empty)."""
    return None if value is None else float(value)


def rates(r: OfficeReport) -> Table:
    rows = []
    if r.street is not None:
        for basis, label in BASIS_LABELS.items():
            rates_ = r.street.basis(basis)
            s = shown(rates_)
            rows.append([label, rates_.counts.volume, rates_.counts.n,
                         *(_n(s[k]) for k in ("response", "solved", "satisfied", "composite"))])
    return RATE_HEADERS, rows


def ranking(r: OfficeReport) -> Table:
    headers = ["名次", "科室", "工单量", "响应率(%)", "解决率(%)", "满意率(%)", "综合成绩", "上期名次"]
    units = r.ranking.units if r.ranking else []
    return headers, [[u.rank, u.name, u.volume, _n(display(u.rates.response)), _n(display(u.rates.solved)),
                      _n(display(u.rates.satisfied)), _n(display(u.rates.composite, percent=False)), u.previous_rank]
                     for u in units]


def categories(r: OfficeReport) -> Table:
    return ["一级分类", "本期", "上期", "环比"], [[t.key, t.count, t.previous, change_text(t.count, t.previous)]
                                              for t in r.categories]


def days(r: OfficeReport) -> Table:
    return ["日期", "工单量"], [[d.isoformat(), n] for d, n in r.days]


def communities(r: OfficeReport) -> Table:
    return ["社区", "工单量"], [list(row) for row in r.communities]


def hotspots(r: OfficeReport) -> Table:
    return ["点位 (社区+楼号)", "工单量", "不同标题", "分类", "工单编号"], [
        [h.place, h.tickets, h.titles, "、".join(h.categories), "、".join(h.ticket_nos)] for h in r.hotspots]


def warnings(r: OfficeReport) -> Table:
    return ["类型", "日期", "单位", "一级分类", "件数", "基线(件/期)", "p 值", "依据", "工单"], [
        [PERIODS[w.kind][0], w.day.isoformat(), w.spike.unit, w.spike.category, w.spike.count,
         round(w.spike.baseline, 2), float(f"{w.spike.p:.3g}"), w.reason, len(w.ticket_ids)] for w in r.warnings]


def overdue(r: OfficeReport) -> Table:
    return ["工单编号", "标题", "一级分类", "社区", "超期环节", "时限"], [
        [o["ticket_no"], o["title"], o["category_l1"], o["community_name"], o["label"],
         o["due"].astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")] for o in r.overdue]


def repeat_callers(r: OfficeReport) -> Table:
    return ["来电人电话", "姓名", "工单量", "分类"], [[c.phone, c.name, c.tickets, "、".join(c.categories)]
                                               for c in r.repeat_callers]


def agents(r: OfficeReport) -> Table:
    """坐席统计: the same columns and figures as the /desk/stats page."""
    return list(AGENT_HEADERS), [[_n(v) if hasattr(v, "as_tuple") else v for v in agent_row(f)] for f in r.agents]


def summary(r: OfficeReport) -> Table:
    a, h = r.appeals, r.hotline
    rows = [["工单量", r.volume], ["上期工单量", r.previous_volume], ["环比", change_text(r.volume, r.previous_volume)],
            ["三率考核月", r.window.month], ["三率范围", r.rates_scope], ["评分规则", r.rule_set or "无"],
            ["申诉候选", a["candidates"]], ["申诉起草", a["drafted"]], ["申诉提交", a["submitted"]],
            ["申诉通过 (核减)", a["granted"]], ["申诉查否", a["refused"]],
            ["热线来电", h["calls"]], ["热线接通", h["answered"]], ["热线放弃", h["abandoned"]],
            ["热线高风险记录", h["high_risk"]], ["超期工单", len(r.overdue)], ["高发预警", len(r.warnings)]]
    return ["项目", "数值"], rows


SHEETS = {"概况": summary, "三率": rates, "科室排名": ranking, "诉求分类": categories, "每日工单": days,
          "社区": communities, "热点点位": hotspots, "高发预警": warnings, "超期工单": overdue,
          "重复诉求人": repeat_callers, "坐席统计": agents}
