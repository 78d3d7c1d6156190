"""What an alert looks like on each channel (pure): 企业微信 / 钉钉 markdown, generic JSON, e-mail."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any, Mapping, Sequence

from ..ledger.timezone import OFFICE_TZ

RULE_LABELS = {"new_ticket": "新工单待签收", "deadline_soon": "时限将到", "deadline_passed": "已超期",
               "hotline_high_risk": "热线高风险", "spike": "诉求高发"}
STATE_LABELS = {"new": "未确认", "acknowledged": "已确认", "closed": "已关闭"}
SUBJECT_PREFIX = "[接诉即办预警]"


def _when(at: datetime) -> str:
    return at.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")


def markdown(alert: Mapping[str, Any], on_duty: Sequence[str]) -> str:
    """The text both group robots render; a reminder says so in its heading."""
    reminder = f"（第 {alert['round']} 次提醒）" if alert.get("round") else ""
    lines = [f"### {SUBJECT_PREFIX} {alert['title']}{reminder}",
             f"> 类型: {RULE_LABELS.get(alert['rule'], alert['rule'])}", "", str(alert["body"]), "",
             f"> 时间: {_when(alert['created_at'])}",
             f"> 值班: {'、'.join(on_duty) if on_duty else '（当前无人值班）'}",
             f"> 预警编号: {alert['alert_id']}，请在管理台“预警”页确认"]
    return "\n".join(lines)


def wecom(alert: Mapping[str, Any], on_duty: Sequence[str]) -> dict[str, Any]:
    """企业微信 group robot: ``msgtype: markdown`` (content up to 4096 bytes)."""
    return {"msgtype": "markdown", "markdown": {"content": markdown(alert, on_duty)[:1300]}}


def dingtalk(alert: Mapping[str, Any], on_duty: Sequence[str]) -> dict[str, Any]:
    """钉钉 custom robot: ``msgtype: markdown`` with a title (the robot's keyword check sees it)."""
    return {"msgtype": "markdown",
            "markdown": {"title": f"{SUBJECT_PREFIX} {alert['title']}", "text": markdown(alert, on_duty)}}


def generic(alert: Mapping[str, Any], on_duty: Sequence[str]) -> dict[str, Any]:
    """A plain JSON document for the district's own systems."""
    return {"alert_id": alert["alert_id"], "rule": alert["rule"], "title": alert["title"], "body": alert["body"],
            "ticket_ids": list(alert["ticket_ids"]), "created_at": alert["created_at"].isoformat(),
            "round": alert["round"], "on_duty": list(on_duty)}


PAYLOADS = {"wecom": wecom, "dingtalk": dingtalk, "webhook": generic}


def email(alert: Mapping[str, Any], on_duty: Sequence[str], *, sender: str, to: str) -> EmailMessage:
    message = EmailMessage()
    reminder = f" (第 {alert['round']} 次提醒)" if alert.get("round") else ""
    message["Subject"] = f"{SUBJECT_PREFIX} {alert['title']}{reminder}"
    message["From"] = sender
    message["To"] = to
    message["X-Callcenter-Alert"] = str(alert["alert_id"])
    message.set_content(markdown(alert, on_duty).replace("### ", "").replace("> ", ""))
    return message
