"""Campaign states: draft → running ⇄ paused → finished."""
from __future__ import annotations

from enum import Enum


class CampaignState(str, Enum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class CampaignStateError(ValueError):
    pass


COMMANDS: dict[str, tuple[frozenset[CampaignState], CampaignState]] = {
    "start": (frozenset({CampaignState.DRAFT}), CampaignState.RUNNING),
    "pause": (frozenset({CampaignState.RUNNING}), CampaignState.PAUSED),
    "resume": (frozenset({CampaignState.PAUSED}), CampaignState.RUNNING),
    "stop": (frozenset({CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED}), CampaignState.FINISHED),
}


def transition(current: str, command: str) -> CampaignState:
    if command not in COMMANDS:
        raise CampaignStateError(f"未知操作 {command!r}; 可用: {', '.join(COMMANDS)}")
    sources, target = COMMANDS[command]
    state = CampaignState(current)
    if state not in sources:
        raise CampaignStateError(f"活动状态为 {state.value}, 不能 {command}")
    return target
