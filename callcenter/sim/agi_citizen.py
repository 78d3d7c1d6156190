"""The simulator's Asterisk side of a FastAGI call: a scripted citizen on an answered channel.

It connects to our FastAGI server exactly as Asterisk 22 does (transcripts
../shared/asterisk/0[2-4]-*.agi.txt): the environment block, a blank line,
then one reply per command, in Asterisk's reply shapes:

======================  ====================================================================
ANSWER, NOOP, EXEC      ``200 result=0`` (an unknown application: ``result=-2``)
EXEC Playback a&b       the files in turn, keys ignored; ``200 result=0``, a hang-up ``result=-1``
HANGUP                  ``200 result=1``, then the socket closes (the IVR hung up)
STREAM FILE f esc       ``200 result=0 endpos=N``; a key in ``esc``: ``result=<ASCII>``
GET DATA f ms [max]     ``200 result=<digits>`` ('#' ends them, ``200 result=`` if first);
                        ``200 result= (timeout)`` on silence
WAIT FOR DIGIT ms       ``200 result=<ASCII>`` or ``200 result=0``
SAY DIGITS/NUMBER/...   ``200 result=0`` or ``result=<ASCII>``
RECORD FILE f fmt esc   writes ``f.fmt``; ``200 result=0 (timeout) endpos=N``, or
  ms [off] [BEEP] [s=]  ``200 result=<ASCII> (dtmf) endpos=N``
GET VARIABLE v          ``200 result=1 (value)`` or ``200 result=0``
SET VARIABLE, VERBOSE   ``200 result=1``
anything else           ``510 Invalid or unknown command``; wrong arguments: a 520 usage block
citizen hangs up        ``200 result=-1 endpos=N`` (``result=-1`` for non-playback commands),
                        then a bare ``HANGUP`` line, then the socket closes (transcripts 03/04)
======================  ====================================================================

What the citizen does comes from a :class:`~.citizens.CitizenScript`.  One
reply is taken per *prompt that waits for input* and is used by the first
command that can take it: keys interrupt a STREAM FILE whose escape digits
contain them, or answer GET DATA / WAIT FOR DIGIT / RECORD FILE; speech and
silence go to the next RECORD FILE (a DTMF-only IVR just times out).  A
*prompt*, for ``hangup_after_prompts``, is a run of playback commands with the
same escape digits and no wait for input in between: the IVR's greeting made
of five sound files is one prompt, each question is one (a GET DATA always
starts a prompt of its own: the IVR sends it only for a one-sound question).
"""
from __future__ import annotations

import asyncio
import shutil
import wave
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from ..telephony.agi_protocol import format_env, split_command
from .citizens import CitizenScript, Reply, ReplyKind

SAMPLE_RATE = 8000
#: How long a command may take to arrive before the citizen gives up on a silent IVR.
IDLE_TIMEOUT_S = 300.0
_PLAYBACK = ("STREAM FILE", "GET DATA", "SAY DIGITS", "SAY NUMBER", "SAY DATETIME", "SAY ALPHA", "SAY PHONETIC",
             "CONTROL STREAM FILE", "GET OPTION")
_KNOWN_APPS = {"mixmonitor", "playback", "wait", "noop", "set", "stopmixmonitor", "monitor", "background"}
_ARITY = {  # verb → (min args, max args) after the verb words
    "ANSWER": (0, 0), "HANGUP": (0, 1), "NOOP": (0, 99), "STREAM FILE": (2, 3), "CONTROL STREAM FILE": (2, 7),
    "GET OPTION": (2, 3), "GET DATA": (1, 3), "WAIT FOR DIGIT": (1, 1), "SAY DIGITS": (2, 2),
    "SAY NUMBER": (2, 3), "SAY ALPHA": (2, 2), "SAY PHONETIC": (2, 2), "SAY DATETIME": (2, 4),
    "RECORD FILE": (4, 7), "GET VARIABLE": (1, 1), "SET VARIABLE": (2, 2), "VERBOSE": (1, 2), "EXEC": (1, 99),
}


@dataclass
class AgiSessionResult:
    hung_up_by: str                       # "citizen" | "ivr" (HANGUP command) | "server" (socket closed)
    prompts_heard: int                    # prompts started, including one cut short by the hang-up
    commands: list[str] = field(default_factory=list)    # command lines as received
    replies_used: int = 0
    recordings: list[Path] = field(default_factory=list)


