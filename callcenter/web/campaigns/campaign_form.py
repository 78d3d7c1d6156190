"""The campaign form ↔ a CampaignSpec, with every problem reported at once, in Chinese.

Pure (no I/O): the page passes the trunks and units that exist, so a
forged id is an error here, before anything reaches the database.  Limits
mirror schema/0006_campaigns.sql's CHECKs so the form refuses what the
table would.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping

from ...campaigns.windows import CallingWindows
from ...db.campaigns import CampaignSpec
from ...inputs import ascii_digits
from ...ledger.timezone import OFFICE_TZ
from ..core.params import optional_day

MAX_NAME = 100
#: Form field → (label, default minutes) of each retry delay.
RETRY_FIELDS = {"retry_busy": ("占线后重拨间隔(分钟)", 30), "retry_no_answer": ("无人接听后重拨间隔(分钟)", 120),
                "retry_failed": ("呼叫失败后重拨间隔(分钟)", 60), "retry_partial": ("未答完后重拨间隔(分钟)", 120)}
DEFAULT_VALUES = {"name": "", "trunk": "", "script": "callback_three_rates", "standing": "", "closed_from": "",
                  "closed_to": "", "department": "", "community": "", "category": "",
                  "windows": "09:00-12:00, 14:00-20:00", "max_attempts": "3", "daily_cap": "2", "caller_id": "",
                  **{name: str(minutes) for name, (_, minutes) in RETRY_FIELDS.items()}}


@dataclass
class ParsedCampaign:
    spec: CampaignSpec | None
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


def _int(values: Mapping[str, str], name: str, label: str, low: int, high: int, errors: list[str]) -> int:
    raw = values[name]
    if not ascii_digits(raw) or len(raw) > 19 or not low <= int(raw) <= high:
        errors.append(f"{label}应为 {low}–{high} 的整数")
        return low
    return int(raw)


def _day(raw: str, label: str, errors: list[str]) -> date | None:
    return optional_day(raw, errors, f"{label}格式应为 YYYY-MM-DD")


def _choice(raw: str, allowed: Mapping[int, str], label: str, errors: list[str]) -> int | None:
    if not raw:
        return None
    if ascii_digits(raw) and len(raw) <= 19 and int(raw) in allowed:
        return int(raw)
    errors.append(f"{label}不存在")
    return None


def parse_campaign_form(form: Mapping[str, str], *, trunks: Iterable[str], departments: Mapping[int, str],
                        communities: Mapping[int, str], categories: Iterable[str], scripts: Iterable[str],
                        created_by: str) -> ParsedCampaign:
    values = {name: str(form.get(name, default if name != "standing" else "")).strip()
              for name, default in DEFAULT_VALUES.items()}
    errors: list[str] = []
    name = values["name"]
    if not name:
        errors.append("请填写活动名称")
    elif len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        errors.append(f"活动名称最长 {MAX_NAME} 个字, 且不能含控制字符")
    if values["trunk"] not in set(trunks):
        errors.append("请选择中继线路")
    if values["script"] not in set(scripts):
        errors.append("回访脚本不存在")
    if values["category"] and values["category"] not in set(categories):
        errors.append("一级分类不存在")
    windows = tuple(w.strip() for w in values["windows"].replace("，", ",").split(",") if w.strip())
    try:
        CallingWindows.parse(windows)
    except ValueError as exc:
        errors.append(f"呼叫时段无效: {exc}（格式如 09:00-12:00, 14:00-20:00）")
    start = _day(values["closed_from"], "办结起始日期", errors)
    end = _day(values["closed_to"], "办结截止日期", errors)
    if start and end and end < start:
        errors.append("办结截止日期早于起始日期")
    max_attempts = _int(values, "max_attempts", "最多拨打次数", 1, 10, errors)
    daily_cap = _int(values, "daily_cap", "每个号码每天最多拨打", 1, 20, errors)
    delays = {name: timedelta(minutes=_int(values, name, label, 1, 7 * 24 * 60, errors))
              for name, (label, _) in RETRY_FIELDS.items()}
    department = _choice(values["department"], departments, "科室", errors)
    community = _choice(values["community"], communities, "社区", errors)
    if len(values["caller_id"]) > 40:
        errors.append("主叫号码过长")
    if errors:
        return ParsedCampaign(None, values, errors)
    spec = CampaignSpec(
        name=name, trunk=values["trunk"], script=values["script"], standing=values["standing"] == "on",
        closed_from=datetime(start.year, start.month, start.day, tzinfo=OFFICE_TZ) if start else None,
        closed_to=datetime(end.year, end.month, end.day, tzinfo=OFFICE_TZ) + timedelta(days=1) if end else None,
        department_id=department, community_id=community, category_l1=values["category"] or None,
        windows=windows, max_attempts=max_attempts, retry_busy=delays["retry_busy"],
        retry_no_answer=delays["retry_no_answer"], retry_failed=delays["retry_failed"],
        retry_partial=delays["retry_partial"], daily_cap_per_number=daily_cap, caller_id=values["caller_id"],
        created_by=created_by)
    return ParsedCampaign(spec, values)
