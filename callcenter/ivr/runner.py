"""Run one IVR script on one call: ask, listen, store each answer at once, follow the graph.

Listening, per question try:
* speech available (a recognizer with a model, a recordings directory, and
  phrases on the question): the prompt plays with the question's keys as
  escape digits; if no key is pressed the answer is recorded (RECORD FILE with
  silence detection, keys still end it) and recognised;
* otherwise DTMF only: the prompt's last sound is played by GET DATA.

Keys always win.  An answer is stored before the next prompt plays.  Speech
the recognizer is unsure of is stored with ``needs_review``; speech it could
not map at all is re-asked (``retries``), and if it never becomes clear the
recording is still stored, intent NULL, for a supervisor.  A hang-up, a
broken channel or a storage failure ends the run; what was stored stays.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..asr.base import NoSpeech, Recognizer, SpeechUnavailable
from .answers import Answer, AnswerSink, outcome_of
from .channel import CallerHungUp, Channel, ChannelFailure, ChannelGone, RecordingFailed
from .context import CallContext
from .prompts import PromptPlayer
from .script import Branch, Goto, Hangup, Node, Play, Question, Record, Script, SoundPart, outcome_ahead
from .tts import Synthesizer

log = logging.getLogger(__name__)

#: Nodes one call may visit; a guard against loops whose exit depends on an answer never given.
MAX_STEPS = 200
#: After a key answers a question, this long passes before the next prompt starts.  Asterisk drops keys
#: that reach an AGI channel between commands, so a second key pressed with the first ("12", a double
#: press) is dropped instead of answering the next question before the citizen has heard it.  A
#: phone's key lasts ~0.1-0.25 s with ~0.1 s between keys: 0.6 s covers a burst of two.
KEY_SETTLE_S = 0.6


class StorageFailed(RuntimeError):
    """An answer could not be stored; the call ends rather than ask questions whose answers would be lost."""


@dataclass
class RunResult:
    outcome: str                        # answered-complete | answered-partial | refused | no-answer
    ended_by: str                       # script | caller-hangup | channel-failure | storage-failure | step-limit
    answers: list[Answer] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)   # questions whose version 1 already existed
    path: list[str] = field(default_factory=list)        # nodes visited, in order


async def run_script(script: Script, channel: Channel, context: CallContext, sink: AnswerSink, *,
                     recognizer: Recognizer | None = None, synthesizer: Synthesizer | None = None,
                     recordings_dir: Path | None = None, key_settle_s: float = 0.0) -> RunResult:
    """``key_settle_s``: see :data:`KEY_SETTLE_S` (the FastAGI service passes it; in-memory channels need none)."""
    return await _Run(script, channel, context, sink, recognizer or NoSpeech(), synthesizer, recordings_dir,
                      key_settle_s).run()


class _Run:
    def __init__(self, script: Script, channel: Channel, context: CallContext, sink: AnswerSink,
                 recognizer: Recognizer, synthesizer: Synthesizer | None, recordings_dir: Path | None,
                 key_settle_s: float = 0.0):
        self.key_settle_s = key_settle_s
        self.script = script
        self.channel = channel
        self.context = context
        self.sink = sink
        self.recognizer = recognizer
        self.player = PromptPlayer(channel, context, synthesizer)
        self.record_dir = self._prepare_record_dir(recordings_dir)
        self.speech = bool(recognizer.available) and self.record_dir is not None
        self.result = RunResult(outcome="", ended_by="script")
        self.intents: dict[str, str] = {}
        self.forced: str | None = None

    def _prepare_record_dir(self, recordings_dir: Path | None) -> Path | None:
        if recordings_dir is None:
            return None
        directory = Path(recordings_dir) / self.context.attempt_id
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.error("attempt %s: cannot create %s (%s): no recordings this call", self.context.attempt_id,
                      directory, exc)
            return None
        return directory

    async def run(self) -> RunResult:
        name = self.script.start
        try:
            for _ in range(MAX_STEPS):
                node = self.script.nodes[name]
                self.result.path.append(name)
                self.forced = self.forced or outcome_ahead(self.script.nodes, name)
                if isinstance(node, Hangup):
                    await self.channel.hangup()
                    break
                name = await self.visit(node)
            else:
                log.error("attempt %s: %d nodes visited without reaching a hangup; ending the call",
                          self.context.attempt_id, MAX_STEPS)
                self.result.ended_by = "step-limit"
                await self.channel.hangup()
        except CallerHungUp as gone:
            log.info("attempt %s: caller hung up at [nodes.%s] (%s)", self.context.attempt_id, name, gone.reason)
            self.result.ended_by = "caller-hangup"
        except ChannelFailure as gone:
            log.warning("attempt %s: channel failed at [nodes.%s]: %s", self.context.attempt_id, name, gone.reason)
            self.result.ended_by = "channel-failure"
        except StorageFailed as exc:
            log.error("attempt %s: %s", self.context.attempt_id, exc)
            self.result.ended_by = "storage-failure"
        self.result.outcome = outcome_of(self.script.complete_when, self.result.answers, self.forced)
        return self.result

    async def visit(self, node: Node) -> str:
        if isinstance(node, Play):
            key = await self.player.play(node.prompt, "".join(sorted(node.keys)))
            return node.keys[key] if key in node.keys else node.next
        if isinstance(node, Question):
            intent = await self.ask(node)
            return node.branches[intent] if intent is not None else node.no_answer
        if isinstance(node, Record):
            await self.record(node)
            return node.next
        if isinstance(node, Branch):
            return node.cases.get(self.intents.get(node.question, ""), node.default)
        if isinstance(node, Goto):
            return node.next
        raise TypeError(f"unknown node {node!r}")

    # -- storing -----------------------------------------------------------------------------
    async def store(self, answer: Answer) -> None:
        try:
            stored = await self.sink.store(answer)
        except Exception as exc:
            log.error("attempt %s: LOST ANSWER (could not store) %r", self.context.attempt_id, answer)
            raise StorageFailed(f"could not store the answer to {answer.question!r}: {exc}") from exc
        self.result.answers.append(answer)
        if not stored:
            log.warning("attempt %s: %r already had an answer; the first one is kept",
                        self.context.attempt_id, answer.question)
            self.result.conflicts.append(answer.question)
        if answer.intent is not None:
            self.intents[answer.question] = answer.intent

    # -- questions ---------------------------------------------------------------------------
    async def ask(self, node: Question) -> str | None:
        unclear: Answer | None = None
        try:
            for attempt in range(node.retries + 1):
                answer = None
                if attempt and node.retry_prompt is not None:
                    answer = self.keyed(node, await self.player.play(node.retry_prompt, node.escape_digits))
                if answer is None:
                    answer = await (self.listen_speech(node, attempt) if self.speech and node.speech
                                    else self.listen_keys(node))
                if answer is None:
                    continue
                if answer.intent is None:
                    unclear = answer
                    continue
                keyed_at = asyncio.get_running_loop().time()
                await self.store(answer)
                if answer.source == "dtmf" and self.key_settle_s > 0:
                    await asyncio.sleep(keyed_at + self.key_settle_s - asyncio.get_running_loop().time())
                return answer.intent
        except ChannelGone:
            if unclear is not None:
                await self.store(unclear)
            raise
        if unclear is not None:
            await self.store(unclear)
        return None

    @staticmethod
    def keyed(node: Question, digits: str | None) -> Answer | None:
        """A key press as an answer; None for no key or a key the question does not use."""
        if not digits or digits[0] not in node.dtmf:
            return None
        return Answer(node.question, node.dtmf[digits[0]], "dtmf", digits=digits[0])

    async def listen_keys(self, node: Question) -> Answer | None:
        """One sound: GET DATA.  Several parts: each with the answer keys, then WAIT FOR DIGIT, so a
        GET DATA on the wire is always a whole question (a keyed greeting may play just before it)."""
        parts, timeout_ms = node.prompt.parts, node.timeout_s * 1000
        if len(parts) == 1 and isinstance(parts[0], SoundPart):
            return self.keyed(node, (await self.channel.get_data(parts[0].name, timeout_ms, 1)).digits)
        digit = await self.player.play_parts(parts, node.escape_digits)
        return self.keyed(node, digit or await self.channel.wait_for_digit(timeout_ms))

    async def listen_speech(self, node: Question, attempt: int) -> Answer | None:
        digit = await self.player.play(node.prompt, node.escape_digits)
        if digit:
            return self.keyed(node, digit)
        base = self.record_dir / f"{node.question}-{attempt + 1}"
        try:
            recorded = await self.channel.record_file(str(base), "wav", node.escape_digits, node.timeout_s * 1000,
                                                      beep=node.beep, silence_s=node.silence_s)
        except RecordingFailed as exc:
            log.error("attempt %s: recording failed (%s); continuing with keys only", self.context.attempt_id, exc)
            self.speech = False
            return await self.listen_keys(node)
        except ChannelGone as gone:
            if gone.endpos:      # cut off mid-answer: keep what was said, for a person to check
                said = await self.understand(node, Path(f"{base}.wav"), cut_off=True)
                if said is not None:
                    await self.store(said)
            raise
        if recorded.digit:
            return self.keyed(node, recorded.digit)
        return await self.understand(node, Path(f"{base}.wav"))

    async def understand(self, node: Question, wav: Path, *, cut_off: bool = False) -> Answer | None:
        unclear = Answer(node.question, None, "speech", recording_path=str(wav), needs_review=True)
        try:
            heard = await self.recognizer.recognize(wav, question=node.question, phrases=node.speech)
        except SpeechUnavailable as exc:
            log.warning("attempt %s: %s; continuing with keys only", self.context.attempt_id, exc)
            self.speech = False
            return unclear
        except Exception:
            log.exception("attempt %s: recognizer failed on %s", self.context.attempt_id, wav)
            return unclear
        if heard.intent is None and not heard.transcript.strip():
            # Silence: ask again.  Cut off in silence, nothing was said: no answer, or a citizen who only
            # listened would make the call 'answered-partial', an effective callback without answers.
            return None
        intent = heard.intent if heard.intent in node.intents else None
        return Answer(node.question, intent, "speech", transcript=heard.transcript,
                      confidence=heard.confidence, recording_path=str(wav),
                      needs_review=heard.needs_review or intent is None or cut_off)

    # -- free speech -------------------------------------------------------------------------
    async def record(self, node: Record) -> None:
        await self.player.play(node.prompt)
        if self.record_dir is None:
            log.warning("attempt %s: no recordings directory; [nodes.%s] skipped", self.context.attempt_id,
                        node.name)
            return
        wav = self.record_dir / f"{node.question}.wav"
        try:
            await self.channel.record_file(str(wav.with_suffix("")), "wav", node.escape_digits,
                                           node.max_seconds * 1000, beep=node.beep,
                                           silence_s=node.silence_s or None)
        except RecordingFailed as exc:
            log.error("attempt %s: could not record %s: %s", self.context.attempt_id, node.question, exc)
            return
        except ChannelGone as gone:
            if gone.endpos:
                await self.store(await self.transcribe(node, wav))
            raise
        await self.store(await self.transcribe(node, wav))

    async def transcribe(self, node: Record, wav: Path) -> Answer:
        """Free speech: the transcript if a model can give one; a person listens when it cannot."""
        transcript, confidence, review = None, None, True
        if self.recognizer.available:
            try:
                heard = await self.recognizer.recognize(wav, question=node.question, phrases={})
                # A free-form transcription, when the engine gives one, beats a grammar-bound one here.
                said = getattr(heard, "free_text", "") or heard.transcript
                transcript, confidence = said.strip() or None, heard.confidence
                review = heard.needs_review or transcript is None
            except Exception as exc:   # the recording is kept either way
                log.warning("attempt %s: could not transcribe %s: %s", self.context.attempt_id, wav, exc)
        return Answer(node.question, None, "speech", transcript=transcript, confidence=confidence,
                      recording_path=str(wav), needs_review=review)