def default_env(channel_id: str, *, agi_url: str = "agi://127.0.0.1:4573/callback",
                channel_name: str = "Local/100@citizen-sim-00000021;1", caller_id: str = "01082345678",
                thread_id: int = 139758237972160) -> dict[str, str]:
    """An environment block in Asterisk 22's order and shape (transcript 02)."""
    return {
        "agi_network": "yes", "agi_network_script": urlparse(agi_url).path.lstrip("/"), "agi_request": agi_url,
        "agi_channel": channel_name, "agi_language": "en", "agi_type": "Local", "agi_uniqueid": channel_id,
        "agi_version": "22.10.1", "agi_callerid": caller_id, "agi_calleridname": "Xisanqi 12345",
        "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0", "agi_callingtns": "0",
        "agi_dnid": "unknown", "agi_rdnis": "unknown", "agi_context": "callback-ivr", "agi_extension": "s",
        "agi_priority": "3", "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": str(thread_id),
    }


def prompt_seconds(sound: str) -> float:
    """A sound's length in the simulation: 2–6 s, the same for the same name on every run."""
    return 2.0 + (zlib.crc32(sound.encode("utf-8")) % 4000) / 1000


async def run_agi_session(agi_url: str, env: dict[str, str], script: CitizenScript, variables: dict[str, str],
                          *, time_scale: float = 1.0, recordings_root: Path | None = None) -> AgiSessionResult:
    """Play one answered call against the FastAGI server at ``agi_url`` until someone hangs up.

    ``recordings_root`` is where relative RECORD FILE paths land (Asterisk's
    spool); absolute paths are written as given.  ``time_scale`` 0 runs
    without waiting (tests); 1 takes as long as the real call would.
    """
    url = urlparse(agi_url)
    reader, writer = await asyncio.open_connection(url.hostname or "127.0.0.1", url.port or 4573)
    session = _Session(reader, writer, script, dict(variables), time_scale, recordings_root)
    try:
        writer.write(format_env(env))
        await writer.drain()
        await session.run()
    except (ConnectionError, OSError):
        session.result.hung_up_by = session.result.hung_up_by or "server"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return session.result


