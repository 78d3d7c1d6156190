"""FastAGI server: Asterisk connects here for each answered call, and the IVR runs over the socket.

Built on panoramisk's ``fast_agi.Application`` (routes by ``agi_network_script``,
``async def`` handlers only), with its connection handler and result parsing
replaced, because as shipped in 1.4 they:

* spin forever at 100 % CPU when the peer closes before the blank line that
  ends the environment (``reader.read`` keeps returning ``b''``);
* buffer an environment of any size, and raise on bytes that are not UTF-8;
* raise ValueError on an empty or garbage reply and lose ``endpos`` on ``result=-1``;
* leave the bare ``HANGUP`` line that follows ``result=-1`` in the stream.

Transport only: this module reads the environment and turns AGI commands into
:class:`callcenter.ivr.channel.Channel` calls; what to say and where answers
go is the IVR layer's business (the ``CallHandler`` given to :class:`AgiServer`).
Every way a call can go wrong on the wire (``HANGUP``, ``result=-1``, a closed
socket, garbage, silence) surfaces as :class:`CallerHungUp` or
:class:`ChannelFailure`, which end the script; answers are already stored.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import re
from typing import Awaitable, Callable, Mapping, Sequence

from panoramisk import fast_agi

from ..ivr.channel import (
    CallerHungUp, CallInfo, Channel, ChannelFailure, ChannelGone, DigitsResult, RecordingFailed, RecordResult,
)
from .agi_protocol import (
    MAX_ENV_BYTES, MAX_LINE_BYTES, MAX_USAGE_LINES, AgiProtocolError, AgiReply, format_command, parse_env_line,
    parse_result,
)

log = logging.getLogger(__name__)

CallHandler = Callable[[Channel, CallInfo], Awaitable[object]]

#: Characters Asterisk's application arguments give a meaning to (``,`` and ``&`` split Playback's
#: list; quotes, brackets and backslashes group or escape): a list naming one is played a file at a time.
_PLAYBACK_UNSAFE = re.compile(r'[\s,&"\\()\[\]|]')


class AgiChannel:
    """:class:`~callcenter.ivr.channel.Channel` over one FastAGI connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 command_timeout_s: float = 120.0, hangup_grace_s: float = 0.5):
        """``hangup_grace_s``: how long to wait for lines Asterisk sends right behind a reply
        (``HANGUP`` after ``result=-1``, the rest of a 520 block)."""
        self.reader = reader
        self.writer = writer
        self.command_timeout_s = command_timeout_s
        self.hangup_grace_s = hangup_grace_s
        self.sent: list[str] = []                # command lines, for logs and tests
        self._gone: ChannelGone | None = None
        self._playback = True                    # False once this Asterisk said it has no Playback

    @property
    def gone(self) -> ChannelGone | None:
        return self._gone

    # -- the wire ----------------------------------------------------------------------------
    def _end(self, exc: ChannelGone) -> ChannelGone:
        """Remember that the call is over: every later command raises the same thing at once."""
        self._gone = self._gone or exc
        return exc

    async def command(self, verb: str, *args: str, timeout_s: float | None = None) -> AgiReply:
        if self._gone is not None:
            raise self._gone
        line = format_command(verb, *args)
        try:
            self.writer.write(line.encode("utf-8") + b"\n")
            await self.writer.drain()
        except (ConnectionError, OSError, RuntimeError) as exc:
            raise self._end(CallerHungUp(f"socket closed while sending {verb}: {exc}"))
        self.sent.append(line)
        return await self._reply(verb, timeout_s or self.command_timeout_s)

    async def _line(self, timeout_s: float) -> str | None:
        """The next line without its newline; None at end of stream."""
        try:
            # asyncio.timeout, not wait_for: wait_for wraps each line's read in a task of its own.
            async with asyncio.timeout(timeout_s):
                raw = await self.reader.readline()
        except asyncio.TimeoutError:
            raise self._end(ChannelFailure(f"no reply from Asterisk within {timeout_s:.0f} s"))
        except (ValueError, asyncio.LimitOverrunError):
            raise self._end(ChannelFailure("reply line too long"))
        except (ConnectionError, OSError) as exc:
            raise self._end(CallerHungUp(f"connection lost: {exc}"))
        if not raw.endswith(b"\n"):
            return None          # end of stream, possibly mid-line: the peer is gone either way
        if len(raw) > MAX_LINE_BYTES:
            raise self._end(ChannelFailure("reply line too long"))
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def _reply(self, verb: str, timeout_s: float) -> AgiReply:
        for _ in range(MAX_USAGE_LINES):
            # The reply comes when the command is done: after the whole prompt has played, or the
            # caller has pressed a key, so it may take as long as the command's own timeout.
            line = await self._line(timeout_s)
            if line is None:
                raise self._end(CallerHungUp("connection closed"))
            if line == "HANGUP":
                raise self._end(CallerHungUp("HANGUP"))
            if line.startswith("100"):          # "100 result=0 Trying...": the real reply follows
                continue
            if line.startswith("200"):
                try:
                    reply = parse_result(line)
                except AgiProtocolError as exc:
                    raise self._end(ChannelFailure(str(exc)))
                if reply.result == "-1":
                    await self._hung_up_or_failed(reply)
                return reply
            if line.startswith("510"):
                raise ChannelFailure(f"{verb}: Asterisk does not know this command ({line})")
            if line.startswith("511"):
                raise self._end(CallerHungUp(f"{verb}: channel is dead ({line})"))
            if line.startswith("520"):
                await self._skip_usage(line)
                raise ChannelFailure(f"{verb}: usage error ({line})")
            raise self._end(ChannelFailure(f"{verb}: not an AGI reply: {line[:120]!r}"))
        raise self._end(ChannelFailure(f"{verb}: endless '100 Trying' replies"))

    async def _hung_up_or_failed(self, reply: AgiReply) -> None:
        """``result=-1`` means hang-up *or* a failed command; Asterisk follows a hang-up with ``HANGUP``."""
        if reply.data == "hangup":
            raise self._end(CallerHungUp("result=-1 (hangup)", endpos=reply.endpos))
        try:
            async with asyncio.timeout(self.hangup_grace_s):
                line = await self.reader.readline()
        except asyncio.TimeoutError:
            return                               # the channel is alive: the command itself failed
        except (ValueError, ConnectionError, OSError, asyncio.LimitOverrunError):
            line = b""
        text = line.decode("utf-8", errors="replace").strip()
        if not line or text == "HANGUP":
            raise self._end(CallerHungUp("result=-1 then HANGUP", endpos=reply.endpos))
        raise self._end(ChannelFailure(f"unexpected line after result=-1: {text[:120]!r}"))

    async def _skip_usage(self, first: str) -> None:
        """A 520 usage error is ``520-…`` lines closed by a ``520 End of proper usage.`` line."""
        if not first.startswith("520-"):
            return
        for _ in range(MAX_USAGE_LINES):
            line = await self._line(self.hangup_grace_s)      # the block is written at once
            if line is None:
                raise self._end(CallerHungUp("connection closed"))
            if line.startswith("520 "):
                return
        raise self._end(ChannelFailure("520 usage error without an end"))

    # -- Channel -----------------------------------------------------------------------------
    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.code != 0:
            raise ChannelFailure(f"ANSWER failed: result={reply.result}")

    async def hangup(self) -> None:
        if self._gone is not None:
            return
        try:
            await self.command("HANGUP")
        except ChannelGone:
            pass
        self._end(CallerHungUp("we hung up"))

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.code == 1 and reply.data is not None else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, str(level))

    @staticmethod
    def _digit(reply: AgiReply) -> str | None:
        """A result that is a key's ASCII code ('49' → '1'); 0 means no key."""
        code = reply.code
        if code is None or code <= 0:
            return None
        try:
            return chr(code)
        except (ValueError, OverflowError):
            return None

    async def stream_file(self, sound: str, escape_digits: str = "") -> str | None:
        reply = await self.command("STREAM FILE", sound, escape_digits)
        if reply.result == "-1":                 # alive, so the file could not be played
            log.error("STREAM FILE %s failed (missing sound?); the prompt part is skipped", sound)
            return None
        return self._digit(reply)

    async def play_sounds(self, sounds: Sequence[str]) -> None:
        """One ``EXEC Playback a&b&c``: like STREAM FILE with no escape digits, no key stops it, and the
        list is one round trip instead of one per file.  A file at a time for a single file, for a name
        Playback's argument list would split, or when Playback failed (its missing-file warnings are then
        Asterisk's own log; STREAM FILE's ``result=-1`` would have told us per file)."""
        if len(sounds) == 1:
            await self.stream_file(sounds[0])
            return
        if self._playback and all(s and not _PLAYBACK_UNSAFE.search(s) for s in sounds):
            reply = await self.command("EXEC", "Playback", "&".join(sounds),
                                       timeout_s=self.command_timeout_s * len(sounds))
            if reply.code == 0:
                return
            if reply.code == -2:                 # res_agi: no such application
                self._playback = False
            log.error("EXEC Playback failed (result=%s); playing the files one by one", reply.result)
        for sound in sounds:
            await self.stream_file(sound)

    async def get_data(self, sound: str, timeout_ms: int, max_digits: int) -> DigitsResult:
        reply = await self.command("GET DATA", sound, str(timeout_ms), str(max_digits),
                                   timeout_s=self.command_timeout_s + timeout_ms / 1000)
        if reply.result == "-1":
            raise ChannelFailure(f"GET DATA {sound} failed")
        digits = reply.result if all(c in "0123456789*#" for c in reply.result) else ""
        if len(digits) > max_digits:     # Asterisk reads at most max_digits: this reply is not one of its
            raise self._end(ChannelFailure(f"GET DATA {sound}: {len(digits)} keys where at most {max_digits} "
                                           f"can be pressed"))
        return DigitsResult(digits, reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        reply = await self.command("WAIT FOR DIGIT", str(timeout_ms),
                                   timeout_s=self.command_timeout_s + timeout_ms / 1000)
        if reply.result == "-1":
            raise ChannelFailure("WAIT FOR DIGIT failed")
        return self._digit(reply)

    async def _say(self, verb: str, *args: str) -> str | None:
        reply = await self.command(verb, *args)
        if reply.result == "-1":
            log.error("%s failed; the spoken part is skipped", verb)
            return None
        return self._digit(reply)

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return await self._say("SAY DIGITS", digits, escape_digits)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return await self._say("SAY NUMBER", str(number), escape_digits)

    async def say_datetime(self, epoch: int, escape_digits: str = "", fmt: str = "",
                           timezone: str = "") -> str | None:
        return await self._say("SAY DATETIME", str(epoch), escape_digits, *([fmt, timezone] if fmt else []))

    async def record_file(self, path: str, fmt: str, escape_digits: str, timeout_ms: int, *,
                          beep: bool = False, silence_s: int | None = None) -> RecordResult:
        args = [path, fmt, escape_digits, str(timeout_ms), "0"]
        if beep:
            args.append("BEEP")
        if silence_s:
            args.append(f"s={silence_s}")
        reply = await self.command("RECORD FILE", *args, timeout_s=self.command_timeout_s + timeout_ms / 1000)
        if reply.result == "-1":
            raise RecordingFailed(f"RECORD FILE {path}.{fmt} failed ({reply.data or 'error'})")
        return RecordResult(self._digit(reply), reply.endpos or 0)


async def read_environment(reader: asyncio.StreamReader, timeout_s: float) -> dict[str, str] | None:
    """The ``agi_*`` block up to its blank line; None if the peer never sends a complete, sane one."""
    env: dict[str, str] = {}
    size = 0

    async def read() -> dict[str, str] | None:
        nonlocal size
        while True:
            try:
                raw = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError, ConnectionError, OSError):
                return None
            size += len(raw)
            if not raw.endswith(b"\n") or size > MAX_ENV_BYTES:
                return None
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line == "":
                return env
            pair = parse_env_line(line)
            if pair is None:
                log.debug("ignoring environment line %r", line[:80])
            else:
                env[pair[0]] = pair[1]

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        return None


