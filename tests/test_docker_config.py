"""The shipped Asterisk configuration has everything the code relies on.

A real Asterisk is the acceptance check; these tests catch the drift before
it: an event the service listens for that the AMI user's eventfilter drops, a
context the dialer originates into that the dialplan lacks, a queue name that
differs, a permission an action needs that the user lacks.
"""
from __future__ import annotations

import re
from pathlib import Path

from callcenter.campaigns.dialer import DialerOptions
from callcenter.hotline.service import HotlineService
from callcenter.ivr.session import CALL_VARIABLES
from callcenter.sim.call_engine import CALLBACK_AGI_ARGUMENTS
from callcenter.telephony.ami_events import EVENT_CLASSES, EVENTS_WE_USE, LIST_EVENTS
from callcenter.telephony.agi import AgiServer

ASTERISK = Path(__file__).resolve().parent.parent / "docker" / "asterisk"


def sections(name: str) -> dict[str, list[tuple[str, str]]]:
    """Asterisk's .conf: ``[section]`` (optionally ``(template)``), ``key = value`` / ``key => value``, ``;`` comments."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (ASTERISK / name).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\](?:\(.*\))?", line)
        if header:
            current = out.setdefault(header.group(1), [])
            continue
        key, sep, value = re.split(r"\s*(=>|=)\s*", line, maxsplit=1) if ("=" in line) else (line, "", "")
        assert current is not None, f"{name}: {raw!r} outside any section"
        current.append((key.strip(), value.strip()))
    return out


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def test_ami_user_admits_every_event_the_service_uses():
    user = sections("manager.conf")["callcenter"]
    admitted = {re.fullmatch(r"eventfilter\(action\(include\),name\((\w+)\)\)", k).group(1)
                for k, _ in user if k.startswith("eventfilter")}
    # List items answer our own actions and are sent whatever the filter says; the rest must be admitted.
    missing = set(EVENTS_WE_USE) - set(LIST_EVENTS) - admitted
    assert not missing, f"manager.conf eventfilter drops events the service needs: {sorted(missing)}"
    read = set(values(user, "read")[0].split(","))
    assert set(EVENT_CLASSES.split(",")) <= read


def test_ami_user_may_send_every_action_the_service_sends():
    write = set(values(sections("manager.conf")["callcenter"], "write")[0].split(","))
    # Originate: originate; Hangup/Status: call; CoreShowChannels/Filter/MixMonitor: system; Queue*: agent.
    assert {"originate", "call", "system", "agent"} <= write


def test_dialplan_has_the_contexts_the_service_originates_into():
    dialplan = sections("extensions.conf")
    assert DialerOptions().context in dialplan
    callback = " ".join(v for _, v in dialplan[DialerOptions().context])
    route = AgiServer.__init__.__kwdefaults__['route']
    passed = ",".join(f"{name}=${{{name}}}" for name in CALL_VARIABLES)
    assert f"AGI(${{CALLCENTER_AGI}}/{route},{passed})" in callback
    # The simulator plays the same dialplan: the same arguments, in the same order.
    assert CALLBACK_AGI_ARGUMENTS == CALL_VARIABLES
    assert "CHANNEL(hangup_handler_push)" in callback
    # The channel guard runs in the Local dial-out leg, before the trunk is dialed (before anyone rings).
    dialout = [v for _, v in dialplan[DialerOptions().dialout_context]]
    guard = next(i for i, v in enumerate(dialout) if "GROUP_COUNT(" in v)
    dial = next(i for i, v in enumerate(dialout) if "Dial(${TRUNK_DIAL}" in v)
    assert guard < dial, "the per-trunk channel guard must run before the trunk is dialed"
    hotline = " ".join(v for _, v in dialplan["hotline"])
    queue = HotlineService().queue
    assert f"Queue({queue}" in hotline
    assert "UserEvent(CallbackRequested" in " ".join(v for _, v in dialplan["hotline-exit"])
    assert "hotline-callback" in dialplan


def test_queue_is_configured_for_the_events_the_hotline_follows():
    queue = sections("queues.conf")[HotlineService().queue]
    # Asterisk 22 always sends the member events; the old keywords only draw warnings (checked on the real PBX).
    assert values(queue, "eventwhencalled") == [] and values(queue, "eventmemberstatus") == []
    assert values(queue, "ringinuse") == ["no"], "an agent on a call would be rung with the next caller"
    assert values(queue, "context") == ["hotline-exit"]


def test_every_prompt_directory_is_mounted_into_asterisk():
    """A script's sound "callback/ask-solved" must reach /var/lib/asterisk/sounds/callback/ in the container."""
    from callcenter.cli.prompts import DOCKER_PROMPTS, all_sounds
    compose = (ASTERISK.parent / "compose.yaml").read_text(encoding="utf-8")
    for directory in sorted({name.split("/", 1)[0] for name in all_sounds(DOCKER_PROMPTS)}):
        assert f"./asterisk/sounds/{directory}:/var/lib/asterisk/sounds/{directory}:ro" in compose, directory
    dialplan_sounds = set(re.findall(r"Playback\(([\w/-]+)\)", (ASTERISK / "extensions.conf").read_text()))
    dialplan_sounds |= set(values(sections("queues.conf")["counsel"], "periodic-announce"))
    assert dialplan_sounds <= set(all_sounds(DOCKER_PROMPTS)), "the dialplan plays a prompt nobody generates"
