"""The one table of display names: every code the admin pages show, in the office's words.

Roles, actors (people and the machines that act for them), audit actions,
callback outcomes, IVR scripts and sources.  Templates reach them through the
jinja filters registered by :func:`install` (``role_name``, ``actor_name``,
``action_name``, ``outcome_name``, ``script_name``, ``source_name``,
``size_mb``), so a page never prints a raw code and a new code is named once.
An unknown code is shown as it is rather than hidden.
"""
from __future__ import annotations

from typing import Any, Mapping

import jinja2

from ...campaigns.outcomes import Outcome

#: A callback attempt's state, a campaign's state, a ticket deadline's kind.
ATTEMPT_STATE_NAMES = {"pending": "待拨打", "dialing": "拨号中", "answered": "通话中", "finished": "已结束",
                       "cancelled": "已取消"}
CAMPAIGN_STATE_NAMES = {"draft": "草稿", "running": "进行中", "paused": "已暂停", "finished": "已结束"}
DEADLINE_NAMES = {"sign": "签收", "contact": "首次联系", "close": "办结"}

ROLE_NAMES = {"admin": "管理员", "supervisor": "主管", "agent": "坐席"}

#: Who did it, when it was not a signed-in person.
ACTOR_NAMES = {
    "import": "工单导入", "dialer": "自动外呼", "demo": "演示程序", "cli": "命令行", "system": "系统",
    "retention": "定期清理", "service": "后台服务", "api": "接口",
}

#: Audit actions: (what the actor did, what it was done to).  Read as "王主任 收听了 工单 T-1 的回访录音".
AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "recording.listen": ("收听了", "的回访录音"),
    "hotline.recording.listen": ("收听了", "的录音"),
    "correct_answer": ("更正了", "的回访答案"),
    "campaign.create": ("创建了", ""),
    "campaign.start": ("开始了", ""),
    "campaign.pause": ("暂停了", ""),
    "campaign.resume": ("继续了", ""),
    "campaign.stop": ("结束了", ""),
    "api_token.create": ("签发了", ""),
    "api_token.revoke": ("吊销了", ""),
    "dnc.add": ("加入免打扰名单", ""),
    "export_tickets": ("导出了", ""),
    "export_repeat_ledger": ("导出了", ""),
    "repeat_rules": ("修改了", ""),
    "retention.purge": ("清理了", "中过期的录音和转写"),
    "setting.change": ("修改了", ""),
    "desk_enqueue": ("转人工回访了", ""),
    "desk_call": ("人工回访了", ""),
    "desk_manual_entry": ("手工录入了", "的回访"),
    "desk_reject_manual": ("驳回了", "的手工录入回访"),
    "qa_grade": ("质检评分了", ""),
    "desk_rules": ("修改了", "的转人工规则"),
}
#: What the action filter offers, by Chinese name.
ACTION_NAMES = {
    "recording.listen": "收听录音", "correct_answer": "更正/确认答案", "campaign.create": "创建回访活动",
    "campaign.start": "开始回访活动", "campaign.pause": "暂停回访活动", "campaign.resume": "继续回访活动",
    "campaign.stop": "结束回访活动", "api_token.create": "签发接口令牌", "api_token.revoke": "吊销接口令牌",
    "dnc.add": "加入免打扰名单", "export_tickets": "导出工单", "export_repeat_ledger": "导出重复诉求人台账",
    "repeat_rules": "修改重复诉求人规则", "retention.purge": "清理过期录音", "setting.change": "修改设置",
    "desk_enqueue": "转人工回访", "desk_call": "人工回访", "desk_manual_entry": "手工录入回访",
    "desk_reject_manual": "驳回手工录入", "qa_grade": "质检评分", "desk_rules": "修改转人工规则",
    "qa_form": "新增质检表版本", "hotline.recording.listen": "收听专线录音",
}
#: Office-wide switches (db/office_settings.py), as the audit log names them.
SETTING_NAMES = {"agents_see_ranking": "坐席可见科室排名"}
OBJECT_NAMES = {"callback_attempt": "工单", "campaign": "回访活动", "api_token": "接口令牌", "phone": "号码",
                "tickets": "工单", "repeat_rules": "重复诉求人认定规则", "repeat_ledger": "重复诉求人台账",
                "retention": "录音库", "ticket": "工单", "setting": "设置", "urban_case": "城市管理案件", "appeal": "考核申诉",
                "qa_grade": "通话", "qa_form": "质检表", "hotline_call": "专线来电"}

OUTCOME_NAMES = {
    Outcome.ANSWERED_COMPLETE.value: "完成回访", Outcome.ANSWERED_PARTIAL.value: "部分回答",
    Outcome.BUSY.value: "占线", Outcome.NO_ANSWER.value: "无人接听", Outcome.FAILED.value: "呼叫失败",
    Outcome.INVALID_NUMBER.value: "空号/错号", Outcome.REFUSED.value: "拒绝回访",
    "callback-requested": "约定时间回拨",
}
SCRIPT_NAMES = {"callback_three_rates": "三率回访（联系·解决·满意）", "repeat_followup": "重复诉求人回访"}
#: Where an urban case or a ticket came from.
SOURCE_NAMES = {"platform": "城管平台", "grid": "网格巡查", "api": "接口录入", "web": "网页录入",
                "import": "文件导入"}


def _named(table: Mapping[str, str]):
    def name(code: Any) -> str:
        if code is None:
            return ""
        return table.get(str(code), str(code))
    return name


role_name = _named(ROLE_NAMES)
actor_name = _named(ACTOR_NAMES)
action_name = _named(ACTION_NAMES)
outcome_name = _named(OUTCOME_NAMES)
script_name = _named(SCRIPT_NAMES)
source_name = _named(SOURCE_NAMES)


def size_mb(size_bytes: int | float | None) -> str:
    """A size for people: megabytes with one decimal (``16 MB``, ``0.5 MB``)."""
    if size_bytes is None:
        return ""
    mb = size_bytes / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.1f} MB"


def audit_sentence(action: str, object_type: str, object_label: str) -> tuple[str, str, str]:
    """(verb, object noun with its label, tail) of one audit row; unknown actions read as their Chinese name."""
    verb, tail = AUDIT_ACTIONS.get(action, (ACTION_NAMES.get(action, action), ""))
    noun = OBJECT_NAMES.get(object_type, object_type)
    return verb, f"{noun} {object_label}".strip(), tail


def install(env: jinja2.Environment) -> None:
    """Register the display-name filters on the app's template environment."""
    for name, fn in (("role_name", role_name), ("actor_name", actor_name), ("action_name", action_name),
                     ("outcome_name", outcome_name), ("script_name", script_name),
                     ("source_name", source_name), ("size_mb", size_mb)):
        env.filters[name] = fn
