"""One answered callback call, from "who is this?" to the stored outcome.

The FastAGI server hands every call here.  The call must prove which attempt
it belongs to before a single question is asked: the ATTEMPT_ID and
TICKET_ID channel variables set at Originate, cross-checked with the channel's
Uniqueid (our ChannelId).  Answers filed under the wrong ticket would corrupt
the three rates, so any disagreement ends the call unheard.  Then the script
runs, each answer is committed as it arrives, and the IVR's verdict
(complete / partial / refused) is written at the end.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..asr.base import NoSpeech, Recognizer
from ..db import callbacks
from ..db.retry import on_connection
from .answers import Answer
from .channel import CallInfo, Channel, ChannelGone
from .context import CallContext
from .loader import ScriptLibrary
from .runner import KEY_SETTLE_S, RunResult, run_script
from .tts import Synthesizer

log = logging.getLogger(__name__)

#: Channel variables the dialer sets in its Originate.
ATTEMPT_VAR = "ATTEMPT_ID"
TICKET_VAR = "TICKET_ID"
SCRIPT_VAR = "CALLCENTER_SCRIPT"
CALL_VARIABLES = (ATTEMPT_VAR, TICKET_VAR, SCRIPT_VAR)


def passed_variables(call: CallInfo) -> dict[str, str | None]:
    """The call's variables the dialplan passed as AGI arguments (``NAME=value``), each saving a
    GET VARIABLE round trip; an empty value counts as unset, as it does for GET VARIABLE's callers."""
    passed: dict[str, str | None] = {}
    for argument in call.arguments:
        name, sep, value = argument.partition("=")
        if sep and name in CALL_VARIABLES:
            passed[name] = value or None
    return passed


class CallRejected(Exception):
    """The call cannot be tied to exactly one attempt; nothing is asked or stored."""


class AttemptAnswers:
    """Stores each answer of one attempt as the citizen's version 1, committed at once."""

    def __init__(self, pool: Any, attempt_id):
        self.pool = pool
        self.attempt_id = attempt_id

    async def store(self, answer: Answer) -> bool:
        return await on_connection(self.pool, lambda conn: callbacks.record_answer(
            conn, self.attempt_id, answer.question, intent=answer.intent, source=answer.source,
            digits=answer.digits, transcript=answer.transcript, confidence=answer.confidence,
            recording_path=answer.recording_path, needs_review=answer.needs_review),
            what=f"attempt {self.attempt_id}: storing {answer.question!r}")


