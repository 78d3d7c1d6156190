"""In-memory stand-ins for a call and for speech recognition, so IVR logic runs without Asterisk or vosk.

Used by the tests and usable by a demo.  :class:`FakeChannel` plays a
citizen from a list of inputs, one per wait for input (GET DATA, WAIT FOR
DIGIT, RECORD FILE), and logs every command.  :class:`PhraseRecognizer` is a
recognizer that "hears" a WAV by its content: it knows which transcript each
reference WAV carries and maps transcripts to intents like a grammar would,
flagging low confidence for review.
"""
from __future__ import annotations

import hashlib
import shutil
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..asr.base import Recognition
from .channel import CallerHungUp, DigitsResult, RecordResult


@dataclass(frozen=True)
class Speak:
    """Say what ``audio`` holds (for RECORD FILE); ``hang_up`` = leave mid-sentence."""
    audio: Path
    hang_up: bool = False


@dataclass(frozen=True)
class Barge:
    """Press ``key`` while the prompt is still playing (STREAM FILE with escape digits)."""
    key: str


HANG_UP = "<hang-up>"


@dataclass
class FakeChannel:
    inputs: list = field(default_factory=list)     # "1" digits | None silence | Speak | Barge | HANG_UP
    variables: dict[str, str] = field(default_factory=dict)
    hang_up_at_command: int | None = None          # the citizen leaves when this command (0-based) is sent
    log: list[tuple] = field(default_factory=list)
    hung_up: bool = False

    def _command(self, *entry) -> None:
        if self.hung_up:
            raise CallerHungUp("already hung up")
        self.log.append(entry)
        if self.hang_up_at_command is not None and len(self.log) > self.hang_up_at_command:
            self.hung_up = True
            raise CallerHungUp("HANGUP (scripted)")

    def _next(self):
        return self.inputs.pop(0) if self.inputs else None

    @property
    def commands(self) -> list[str]:
        return [entry[0] for entry in self.log]

    async def answer(self) -> None:
        self._command("ANSWER")

    async def hangup(self) -> None:
        self._command("HANGUP")
        self.hung_up = True

    async def get_variable(self, name: str) -> str | None:
        self._command("GET VARIABLE", name)
        return self.variables.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self._command("SET VARIABLE", name, value)
        self.variables[name] = value

    async def verbose(self, message: str, level: int = 1) -> None:
        self._command("VERBOSE", message)

    async def stream_file(self, sound: str, escape_digits: str = "") -> str | None:
        self._command("STREAM FILE", sound, escape_digits)
        if self.inputs and isinstance(self.inputs[0], Barge) and self.inputs[0].key in escape_digits:
            return self.inputs.pop(0).key
        return None

    async def play_sounds(self, sounds) -> None:
        """As over AGI: one file is a STREAM FILE, a list is one Playback."""
        if len(sounds) == 1:
            await self.stream_file(sounds[0])
        else:
            self._command("PLAYBACK", *sounds)

    async def get_data(self, sound: str, timeout_ms: int, max_digits: int) -> DigitsResult:
        self._command("GET DATA", sound, timeout_ms, max_digits)
        item = self._next()
        if item == HANG_UP:
            self.hung_up = True
            raise CallerHungUp("result=-1 then HANGUP")
        if isinstance(item, str):
            return DigitsResult(item[:max_digits], False)
        return DigitsResult("", True)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._command("WAIT FOR DIGIT", timeout_ms)
        item = self._next()
        if item == HANG_UP:
            self.hung_up = True
            raise CallerHungUp("result=-1 then HANGUP")
        return item[:1] if isinstance(item, str) and item else None

    async def _say(self, verb: str, value: str, escape_digits: str) -> str | None:
        self._command(verb, value, escape_digits)
        return None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return await self._say("SAY DIGITS", digits, escape_digits)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return await self._say("SAY NUMBER", str(number), escape_digits)

    async def say_datetime(self, epoch: int, escape_digits: str = "", fmt: str = "",
                           timezone: str = "") -> str | None:
        return await self._say("SAY DATETIME", str(epoch), escape_digits)

    async def record_file(self, path: str, fmt: str, escape_digits: str, timeout_ms: int, *,
                          beep: bool = False, silence_s: int | None = None) -> RecordResult:
        self._command("RECORD FILE", path, fmt, escape_digits, timeout_ms, beep, silence_s)
        target = Path(f"{path}.{fmt}")
        item = self._next()
        if item == HANG_UP:
            self.hung_up = True
            raise CallerHungUp("result=-1 (hangup)", endpos=0)
        if isinstance(item, Speak):
            shutil.copyfile(item.audio, target)
            frames = _frames(target)
            if item.hang_up:
                self.hung_up = True
                raise CallerHungUp("result=-1 (hangup)", endpos=frames)
            return RecordResult(None, frames)
        if isinstance(item, str) and item[:1] in escape_digits and item:
            write_silence(target, 0.5)
            return RecordResult(item[0], 4000)
        write_silence(target, silence_s or 1)
        return RecordResult(None, _frames(target))


def write_silence(target: Path, seconds: float, rate: int = 8000) -> None:
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))


def _frames(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes()


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class PhraseRecognizer:
    """Recognises reference WAVs by content: ``{wav: (transcript, confidence)}``; anything else is silence.

    A transcript maps to the intent of the longest question phrase it
    contains (so 不满意 is not taken for 满意); confidence below ``threshold``
    sets ``needs_review``.
    """

    available = True

    def __init__(self, known: Mapping[Path, tuple[str, float]], *, threshold: float = 0.6):
        self.known = {_digest(p): v for p, v in known.items()}
        self.threshold = threshold
        self.calls: list[tuple[str, Path]] = []

    async def recognize(self, audio: Path, *, question: str, phrases: Mapping[str, str]) -> Recognition:
        self.calls.append((question, Path(audio)))
        transcript, confidence = self.known.get(_digest(audio), ("", 0.0))
        matches = sorted((p for p in phrases if p and p in transcript), key=len, reverse=True)
        intent = phrases[matches[0]] if matches else None
        return Recognition(transcript, intent, confidence, needs_review=confidence < self.threshold)
