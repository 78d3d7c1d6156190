"""AMI byte stream → messages, robust against whatever arrives on the socket.

panoramisk 1.4 decodes each TCP chunk on its own (a multi-byte UTF-8
character split across chunks is silently dropped), only splits on
CRLF CRLF (a bare-LF peer stalls it) and buffers without limit.  This parser
works on bytes, accepts LF or CRLF, decodes per complete line with
replacement characters, and caps message size, so hostile or broken input
costs a counter, never the link.
"""
from __future__ import annotations

EOL = "\r\n"


class AmiMessage:
    """One AMI response or event: headers in wire order, looked up case-insensitively (first value wins)."""

    __slots__ = ("headers", "_index")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        index: dict[str, str] = {}
        for name, value in headers:
            index.setdefault(name.lower(), value)
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k.lower() == key]

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    @property
    def event(self) -> str | None:
        return self._index.get("event")

    @property
    def response(self) -> str | None:
        return self._index.get("response")

    @property
    def action_id(self) -> str | None:
        return self._index.get("actionid")

    @property
    def success(self) -> bool:
        return self._index.get("response") in ("Success", "Goodbye", "Follows")

    def __repr__(self) -> str:
        return f"AmiMessage({self.headers!r})"


def encode_action(headers: list[tuple[str, str]]) -> bytes:
    """An action on the wire; a CR or LF inside a value would smuggle extra headers, so it is refused."""
    lines = []
    for name, value in headers:
        text = str(value)
        if "\r" in text or "\n" in text or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"AMI header {name!r} contains a line break or colon")
        lines.append(f"{name}: {text}{EOL}")
    return ("".join(lines) + EOL).encode("utf-8")


class AmiParser:
    MAX_MESSAGE_BYTES = 256 * 1024

    def __init__(self) -> None:
        self._tail = b""
        self._lines: list[bytes] = []
        self._size = 0
        self._skipping = False
        self.version: str | None = None
        self.malformed_lines = 0
        self.oversized_messages = 0

    def feed(self, data: bytes) -> list[AmiMessage]:
        parts = (self._tail + data).split(b"\n")
        self._tail = parts.pop()
        if len(self._tail) > self.MAX_MESSAGE_BYTES:     # one endless line: drop it and the rest of its message
            self._tail = b""
            self._drop_current()
        out: list[AmiMessage] = []
        lines = self._lines
        for raw in parts:
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            if not raw:
                if lines and not self._skipping:
                    message = self._build(lines)
                    if message is not None:
                        out.append(message)
                lines = self._lines = []
                self._size = 0
                self._skipping = False
                continue
            if self._skipping:
                continue
            self._size += len(raw)
            if self._size > self.MAX_MESSAGE_BYTES:
                self._drop_current()
                lines = self._lines
                continue
            lines.append(raw)
        return out

    def _drop_current(self) -> None:
        self.oversized_messages += 1
        self._lines = []
        self._size = 0
        self._skipping = True

    def _build(self, lines: list[bytes]) -> AmiMessage | None:
        headers: list[tuple[str, str]] = []
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            name, sep, value = line.partition(": ")
            if not sep:
                if line.endswith(":"):
                    name, value = line[:-1], ""
                elif line.startswith("Asterisk Call Manager/"):
                    self.version = line.partition("/")[2].strip()
                    continue
                else:
                    self.malformed_lines += 1
                    continue
            headers.append((name, value))
        return AmiMessage(headers) if headers else None
