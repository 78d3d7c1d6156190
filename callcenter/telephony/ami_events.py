"""The one list of AMI events the service uses, and the Asterisk-side filter built from it.

A real call emits ~240 events, most of them VarSet/Newexten (privilege
``dialplan``); asking Asterisk to send only these keeps the reader idle.
Add a name here when a feature starts using it: nothing else needs editing.
"""
from __future__ import annotations

CALL_EVENTS = ("OriginateResponse", "Newchannel", "Newstate", "Hangup", "DialEnd")
SYSTEM_EVENTS = ("FullyBooted", "Shutdown")
# List items answer an action on our session only (Asterisk never filters them); listed for completeness.
LIST_EVENTS = ("CoreShowChannel", "CoreShowChannelsComplete", "Status", "StatusComplete",
               "QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete")
QUEUE_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
                "AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer",
                "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved")

# The hotline dialplan's UserEvent(CallbackRequested) ([hotline-exit] in docker/asterisk/extensions.conf).
USER_EVENTS = ("UserEvent",)

EVENTS_WE_USE: frozenset[str] = frozenset(CALL_EVENTS + SYSTEM_EVENTS + LIST_EVENTS + QUEUE_EVENTS + USER_EVENTS)

# Privilege classes of the events above (queue events are "agent", UserEvent "user"); "dialplan" stays off.
EVENT_CLASSES = "system,call,agent,user"


def filter_regex(names: frozenset[str] | set[str] = EVENTS_WE_USE) -> str:
    """A Filter-action regex (POSIX ERE and Python re alike) matching exactly these ``Event:`` names.

    Asterisk matches the regex against the whole event text, where the name
    is followed by CRLF; ``[^A-Za-z0-9]`` stops ``Hangup`` from also letting
    ``HangupRequest`` through.
    """
    for name in names:
        if not name.isalnum():
            raise ValueError(f"not an AMI event name: {name!r}")
    return "Event: (" + "|".join(sorted(names)) + ")[^A-Za-z0-9]"
