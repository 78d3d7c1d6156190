"""拨打 from the desk: the same limits as the robot, and the agent-first Originate.

Pure: the repository hands in what the robot's dialer checks (calling windows
with holidays, the do-not-call list, today's dials to the number and the
campaign's cap); this module says whether the agent may dial now, and builds
the Originate that rings the agent's phone first (``CALLCENTER_AGENT_INTERFACE``)
and then, in ``[desk-callback]`` of docker/asterisk/extensions.conf, the citizen
through the campaign's trunk, recorded by MixMonitor to an absolute path.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from ..campaigns.ports import OriginateRequest
from ..campaigns.windows import CallingWindows

DESK_CONTEXT = "desk-callback"


@dataclass(frozen=True)
class DialFacts:
    """What the repository found for one desk item about to be dialed."""
    item_id: int
    ticket_id: int
    phone: str
    on_dnc: bool
    dialed_today: int
    daily_cap: int
    windows: CallingWindows
    caller_id: str
    trunk_name: str
    trunk_dial: str
    trunk_max_channels: int


def dial_refusal(facts: DialFacts, now: datetime) -> str | None:
    """Why the agent may not dial this citizen now (the robot's rules), or None."""
    if not facts.phone:
        return "该工单没有来电人电话"
    if facts.on_dnc:
        return "该号码在免打扰名单中"
    if facts.dialed_today >= facts.daily_cap:
        return f"该号码今天已呼叫 {facts.dialed_today} 次, 达到每日上限 {facts.daily_cap} 次"
    if not facts.windows.is_open(now):
        return "现在不在回访时段内(或为节假日), 不能呼叫"
    return None


#: What became of a desk call, in words for the agent, who otherwise only hears the line drop: the
#: DialStatus of the citizen's leg in [desk-callback], or the agent's own phone not answering.
CALL_STATUS_LABELS = {
    "ANSWER": "已接通市民",
    "BUSY": "市民占线",
    "NOANSWER": "市民未接听(或号码无法接通)",
    "CHANUNAVAIL": "号码无法接通(空号或线路不可用)",
    "CONGESTION": "线路拥塞, 未能接通市民",
    "CANCEL": "您在市民接听前挂断了",
    "agent-busy": "您的电话占线, 没有呼叫市民",
    "agent-noanswer": "您的电话未接听, 没有呼叫市民",
    "agent-unreachable": "您的电话无法接通, 没有呼叫市民",
    "not-dialled": "外呼线路已满, 没有呼叫市民, 请稍后再拨",
}
NOT_DIALLED = "not-dialled"     # the agent answered, but [desk-callback] never dialled the citizen


def agent_leg_status(reason: int | None) -> str:
    """The call_status of an Originate whose agent leg never answered (OriginateResponse Reason)."""
    return {5: "agent-busy", 3: "agent-noanswer"}.get(reason, "agent-unreachable")


def call_status_label(status: str | None) -> str:
    return CALL_STATUS_LABELS.get(status or "", f"通话结束({status})" if status else "")


def recording_path(recordings: PurePosixPath, now: datetime, item_id: int, call_id: uuid.UUID) -> str:
    """An absolute path under CALLCENTER_RECORDINGS: a relative one lands in Asterisk's own monitor dir."""
    if not recordings.is_absolute():
        raise ValueError(f"录音目录必须是绝对路径: {recordings}")
    return str(recordings / "desk" / now.strftime("%Y%m%d") / f"desk-{item_id}-{call_id}.wav")


def agent_first_originate(facts: DialFacts, *, agent_interface: str, username: str, recording: str,
                          call_id: uuid.UUID, timeout_ms: int = 30000) -> OriginateRequest:
    """Ring the agent (their interface from the setting), then the dialplan dials the citizen."""
    return OriginateRequest(
        action_id=str(uuid.uuid4()), channel_id=str(call_id), other_channel_id=str(uuid.uuid4()),
        dial_string=agent_interface.format(username=username), caller_id=facts.caller_id,
        context=DESK_CONTEXT, exten=facts.phone, timeout_ms=timeout_ms,
        variables={"TICKET_ID": str(facts.ticket_id), "DESK_ITEM": str(facts.item_id), "DESK_AGENT": username,
                   "DESK_RECORDING": recording, "TRUNK_NAME": facts.trunk_name,
                   "TRUNK_DIAL": facts.trunk_dial.replace("{number}", facts.phone),   # as the robot's dialer
                   "TRUNK_MAX_CHANNELS": str(facts.trunk_max_channels)})