class _Application(fast_agi.Application):
    """panoramisk's router with a connection handler that cannot hang, leak or crash (see module doc)."""

    def __init__(self, server: "AgiServer"):
        super().__init__(default_encoding="utf-8", loop=asyncio.get_running_loop())
        self.server = server

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.server._connections.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # Server shutdown.  This task is the top of the connection (asyncio's stream callback
            # logs a cancelled one as an error), so end it normally after closing the socket.
            log.info("FastAGI connection cancelled by shutdown")
        except Exception:
            log.exception("FastAGI connection failed")
            self.server.stats["errors"] += 1
        finally:
            self.server._connections.discard(task)
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server.stats["connections"] += 1
        env = await read_environment(reader, self.server.env_timeout_s)
        if env is None:
            log.warning("FastAGI peer %r sent no complete environment; closed", writer.get_extra_info("peername"))
            self.server.stats["rejected"] += 1
            return
        route = self._route.get(env.get("agi_network_script", ""))
        if route is None:
            log.error("no FastAGI route for %r (request %r)", env.get("agi_network_script"), env.get("agi_request"))
            self.server.stats["rejected"] += 1
            return
        await route(fast_agi.Request(app=self, headers=env, reader=reader, writer=writer))


class AgiServer:
    """Listens for Asterisk; each connection on ``route`` becomes one ``handler(channel, call)`` call."""

    def __init__(self, handler: CallHandler, *, host: str = "127.0.0.1", port: int = 4573,
                 route: str = "callback", env_timeout_s: float = 10.0, command_timeout_s: float = 120.0,
                 hangup_grace_s: float = 0.5):
        self.handler = handler
        self.host = host
        self.port = port
        self.route = route
        self.env_timeout_s = env_timeout_s
        self.command_timeout_s = command_timeout_s
        self.hangup_grace_s = hangup_grace_s
        self.stats = {"connections": 0, "rejected": 0, "calls": 0, "errors": 0}
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> "AgiServer":
        start_handler = getattr(self.handler, "start", None)     # e.g. the IVR's prompt synthesis worker
        if start_handler is not None:
            await start_handler()
        app = _Application(self)

        async def endpoint(request: fast_agi.Request) -> None:
            await self._call(request.reader, request.writer, request.headers)

        app.add_route(self.route, endpoint)
        self._server = await asyncio.start_server(app.handler, self.host, self.port, limit=MAX_LINE_BYTES * 8)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d/%s", self.host, self.port, self.route)
        return self

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    env: Mapping[str, str]) -> None:
        self.stats["calls"] += 1
        channel = AgiChannel(reader, writer, command_timeout_s=self.command_timeout_s,
                             hangup_grace_s=self.hangup_grace_s)
        call = CallInfo(channel_id=env.get("agi_uniqueid", ""), channel_name=env.get("agi_channel", ""),
                        caller_id=env.get("agi_callerid", ""), route=env.get("agi_network_script", ""),
                        arguments=tuple(itertools.takewhile(lambda value: value is not None,
                                                            (env.get(f"agi_arg_{n}") for n in itertools.count(1)))))
        try:
            await self.handler(channel, call)
        except ChannelGone as gone:
            log.info("call %s ended: %s", call.channel_id, gone.reason)
        except RecordingFailed as exc:
            log.error("call %s: %s", call.channel_id, exc)

    async def drained(self, timeout_s: float | None = None) -> bool:
        """Wait until no call is in progress (e.g. its outcome is written); False on timeout."""
        while self._connections:
            done, pending = await asyncio.wait(list(self._connections), timeout=timeout_s)
            if pending:
                return False
        return True

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop listening, give calls in progress ``grace_s`` to finish, then cut them off.

        Cutting a call off loses nothing: its answers were stored as they arrived.
        """
        if self._server is not None:
            self._server.close()
        if not await self.drained(grace_s):
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        close_handler = getattr(self.handler, "close", None)     # e.g. the IVR's prompt synthesis worker
        if close_handler is not None:
            await close_handler()

    async def __aenter__(self) -> "AgiServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()
