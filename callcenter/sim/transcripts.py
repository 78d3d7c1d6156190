"""Read the real Asterisk wire captures (tests/fixtures/asterisk/*.ami.txt) back into messages.

Used to replay them against the simulator and to feed the event-routing
benchmark real bytes.  Format: ``>> `` lines were sent by the client,
``<< `` lines received; an empty line ends a message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .ami_wire import Headers, encode

SENT, RECEIVED = ">>", "<<"
# Values that differ on every run: times, counters, Asterisk's channel sequence numbers.
VOLATILE_HEADERS = frozenset({"Timestamp", "Uptime", "LastReload", "Duration", "Seconds", "agi_threadid"})
_SEQUENCE = re.compile(r"-[0-9a-f]{8};")


@dataclass
class Segment:
    direction: str
    messages: list[Headers]


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(": ")
    if not sep and text.endswith(":"):
        return text[:-1], ""
    return name, value


def load(path: Path) -> list[Segment]:
    """Consecutive messages in the same direction form one segment; the banner is dropped."""
    segments: list[Segment] = []
    current: Headers = []
    direction = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        mark, body = raw[:2], raw[3:]
        if mark not in (SENT, RECEIVED):
            continue
        if body.startswith("Asterisk Call Manager/"):
            continue
        if body == "":
            if current:
                if not segments or segments[-1].direction != mark:
                    segments.append(Segment(mark, []))
                segments[-1].messages.append(current)
                current = []
            continue
        direction = mark
        current.append(_header(body))
    assert not current or direction, "unterminated message"
    return segments


def received_bytes(segments: list[Segment]) -> bytes:
    """The server→client byte stream of a transcript, as it crossed the wire."""
    return b"".join(encode(m) for s in segments if s.direction == RECEIVED for m in s.messages)


def normalise(headers: Headers) -> Headers:
    """Blank out volatile values so two runs of the same scenario compare equal field by field."""
    out: Headers = []
    for name, value in headers:
        if name in VOLATILE_HEADERS:
            value = "*"
        out.append((name, _SEQUENCE.sub("-SEQ;", value)))
    return out