class _CitizenLeft(Exception):
    """The citizen hung up: the replies are sent, the socket must close."""


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, script: CitizenScript,
                 variables: dict[str, str], time_scale: float, recordings_root: Path | None):
        self.reader = reader
        self.writer = writer
        self.script = script
        self.variables = variables
        self.time_scale = max(0.0, time_scale)
        self.recordings_root = recordings_root
        self.replies = list(script.replies)
        self.pending: Reply | None = None
        self.prompt_escape: str | None = None     # escape digits of the prompt being played, None = none playing
        self.result = AgiSessionResult(hung_up_by="", prompts_heard=0)

    # -- plumbing ----------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                raw = await asyncio.wait_for(self.reader.readline(), IDLE_TIMEOUT_S)
            except asyncio.TimeoutError:               # minutes of nothing: a person hangs up
                self.result.hung_up_by = "citizen"
                await self.send("HANGUP")
                return
            if not raw.endswith(b"\n"):
                self.result.hung_up_by = "server"
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.result.commands.append(line)
            try:
                reply = await self.handle(line)
            except _CitizenLeft:
                self.result.hung_up_by = "citizen"
                return
            await self.send(reply)
            if self.result.hung_up_by == "ivr":
                return

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        await self.writer.drain()

    async def sleep(self, seconds: float) -> None:
        if self.time_scale and seconds > 0:
            await asyncio.sleep(seconds * self.time_scale)

    async def hang_up(self, result_line: str) -> None:
        """Transcripts 03/04: the interrupted command's ``result=-1``, then ``HANGUP``, then close."""
        await self.send(result_line, "HANGUP")
        raise _CitizenLeft

    # -- prompts and replies -----------------------------------------------------------------
    def start_playback(self, escape: str) -> bool:
        """Count a new prompt if this playback starts one; True if the citizen hangs up during it."""
        if self.prompt_escape is None or self.prompt_escape != escape:
            self.result.prompts_heard += 1
            self.prompt_escape = escape
            limit = self.script.hangup_after_prompts
            return limit is not None and self.result.prompts_heard > limit
        return False

    def end_prompt(self) -> None:
        self.prompt_escape = None

    def take_reply(self) -> Reply:
        if self.pending is None:
            if self.replies:
                self.pending = self.replies.pop(0)
                self.result.replies_used += 1
            else:
                self.pending = Reply(ReplyKind.SILENCE)
        return self.pending

    def spend_reply(self) -> None:
        self.pending = None

    # -- commands ----------------------------------------------------------------------------
    async def handle(self, line: str) -> str:
        args = split_command(line)
        verb, rest = _verb(args)
        if verb is None:
            return "510 Invalid or unknown command"
        low, high = _ARITY[verb]
        if not low <= len(rest) <= high:
            await self.send("520-Invalid command syntax.  Proper usage follows:",
                            f"Usage: {verb} (see 'agi show commands')")
            return "520 End of proper usage."
        if verb in ("WAIT FOR DIGIT", "RECORD FILE"):
            self.end_prompt()
        handler = getattr(self, "cmd_" + verb.lower().replace(" ", "_"), None)
        if handler is None:
            return "200 result=0"
        return await handler(*rest)

    async def cmd_answer(self) -> str:
        return "200 result=0"

    async def cmd_hangup(self, *channel: str) -> str:
        self.result.hung_up_by = "ivr"
        return "200 result=1"

    async def cmd_get_variable(self, name: str) -> str:
        if name in self.variables:
            return f"200 result=1 ({self.variables[name]})"
        return "200 result=0"

    async def cmd_set_variable(self, name: str, value: str) -> str:
        self.variables[name] = value
        return "200 result=1"

    async def cmd_verbose(self, *args: str) -> str:
        return "200 result=1"

    async def cmd_exec(self, app: str, *args: str) -> str:
        if app.lower() == "playback" and args:
            return await self._playback(args[0].split(",")[0].split("&"))
        return "200 result=0" if app.lower() in _KNOWN_APPS else "200 result=-2"

    async def _playback(self, sounds: list[str]) -> str:
        """``EXEC Playback a&b``: the files in turn, no key stops them; a hang-up is ``result=-1``."""
        seconds = sum(prompt_seconds(sound) for sound in sounds)
        if self.start_playback(""):
            await self.sleep(seconds * 0.45)
            await self.hang_up("200 result=-1")
        await self.sleep(seconds)
        return "200 result=0"

    async def _play(self, sound: str, escape: str) -> str:
        """Play a sound that keys in ``escape`` may interrupt; returns the reply line."""
        samples = int(prompt_seconds(sound) * SAMPLE_RATE)
        if self.start_playback(escape):
            await self.sleep(prompt_seconds(sound) * 0.45)
            await self.hang_up(f"200 result=-1 endpos={int(samples * 0.45)}")
        if escape:
            reply = self.take_reply()
            if reply.kind is ReplyKind.HANGUP:
                await self.sleep(prompt_seconds(sound) * 0.3)
                await self.hang_up(f"200 result=-1 endpos={int(samples * 0.3)}")
            key = reply.digits[:1] if reply.kind is ReplyKind.DIGITS else ""
            if key and key in escape:            # a key this prompt cannot take waits for one that can
                self.spend_reply()
                self.end_prompt()
                await self.sleep(prompt_seconds(sound) * 0.4)
                return f"200 result={ord(key)} endpos={int(samples * 0.4)}"
        await self.sleep(prompt_seconds(sound))
        return f"200 result=0 endpos={samples}"

    async def cmd_stream_file(self, sound: str, escape: str, *offset: str) -> str:
        return await self._play(sound, escape)

    async def cmd_control_stream_file(self, sound: str, escape: str, *more: str) -> str:
        return await self._play(sound, escape)

    async def cmd_get_option(self, sound: str, escape: str, *timeout: str) -> str:
        return await self._play(sound, escape)

    async def _say(self, what: str, escape: str) -> str:
        line = await self._play(f"say:{what}", escape)
        return line.split(" endpos=")[0]

    async def cmd_say_digits(self, digits: str, escape: str) -> str:
        return await self._say(digits, escape)

    async def cmd_say_number(self, number: str, escape: str, *gender: str) -> str:
        return await self._say(number, escape)

    async def cmd_say_alpha(self, text: str, escape: str) -> str:
        return await self._say(text, escape)

    async def cmd_say_phonetic(self, text: str, escape: str) -> str:
        return await self._say(text, escape)

    async def cmd_say_datetime(self, epoch: str, escape: str, *fmt_tz: str) -> str:
        return await self._say(epoch, escape)

    async def cmd_get_data(self, sound: str, timeout_ms: str = "6000", max_digits: str = "1024") -> str:
        timeout_s = _int(timeout_ms, 6000) / 1000
        # GET DATA is a whole question: the IVR sends it only for a one-sound prompt (a longer one ends
        # in WAIT FOR DIGIT), so a keyed greeting just before it is a prompt of its own.
        self.end_prompt()
        if self.start_playback("0123456789*#"):
            await self.sleep(prompt_seconds(sound) * 0.45)
            await self.hang_up("200 result=-1")
        self.end_prompt()
        reply = self.take_reply()
        self.spend_reply()
        if reply.kind is ReplyKind.HANGUP:
            await self.sleep(prompt_seconds(sound) * 0.5)
            await self.hang_up("200 result=-1")
        if reply.kind is ReplyKind.DIGITS and reply.digits:
            # '#' ends the entry and is not part of it; '#' first is an empty, not a timed-out, entry
            # (ast_readstring's AST_GETDATA_EMPTY_END_TERMINATED: ``200 result=``).
            digits = reply.digits.split("#", 1)[0][:max(1, _int(max_digits, 1024))]
            await self.sleep(prompt_seconds(sound) + 1.0)
            return f"200 result={digits}"
        await self.sleep(prompt_seconds(sound) + timeout_s)
        return "200 result= (timeout)"

    async def cmd_wait_for_digit(self, timeout_ms: str) -> str:
        reply = self.take_reply()
        self.spend_reply()
        if reply.kind is ReplyKind.HANGUP:
            await self.hang_up("200 result=-1")
        if reply.kind is ReplyKind.DIGITS and reply.digits:
            await self.sleep(1.0)
            return f"200 result={ord(reply.digits[0])}"
        await self.sleep(max(0, _int(timeout_ms, 0)) / 1000)
        return "200 result=0"

    async def cmd_record_file(self, path: str, fmt: str, escape: str, timeout_ms: str, *options: str) -> str:
        silence_s = next((_int(o[2:], 0) for o in options if o.startswith("s=")), 0)
        max_s = _int(timeout_ms, -1) / 1000 if _int(timeout_ms, -1) > 0 else 60.0
        target = self.target(path, fmt)
        if target is None:
            return "200 result=-1 (writefile)"
        reply = self.take_reply()
        self.spend_reply()
        if reply.kind is ReplyKind.HANGUP:
            samples = _write_silence(target, 1.0)
            self.result.recordings.append(target)
            await self.sleep(1.0)
            await self.hang_up(f"200 result=-1 (hangup) endpos={samples}")
        if reply.kind is ReplyKind.DIGITS and reply.digits[:1] and reply.digits[0] in escape:
            samples = _write_silence(target, 1.0)
            self.result.recordings.append(target)
            await self.sleep(1.0)
            return f"200 result={ord(reply.digits[0])} (dtmf) endpos={samples}"
        if reply.kind is ReplyKind.SPEAK and reply.audio is not None:
            samples = _copy_audio(reply.audio, target, max_s)
            spoken = samples / SAMPLE_RATE + (silence_s or 0)
        else:                              # silence (or keys it ignores): silence detection or the timeout ends it
            spoken = min(max_s, silence_s) if silence_s else max_s
            samples = _write_silence(target, spoken)
        self.result.recordings.append(target)
        await self.sleep(spoken)
        return f"200 result=0 (timeout) endpos={samples}"

    def target(self, path: str, fmt: str) -> Path | None:
        if not path or not fmt or "\0" in path:
            return None
        target = Path(f"{path}.{fmt}")
        if not target.is_absolute():
            if self.recordings_root is None:
                return None
            target = self.recordings_root / target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return target


def _verb(args: list[str]) -> tuple[str | None, list[str]]:
    """The longest known command made of the first words (commands are case-insensitive)."""
    for length in (3, 2, 1):
        words = " ".join(a.upper() for a in args[:length])
        if len(args) >= length and words in _ARITY:
            return words, args[length:]
    return None, args


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _write_silence(target: Path, seconds: float) -> int:
    samples = max(0, int(seconds * SAMPLE_RATE))
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"\0\0" * samples)
    return samples


def _copy_audio(source: Path, target: Path, max_s: float) -> int:
    """Put the citizen's words where Asterisk would have recorded them; returns their length in 8 kHz samples."""
    shutil.copyfile(source, target)
    try:
        with wave.open(str(source), "rb") as wav:
            seconds = wav.getnframes() / max(1, wav.getframerate())
    except (wave.Error, EOFError, OSError):
        seconds = 1.0
    return int(min(seconds, max_s) * SAMPLE_RATE)
