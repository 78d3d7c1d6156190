"""The FastAGI wire format, both directions, as pure functions.

Asterisk opens the socket and sends ``agi_key: value`` lines ending with a
blank line; then the application sends one command per line and Asterisk
answers each with a result line (``200 result=N [(data)] [endpos=N]``,
``510 …``, a multi-line ``520-…`` usage error, or a bare ``HANGUP`` line
when the channel goes away).  panoramisk's own parser flattens ``result=-1``
into an error that drops ``endpos``, raises ValueError on an empty or
garbage line, and cannot read ``200 result= (timeout)``; this module parses
strictly so the server can tell a hang-up from a broken peer.  The simulated
citizen (callcenter.sim.agi_citizen) uses the same functions, so both ends
agree on one grammar.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

#: Most bytes an environment block may take; a real one is under 1 KiB.
MAX_ENV_BYTES = 16 * 1024
#: Most lines of a 520 usage message before the peer is judged broken.
MAX_USAGE_LINES = 50
MAX_LINE_BYTES = 8 * 1024

_RESULT = re.compile(
    r"^200 result=(?P<result>-?[0-9A-Za-z*#]*)"
    r"(?: \((?P<data>.*)\))?"
    r"(?P<rest>(?: [a-z_]+=\S*)*)\s*$")
_PAIR = re.compile(r" ([a-z_]+)=(\S*)")


class AgiProtocolError(ValueError):
    """The peer sent something that is not FastAGI."""


@dataclass(frozen=True)
class AgiReply:
    """One parsed ``200`` result line."""
    result: str                      # as sent: '0', '-1', '49', '12' (GET DATA digits), '' (GET DATA timeout)
    data: str | None = None          # the parenthesised part: 'timeout', 'dtmf', 'hangup', a variable's value
    extra: Mapping[str, str] = field(default_factory=dict)   # e.g. {'endpos': '52394'}

    @property
    def code(self) -> int | None:
        """``result`` as an integer, or None for GET DATA's digit strings such as '' or '12#'."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def endpos(self) -> int | None:
        value = self.extra.get("endpos")
        return int(value) if value is not None and value.isascii() and value.isdigit() else None


def parse_result(line: str) -> AgiReply:
    """Parse a ``200 result=…`` line; raise AgiProtocolError for anything else."""
    match = _RESULT.match(line)
    if not match:
        raise AgiProtocolError(f"not an AGI result line: {line[:120]!r}")
    return AgiReply(match.group("result"), match.group("data"), dict(_PAIR.findall(match.group("rest"))))


def parse_env_line(line: str) -> tuple[str, str] | None:
    """``agi_key: value`` → (key, value); None for a line that is not one."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key.startswith("agi_") or not re.fullmatch(r"agi_[a-z0-9_]+", key):
        return None
    return key, value[1:] if value.startswith(" ") else value


def format_env(env: Mapping[str, str]) -> bytes:
    """An environment block as Asterisk sends it, ending with the blank line."""
    lines = [f"{key}: {_one_line(value)}\n" for key, value in env.items()]
    return ("".join(lines) + "\n").encode("utf-8")


def quote(arg: str) -> str:
    """One command argument, quoted the way Asterisk's AGI parser unquotes it."""
    arg = _one_line(arg)
    if arg and not re.search(r'[\s"\\]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(verb: str, *args: str) -> str:
    """``format_command("GET DATA", "q1", "6000", "1")`` → one command line, without the newline."""
    return " ".join([verb, *(quote(a) for a in args)])


def split_command(line: str) -> list[str]:
    """Asterisk's ``parse_args``: whitespace separates, double quotes group, backslash escapes."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = escaped = started = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = started = True
        elif ch == '"':
            in_quotes = not in_quotes
            started = True
        elif ch.isspace() and not in_quotes:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    return args


def _one_line(text: str) -> str:
    """Newlines would end the command early (and let text inject a second one)."""
    return text.replace("\r", " ").replace("\n", " ")
