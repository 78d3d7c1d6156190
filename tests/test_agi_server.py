"""FastAGI server + IVR + PostgreSQL, driven over real TCP on 127.0.0.1 by the simulated citizen."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from callcenter.db import callbacks
from callcenter.ivr.fakes import PhraseRecognizer
from callcenter.ivr.loader import ScriptLibrary
from callcenter.ivr.session import CallbackIvr
from callcenter.sim.agi_citizen import default_env, run_agi_session
from callcenter.sim.citizens import HANG_UP, CitizenScript, Reply
from callcenter.telephony.agi import AgiServer
from tests.factories import insert_ticket

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"


@pytest.fixture(scope="module")
def library():
    return ScriptLibrary.from_directory()


class Office:
    """A running FastAGI server over the test database, and helpers to place calls into it."""

    def __init__(self, db, server: AgiServer, ivr: CallbackIvr):
        self.db = db
        self.server = server
        self.ivr = ivr
        self.url = f"agi://127.0.0.1:{server.port}/callback"
        self._tickets = 0

    async def attempt(self, *, channel_id: uuid.UUID | None = None) -> tuple[int, uuid.UUID, uuid.UUID]:
        channel_id = channel_id or uuid.uuid4()
        self._tickets += 1
        n = self._tickets
        async with self.db.pool.acquire() as conn:
            ticket_id = await insert_ticket(conn, f"T{n}", status="awaiting_callback", phone=f"138{n:08d}")
            attempt = await callbacks.create_attempt(conn, ticket_id, phone=f"138{n:08d}",
                                                     channel_id=channel_id, state="dialing")
        return ticket_id, attempt, channel_id

    async def call(self, citizen: CitizenScript, *, variables=None, channel_id=None, arguments=None, **kw):
        """``arguments``: callable (attempt, ticket) → the dialplan's AGI arguments (agi_arg_1…)."""
        ticket_id, attempt, channel = await self.attempt(channel_id=channel_id)
        if variables is None:
            variables = {"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id)}
        env = default_env(str(channel), agi_url=self.url)
        for n, value in enumerate(arguments(attempt, ticket_id) if arguments else (), 1):
            env[f"agi_arg_{n}"] = value
        result = await run_agi_session(self.url, env, citizen, variables, time_scale=0, **kw)
        assert await self.server.drained(30)
        return attempt, result

    async def answers(self, attempt) -> dict[str, object]:
        async with self.db.pool.acquire() as conn:
            return {q: r for q, r in (await callbacks.current_answers(conn, attempt)).items()}

    async def attempt_row(self, attempt):
        async with self.db.pool.acquire() as conn:
            return await conn.fetchrow("SELECT state, outcome, answered_at FROM callback_attempts WHERE id = $1",
                                       attempt)


@pytest.fixture
async def office(db, library, tmp_path):
    ivr = CallbackIvr(db.pool, library, recordings_dir=tmp_path / "recordings")
    async with AgiServer(ivr, port=0, hangup_grace_s=0.2) as server:
        yield Office(db, server, ivr)
        assert server.stats["errors"] == 0


def intents(answers) -> dict[str, str | None]:
    return {q: r["intent"] for q, r in answers.items()}


async def test_dtmf_call_1_2_1_is_stored_and_complete(office):
    attempt, result = await office.call(CitizenScript.keys("1", "2", "1"))
    assert intents(await office.answers(attempt)) == {"contacted": "yes", "solved": "partly",
                                                      "satisfaction": "satisfied"}
    row = await office.attempt_row(attempt)
    assert (row["state"], row["outcome"]) == ("answered", "answered-complete") and row["answered_at"]
    assert result.hung_up_by == "ivr" and result.prompts_heard == 5
    # No ANSWER (the originated leg is up already); this dialplan passes no arguments, so the IVR asks.
    assert result.commands[:3] == ["GET VARIABLE ATTEMPT_ID", "GET VARIABLE TICKET_ID",
                                   "GET VARIABLE CALLCENTER_SCRIPT"]
    assert "GET DATA callback/ask-contacted 6000 1" in result.commands
    assert result.commands[-1] == "HANGUP"


async def test_citizen_hangs_up_during_question_two_keeps_answer_one(office):
    attempt, result = await office.call(CitizenScript(replies=(Reply.press("1"),), hangup_after_prompts=2))
    assert intents(await office.answers(attempt)) == {"contacted": "yes"}
    assert (await office.attempt_row(attempt))["outcome"] == "answered-partial"
    assert result.hung_up_by == "citizen" and result.prompts_heard == 3
    assert result.commands[-1] == "GET DATA callback/ask-solved 6000 1"


async def test_hang_up_reply_after_two_answers(office):
    attempt, result = await office.call(CitizenScript(replies=(Reply.press("2"), Reply.press("3"), HANG_UP)))
    assert intents(await office.answers(attempt)) == {"contacted": "no", "solved": "unsolved"}
    assert (await office.attempt_row(attempt))["outcome"] == "answered-partial"
    assert result.hung_up_by == "citizen"


async def test_hang_up_in_the_greeting(office):
    attempt, result = await office.call(CitizenScript(hangup_after_prompts=0))
    assert await office.answers(attempt) == {}
    assert (await office.attempt_row(attempt))["outcome"] == "no-answer"
    assert result.commands[-1] == "STREAM FILE callback/greeting-intro 9"     # a 9 may stop the greeting


async def test_dissatisfied_reason_is_recorded_where_the_ivr_asked(office, tmp_path):
    attempt, result = await office.call(CitizenScript(replies=(
        Reply.press("1"), Reply.press("3"), Reply.press("3"), Reply.speak(AUDIO / "reason.wav"))))
    answers = await office.answers(attempt)
    assert intents(answers)["satisfaction"] == "dissatisfied"
    reason = answers["dissatisfaction_reason"]
    assert reason["needs_review"] and reason["intent"] is None
    path = Path(reason["recording_path"])
    assert path == tmp_path / "recordings" / str(attempt) / "dissatisfaction_reason.wav"
    assert path.read_bytes() == (AUDIO / "reason.wav").read_bytes()
    record = next(c for c in result.commands if c.startswith("RECORD FILE"))
    assert record == f"RECORD FILE {path.with_suffix('')} wav # 60000 0 BEEP s=3"
    assert (await office.attempt_row(attempt))["outcome"] == "answered-complete"


async def test_refusal(office):
    attempt, result = await office.call(CitizenScript.keys("1", "9"))
    assert (await office.attempt_row(attempt))["outcome"] == "refused"
    assert intents(await office.answers(attempt)) == {"contacted": "yes", "solved": "refuse"}
    assert 'STREAM FILE callback/goodbye-refused ""' in result.commands


async def test_a_9_while_the_greeting_plays_refuses_at_once(office):
    """The greeting says 如不需要回访，请按9: the citizen need not wait for the first question."""
    attempt, result = await office.call(CitizenScript.keys("9"))
    assert (await office.attempt_row(attempt))["outcome"] == "refused"
    assert await office.answers(attempt) == {}
    assert not any(c.startswith("GET DATA") for c in result.commands)


async def test_speech_answers_over_the_wire(office):
    office.ivr.recognizer = PhraseRecognizer({AUDIO / "yes.wav": ("联系过", 0.9),
                                              AUDIO / "solved.wav": ("已经解决了", 0.5),
                                              AUDIO / "satisfied.wav": ("满意", 0.95)})
    attempt, result = await office.call(CitizenScript(replies=(
        Reply.speak(AUDIO / "yes.wav"), Reply.speak(AUDIO / "solved.wav"), Reply.speak(AUDIO / "satisfied.wav"))))
    answers = await office.answers(attempt)
    assert intents(answers) == {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    assert [answers[q]["needs_review"] for q in ("contacted", "solved", "satisfaction")] == [False, True, False]
    assert all(answers[q]["source"] == "speech" for q in answers)
    assert Path(answers["solved"]["recording_path"]).read_bytes() == (AUDIO / "solved.wav").read_bytes()
    assert any(c.startswith("RECORD FILE") and c.endswith("wav 129 6000 0 s=2") for c in result.commands)


async def test_keys_during_a_spoken_question(office):
    office.ivr.recognizer = PhraseRecognizer({})
    attempt, result = await office.call(CitizenScript.keys("1", "1", "2"))
    assert intents(await office.answers(attempt)) == {"contacted": "yes", "solved": "solved", "satisfaction": "basic"}
    assert not any(c.startswith("RECORD FILE") for c in result.commands)   # the key interrupted each prompt


@pytest.mark.parametrize("case", ["unknown-attempt", "other-channel", "other-ticket", "garbage-id", "no-vars"])
async def test_calls_that_cannot_be_tied_to_their_attempt_are_refused_unheard(office, case):
    _, other, other_channel = await office.attempt()
    ticket_id, attempt, channel = await office.attempt()
    variables = {
        "unknown-attempt": {"ATTEMPT_ID": str(uuid.uuid4()), "TICKET_ID": str(ticket_id)},
        "other-channel": {"ATTEMPT_ID": str(other), "TICKET_ID": str(ticket_id)},
        "other-ticket": {"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id + 1000)},
        "garbage-id": {"ATTEMPT_ID": "1; DROP TABLE tickets"},
        "no-vars": {},
    }[case]
    env = default_env("not-a-known-channel" if case == "no-vars" else str(channel), agi_url=office.url)
    result = await run_agi_session(office.url, env, CitizenScript.keys("1", "1", "1"), variables, time_scale=0)
    assert await office.server.drained(30)
    assert result.hung_up_by == "ivr" and result.prompts_heard == 0
    assert not any(c.startswith(("STREAM", "GET DATA")) for c in result.commands)
    for a in (attempt, other):
        assert await office.answers(a) == {}
        assert (await office.attempt_row(a))["state"] == "dialing"


async def test_channel_id_alone_identifies_the_attempt(office):
    _, attempt, channel = await office.attempt()
    env = default_env(str(channel), agi_url=office.url)
    await run_agi_session(office.url, env, CitizenScript.keys("1", "1", "1"), {}, time_scale=0)
    assert await office.server.drained(30)
    assert len(await office.answers(attempt)) == 3


async def test_script_variable_picks_an_unknown_script_refused(office):
    ticket_id, attempt, channel = await office.attempt()
    result = await run_agi_session(office.url, default_env(str(channel), agi_url=office.url),
                                   CitizenScript.keys("1"), {"ATTEMPT_ID": str(attempt),
                                                             "CALLCENTER_SCRIPT": "no_such_script"}, time_scale=0)
    assert await office.server.drained(30)
    assert result.hung_up_by == "ivr" and await office.answers(attempt) == {}


async def test_twenty_simultaneous_calls_each_store_their_own_answers(office):
    plans = [("1", "2", "1"), ("2", "3", "3"), ("1", "1", "2"), ("2", "1", "1")] * 5
    placed = await asyncio.gather(*(office.call(CitizenScript.keys(*p)) for p in plans))
    names = {"contacted": {"1": "yes", "2": "no"}, "solved": {"1": "solved", "2": "partly", "3": "unsolved"},
             "satisfaction": {"1": "satisfied", "2": "basic", "3": "dissatisfied"}}
    for plan, (attempt, result) in zip(plans, placed):
        got = intents(await office.answers(attempt))
        want = {q: names[q][k] for q, k in zip(("contacted", "solved", "satisfaction"), plan)}
        if plan[2] == "3":
            want["dissatisfaction_reason"] = None
        assert got == want
    assert office.server.stats["calls"] == 20


async def test_replayed_call_cannot_change_stored_answers(office):
    ticket_id, attempt, channel = await office.attempt()
    variables = {"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id)}
    env = default_env(str(channel), agi_url=office.url)
    await run_agi_session(office.url, env, CitizenScript.keys("1", "1", "1"), variables, time_scale=0)
    assert await office.server.drained(30)
    again = await run_agi_session(office.url, env, CitizenScript.keys("2", "3", "3"), variables, time_scale=0)
    assert await office.server.drained(30)
    assert again.prompts_heard == 0 and again.hung_up_by == "ivr"
    assert intents(await office.answers(attempt)) == {"contacted": "yes", "solved": "solved",
                                                      "satisfaction": "satisfied"}
    assert (await office.attempt_row(attempt))["outcome"] == "answered-complete"


async def test_variables_passed_as_agi_arguments_save_the_get_variable_round_trips(office):
    """[callback-ivr] passes ATTEMPT_ID/TICKET_ID/CALLCENTER_SCRIPT as NAME=value AGI arguments."""
    attempt, result = await office.call(
        CitizenScript.keys("1", "1", "1"), variables={},
        arguments=lambda a, t: [f"ATTEMPT_ID={a}", f"TICKET_ID={t}", "CALLCENTER_SCRIPT=callback_three_rates"])
    assert not [c for c in result.commands if c.startswith("GET VARIABLE")]
    assert (await office.attempt_row(attempt))["outcome"] == "answered-complete"


async def test_a_variable_the_dialplan_does_not_pass_is_asked_of_the_channel(office):
    attempt, result = await office.call(
        CitizenScript.keys("1", "1", "1"), arguments=lambda a, t: [f"ATTEMPT_ID={a}", "UNRELATED=x", "no-equals"])
    asked = [c for c in result.commands if c.startswith("GET VARIABLE")]
    assert asked == ["GET VARIABLE TICKET_ID", "GET VARIABLE CALLCENTER_SCRIPT"]
    assert (await office.attempt_row(attempt))["outcome"] == "answered-complete"
