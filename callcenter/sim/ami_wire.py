"""AMI wire format for the simulator: ordered headers in, CRLF-framed bytes out.

Real Asterisk sends headers in a fixed order and clients (and our replay
tests) compare them field by field, so a message here is a list of
(name, value) pairs, never a dict.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Headers = list[tuple[str, str]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EOL = "\r\n"


def encode(headers: Headers) -> bytes:
    """One AMI message: ``Name: value`` lines, then the blank line that ends it."""
    return ("".join(f"{name}: {value}{EOL}" for name, value in headers) + EOL).encode("utf-8")


def event(name: str, privilege: str | None, headers: Headers) -> Headers:
    """An event as Asterisk frames it; list items sent to one session carry no Privilege."""
    head: Headers = [("Event", name)]
    if privilege is not None:
        head.append(("Privilege", privilege))
    return head + headers


@dataclass
class ClientAction:
    """One action a client sent, with repeated headers (Variable) kept in order."""
    headers: Headers = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        for k, v in self.headers:
            if k.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k.lower() == key]

    @property
    def name(self) -> str:
        return (self.get("Action") or "").strip()

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


class ActionReader:
    """Splits a client's byte stream into actions; tolerant like Asterisk (bare LF, junk lines)."""

    MAX_PENDING = 1 << 20   # a client that never sends a blank line cannot grow us without bound

    def __init__(self) -> None:
        self._buffer = b""
        self._current: Headers = []

    def feed(self, data: bytes) -> list[ClientAction]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > self.MAX_PENDING:
            self._buffer = b""
        actions: list[ClientAction] = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self._current:
                    actions.append(ClientAction(self._current))
                    self._current = []
                continue
            name, sep, value = line.partition(":")
            if sep:
                self._current.append((name.strip(), value[1:] if value.startswith(" ") else value))
        return actions
