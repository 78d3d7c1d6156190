"""Speaking a prompt: its sound files, and call-specific values said or synthesised on the fly.

A prompt is a list of parts (see :mod:`.script`).  Sound parts become STREAM
FILE; ``{say_date:…}``, ``{say_digits:…}`` and ``{say_number:…}`` use
Asterisk's own SAY commands (spoken in the channel's language); ``{tts:…}``
asks a :class:`~.tts.Synthesizer` for a sound file of the text.  A value that
cannot be spoken (missing, or no synthesiser) is skipped rather than failing
the call: the sentence loses a detail, the survey goes on.

A prompt no key may interrupt (a play node without keys: the goodbye) is
played a run of files at a time (:meth:`~.channel.Channel.play_sounds`): one
round trip to Asterisk, not one per file.  A prompt keys may interrupt (a
question; the greeting, which offers 9) is a STREAM FILE per part, since
Playback drops keys.  Either way the synthesised parts are rendered before the
first word plays, not in a silence between two files.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Sequence

from ..ledger.timezone import OFFICE_TZ
from .channel import Channel
from .context import CallContext
from .script import Part, Prompt, SoundPart, SpokenVariable
from .tts import Synthesizer

log = logging.getLogger(__name__)

DEFAULT_DATE_FORMAT = "Bd"     # month name, day of month (Asterisk SAY DATETIME format letters)


class PromptPlayer:
    def __init__(self, channel: Channel, context: CallContext, synthesizer: Synthesizer | None = None):
        self.channel = channel
        self.context = context
        self.synthesizer = synthesizer

    async def play(self, prompt: Prompt, escape_digits: str = "") -> str | None:
        """Play every part; stop at the first escape digit pressed and return it."""
        return await self.play_parts(prompt.parts, escape_digits)

    async def play_parts(self, parts: Sequence[Part], escape_digits: str = "") -> str | None:
        if not escape_digits:
            await self._play_through(parts)
            return None
        # Synthesised parts are rendered before the first word, not in a silence between two files.
        ready = {i: await self._synthesised(part) for i, part in enumerate(parts)
                 if isinstance(part, SpokenVariable) and part.kind == "tts"}
        for i, part in enumerate(parts):
            if i in ready:
                digit = await self.channel.stream_file(ready[i], escape_digits) if ready[i] else None
            else:
                digit = await self.play_part(part, escape_digits)
            if digit:
                return digit
        return None

    async def _play_through(self, parts: Sequence[Part]) -> None:
        """Parts no key can stop: each run of files, recorded or synthesised, goes out as one list."""
        files: list[str] = []
        for part in parts:
            if isinstance(part, SoundPart):
                files.append(part.name)
            elif part.kind == "tts":
                sound = await self._synthesised(part)
                if sound:
                    files.append(sound)
            else:                                 # a SAY command: what came before it plays first
                if files:
                    await self.channel.play_sounds(files)
                    files = []
                await self._speak(part, "")
        if files:
            await self.channel.play_sounds(files)

    async def play_part(self, part: Part, escape_digits: str = "") -> str | None:
        if isinstance(part, SoundPart):
            return await self.channel.stream_file(part.name, escape_digits)
        return await self._speak(part, escape_digits)

    def _value(self, part: SpokenVariable):
        """The call's value for the part, or None (logged) when it has none."""
        value = self.context.variables.get(part.variable)
        if value is None or value == "":
            log.warning("attempt %s: no value for {%s:%s}; part skipped",
                        self.context.attempt_id, part.kind, part.variable)
            return None
        return value

    async def _synthesised(self, part: SpokenVariable) -> str | None:
        """The sound file saying a ``{tts:…}`` part's value, or None when it cannot be had."""
        value = self._value(part)
        if value is None or self.synthesizer is None:
            return None
        return await self.synthesizer.sound_for(str(value))

    async def _speak(self, part: SpokenVariable, escape_digits: str) -> str | None:
        if part.kind == "tts":
            sound = await self._synthesised(part)
            return await self.channel.stream_file(sound, escape_digits) if sound else None
        value = self._value(part)
        if value is None:
            return None
        if part.kind == "say_date" and isinstance(value, datetime):
            return await self.channel.say_datetime(int(value.timestamp()), escape_digits,
                                                   part.arg or DEFAULT_DATE_FORMAT, OFFICE_TZ.key)
        if part.kind == "say_digits":
            digits = "".join(c for c in str(value) if c.isdigit())
            return await self.channel.say_digits(digits, escape_digits) if digits else None
        if part.kind == "say_number" and str(value).lstrip("-").isdigit():
            return await self.channel.say_number(int(value), escape_digits)
        return None