@dataclass
class CallbackIvr:
    """The FastAGI call handler for callback surveys (``AgiServer(CallbackIvr(...))``)."""
    pool: Any
    library: ScriptLibrary
    recognizer: Recognizer | None = None
    synthesizer: Synthesizer | None = None
    recordings_dir: Path | None = None
    # Told (attempt id, outcome) as soon as the script has its verdict: the dialer of the same process
    # then finishes the call at once instead of polling the database for it.
    on_verdict: Callable[[Any, str], None] | None = None
    key_settle_s: float = KEY_SETTLE_S       # a key's companions pressed with it are dropped (runner.KEY_SETTLE_S)

    async def __call__(self, channel: Channel, call: CallInfo) -> RunResult | None:
        try:
            # No ANSWER: the dialplan hands over only the originated leg, which Asterisk runs once the
            # citizen has answered (docker/asterisk/extensions.conf [callback-ivr]); a round trip saved.
            variables = passed_variables(call)
            for name in CALL_VARIABLES:
                if name not in variables:          # a dialplan that does not pass it: ask the channel
                    variables[name] = await channel.get_variable(name)
            facts = await self._answer_expected(call, variables)
            answered = facts is not None
            if facts is None:
                facts = await self.identify(call, variables)
            script = self.library.get(variables[SCRIPT_VAR] or facts.script)
        except (CallRejected, LookupError) as exc:
            log.error("call %s (%s) rejected: %s", call.channel_id, call.channel_name, exc)
            try:
                await channel.hangup()
            except ChannelGone:
                pass
            return None
        except ChannelGone as gone:
            log.info("call %s gone before the survey started: %s", call.channel_id, gone.reason)
            return None
        try:
            if not answered and not await on_connection(
                    self.pool, lambda conn: callbacks.mark_answered(conn, facts.attempt_id),
                    what=f"attempt {facts.attempt_id}: answered", attempts=3):
                log.warning("attempt %s answered while %s; answers are stored all the same",
                            facts.attempt_id, facts.state)
        except Exception:   # the citizen is on the line: ask anyway, each answer is stored on its own
            log.exception("attempt %s: could not mark it answered", facts.attempt_id)
        context = CallContext.for_ticket(str(facts.attempt_id), ticket_id=facts.ticket_id,
                                         ticket_no=facts.ticket_no, title=facts.title,
                                         called_at=facts.called_at, category=facts.category)
        result = await run_script(script, channel, context, AttemptAnswers(self.pool, facts.attempt_id),
                                  recognizer=self.recognizer or NoSpeech(), synthesizer=self.synthesizer,
                                  recordings_dir=self.recordings_dir, key_settle_s=self.key_settle_s)
        if self.on_verdict is not None and result.outcome in callbacks.IVR_OUTCOMES:
            # Before our own write, not after: every answer is committed already, and the dialer writes
            # this same outcome (``coalesce``: a verdict already stored wins), so the order cannot change
            # the record, while waiting for our write kept the trunk's channel held for a round trip more.
            self.on_verdict(facts.attempt_id, result.outcome)
        try:
            stored = await on_connection(
                self.pool, lambda conn: callbacks.finish_attempt(conn, facts.attempt_id, result.outcome),
                what=f"attempt {facts.attempt_id}: outcome")
        except Exception:
            log.exception("attempt %s: could not record outcome %s (the dialer will judge it from the answers)",
                          facts.attempt_id, result.outcome)
        else:
            log.info("attempt %s: %s (%s), path %s", facts.attempt_id, stored, result.ended_by,
                     " → ".join(result.path))
        return result

    async def start(self) -> None:
        """The server is starting: start what the IVR needs ahead of the first call (the synthesizer's worker)."""
        start_synthesizer = getattr(self.synthesizer, "start", None)
        if start_synthesizer is not None:
            await start_synthesizer()

    async def close(self) -> None:
        """The server is closing: stop what the IVR started (the synthesizer's worker process)."""
        close_synthesizer = getattr(self.synthesizer, "close", None)
        if close_synthesizer is not None:
            await close_synthesizer()

    async def _answer_expected(self, call: CallInfo, variables: dict) -> callbacks.CallFacts | None:
        """The usual call (its variables name the attempt dialled as this channel, with a script we have)
        marked answered and identified in one round trip; None sends it down the careful path."""
        if not variables[ATTEMPT_VAR] or not (variables[SCRIPT_VAR] in self.library.scripts):
            return None
        return await on_connection(
            self.pool, lambda conn: callbacks.answer_expected_call(conn, variables[ATTEMPT_VAR], call.channel_id,
                                                                   variables[TICKET_VAR]),
            what=f"call {call.channel_id}: answered", attempts=3)

    async def identify(self, call: CallInfo, variables: dict) -> callbacks.CallFacts:
        """Which attempt this call is, or CallRejected saying why it must not be surveyed."""
        attempt_var, ticket_var = variables[ATTEMPT_VAR], variables[TICKET_VAR]

        by_var, by_channel = await on_connection(
            self.pool, lambda conn: callbacks.call_facts_both(conn, attempt_var or None, call.channel_id),
            what=f"call {call.channel_id}: which attempt")
        if attempt_var and by_var is None:
            raise CallRejected(f"ATTEMPT_ID {attempt_var!r} names no callback attempt")
        facts = by_var or by_channel
        if facts is None:
            raise CallRejected(f"no ATTEMPT_ID and no attempt has ChannelId {call.channel_id!r}")
        if by_var and by_channel and by_var.attempt_id != by_channel.attempt_id:
            raise CallRejected(f"ATTEMPT_ID {attempt_var} but ChannelId {call.channel_id} is attempt "
                               f"{by_channel.attempt_id}")
        if facts.channel_id is not None and str(facts.channel_id) != call.channel_id.strip():
            raise CallRejected(f"attempt {facts.attempt_id} was dialled as channel {facts.channel_id}, "
                               f"but this call is {call.channel_id!r}")
        if facts.outcome is not None or facts.state in ("finished", "cancelled"):
            raise CallRejected(f"attempt {facts.attempt_id} is already {facts.outcome or facts.state}; "
                               f"a replayed call must not change it")
        if ticket_var and ticket_var.strip() != str(facts.ticket_id):
            raise CallRejected(f"TICKET_ID {ticket_var!r} but attempt {facts.attempt_id} is for ticket "
                               f"{facts.ticket_id}")
        return facts
