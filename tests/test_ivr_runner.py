"""The callback script run over an in-memory channel: keys, speech, retries, hang-ups, refusals."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest

from callcenter.asr.base import NoSpeech, SpeechUnavailable
from callcenter.ivr.answers import Answer
from callcenter.ivr.channel import CallerHungUp
from callcenter.ivr.context import CallContext
from callcenter.ivr.fakes import HANG_UP, Barge, FakeChannel, PhraseRecognizer, Speak, write_silence
from callcenter.ivr.loader import ScriptLibrary, parse_script
from callcenter.ivr.prompts import PromptPlayer
from callcenter.ivr.runner import MAX_STEPS, run_script
from callcenter.ivr.script import Prompt, SoundPart, SpokenVariable, outcome_ahead

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"


@pytest.fixture(scope="module")
def script():
    return ScriptLibrary.from_directory().get("callback_three_rates")


def context() -> CallContext:
    return CallContext.for_ticket("att-1", ticket_id=7, ticket_no="2405010001", title="楼道堆物",
                                  called_at=datetime(2024, 5, 3, 1, 30, tzinfo=timezone.utc))


class ListSink:
    """Records each answer with the number of commands sent so far (to prove it came before the next prompt)."""

    def __init__(self, channel: FakeChannel, *, existing: set[str] = frozenset(), fail_on: str | None = None):
        self.channel = channel
        self.stored: list[tuple[Answer, int]] = []
        self.existing = set(existing)
        self.fail_on = fail_on

    async def store(self, answer: Answer) -> bool:
        if answer.question == self.fail_on:
            raise ConnectionError("database gone")
        self.stored.append((answer, len(self.channel.log)))
        return answer.question not in self.existing

    @property
    def intents(self) -> dict[str, str | None]:
        return {a.question: a.intent for a, _ in self.stored}


def recognizer(**known) -> PhraseRecognizer:
    return PhraseRecognizer({AUDIO / f"{name}.wav": value for name, value in known.items()})


async def run(script, channel, sink=None, **kw):
    sink = sink or ListSink(channel)
    result = await run_script(script, channel, context(), sink, **kw)
    return result, sink


async def test_dtmf_path_1_2_1_stores_each_answer_before_the_next_prompt(script):
    channel = FakeChannel(inputs=["1", "2", "1"])
    result, sink = await run(script, channel)
    assert sink.intents == {"contacted": "yes", "solved": "partly", "satisfaction": "satisfied"}
    assert result.outcome == "answered-complete" and result.ended_by == "script"
    assert [a.source for a, _ in sink.stored] == ["dtmf"] * 3
    assert [a.digits for a, _ in sink.stored] == ["1", "2", "1"]
    # The command that produced each answer is the last one sent when it is stored.
    for answer, sent in sink.stored:
        assert channel.log[sent - 1][0] == "GET DATA"
    assert channel.commands[-1] == "HANGUP"
    assert [e[1] for e in channel.log if e[0] == "GET DATA"] == [
        "callback/ask-contacted", "callback/ask-solved", "callback/ask-satisfaction"]
    assert ("STREAM FILE", "callback/thanks", "") in channel.log


async def test_greeting_speaks_ticket_date_and_title_through_the_synthesizer(script):
    class Synth:
        def __init__(self):
            self.texts = []

        async def sound_for(self, text):
            self.texts.append(text)
            return f"/tts/{len(self.texts)}"

    synth = Synth()
    channel = FakeChannel(inputs=["1", "1", "1"])
    await run(script, channel, synthesizer=synth)
    assert synth.texts == ["5月3日", "楼道堆物"]       # 01:30 UTC is 09:30 on 3 May in Beijing
    # The greeting offers 9 (不需要回访), so each of its five files is a STREAM FILE that a 9 may stop.
    assert channel.log[:5] == [("STREAM FILE", sound, "9") for sound in (
        "callback/greeting-intro", "/tts/1", "callback/greeting-reported", "/tts/2", "callback/greeting-problem")]


async def test_a_9_during_the_greeting_refuses_before_any_question(script):
    channel = FakeChannel(inputs=[Barge("9")])
    result, sink = await run(script, channel)
    assert (result.outcome, sink.stored, result.path) == ("refused", [], ["greeting", "refused", "end_refused"])
    assert "GET DATA" not in channel.commands and channel.commands[-1] == "HANGUP"


async def test_a_play_node_without_keys_is_still_one_playback(script):
    channel = FakeChannel(inputs=["1", "1", "1"])
    await run(script, channel)
    assert ("STREAM FILE", "callback/thanks", "") in channel.log      # the closing words: no key stops them


async def test_a_say_part_splits_the_uninterrupted_prompt_and_keeps_the_order():
    class Synth:
        async def sound_for(self, text):
            return f"/tts/{text}"

    channel = FakeChannel()
    ctx = context()
    ctx.variables.update(count=3, missing="")
    parts = (SoundPart("a"), SpokenVariable("tts", "ticket_title"), SpokenVariable("say_number", "count"),
             SoundPart("b"), SpokenVariable("tts", "missing"), SpokenVariable("say_number", "count"), SoundPart("c"))
    assert await PromptPlayer(channel, ctx, Synth()).play(Prompt("p", parts)) is None
    assert channel.log == [("PLAYBACK", "a", "/tts/楼道堆物"), ("SAY NUMBER", "3", ""),
                           ("STREAM FILE", "b", ""), ("SAY NUMBER", "3", ""), ("STREAM FILE", "c", "")]
    # With escape digits each part is its own command, so a key can stop the prompt between any two.
    channel = FakeChannel()
    await PromptPlayer(channel, ctx, Synth()).play(Prompt("p", parts[:2]), "12")
    assert channel.log == [("STREAM FILE", "a", "12"), ("STREAM FILE", "/tts/楼道堆物", "12")]


async def test_without_a_synthesizer_the_greeting_skips_the_spoken_values(script):
    channel = FakeChannel(inputs=["1", "1", "1"])
    await run(script, channel)
    assert channel.log[:3] == [("STREAM FILE", sound, "9") for sound in (
        "callback/greeting-intro", "callback/greeting-reported", "callback/greeting-problem")]


async def test_silence_replays_sorry_prompt_then_accepts_the_key(script):
    channel = FakeChannel(inputs=[None, "2", "1", "1"])
    result, sink = await run(script, channel)
    assert sink.intents == {"contacted": "no", "solved": "solved", "satisfaction": "satisfied"}
    sorry = [i for i, e in enumerate(channel.log) if e[1:2] == ("callback/sorry-again",)]
    assert len(sorry) == 1
    assert channel.log[sorry[0]][2] == "129"                  # keys may interrupt the apology
    assert result.outcome == "answered-complete"


async def test_key_pressed_during_the_sorry_prompt_answers(script):
    channel = FakeChannel(inputs=[None, Barge("1"), "1", "1"])
    _, sink = await run(script, channel)
    assert sink.intents["contacted"] == "yes"


async def test_two_silences_skip_the_question_and_the_call_is_partial(script):
    channel = FakeChannel(inputs=[None, None, "1", "1"])
    result, sink = await run(script, channel)
    assert "contacted" not in sink.intents
    assert sink.intents == {"solved": "solved", "satisfaction": "satisfied"}
    assert result.outcome == "answered-partial"


async def test_a_key_the_question_does_not_use_counts_as_no_answer(script):
    channel = FakeChannel(inputs=["7", "1", "1", "1"])
    _, sink = await run(script, channel)
    assert sink.intents["contacted"] == "yes"
    assert sum(1 for e in channel.log if e[0] == "GET DATA" and e[1] == "callback/ask-contacted") == 2


async def test_hang_up_after_question_two_keeps_answers_one_and_two(script):
    channel = FakeChannel(inputs=["1", "3", HANG_UP])
    result, sink = await run(script, channel)
    assert sink.intents == {"contacted": "yes", "solved": "unsolved"}
    assert result.outcome == "answered-partial"
    assert result.ended_by == "caller-hangup"
    assert "HANGUP" not in channel.commands            # nothing is sent to a channel that is gone


async def test_hang_up_in_the_greeting_means_not_reached(script):
    channel = FakeChannel(hang_up_at_command=1)
    result, sink = await run(script, channel)
    assert sink.stored == []
    assert result.outcome == "no-answer" and result.ended_by == "caller-hangup"


async def test_refusal_ends_politely_with_outcome_refused(script):
    channel = FakeChannel(inputs=["1", "9"])
    result, sink = await run(script, channel)
    assert result.outcome == "refused"
    assert sink.intents == {"contacted": "yes", "solved": "refuse"}
    assert ("STREAM FILE", "callback/goodbye-refused", "") in channel.log
    assert "callback/ask-satisfaction" not in [e[1] for e in channel.log if len(e) > 1]
    assert channel.commands[-1] == "HANGUP"


async def test_dissatisfied_reason_is_recorded_dtmf_only(script, tmp_path):
    channel = FakeChannel(inputs=["1", "3", "3", Speak(AUDIO / "reason.wav")])
    result, sink = await run(script, channel, recognizer=NoSpeech(), recordings_dir=tmp_path)
    reason = dict((a.question, a) for a, _ in sink.stored)["dissatisfaction_reason"]
    assert reason.intent is None and reason.needs_review and reason.transcript is None
    assert Path(reason.recording_path).read_bytes() == (AUDIO / "reason.wav").read_bytes()
    record = [e for e in channel.log if e[0] == "RECORD FILE"]
    assert len(record) == 1 and record[0][3] == "#" and record[0][6] == 3     # '#' ends it, 3 s of silence too
    # DTMF-only: the questions themselves were asked with GET DATA, not recorded.
    assert sum(1 for e in channel.log if e[0] == "GET DATA") == 3
    assert result.outcome == "answered-complete"


async def test_dissatisfied_reason_is_transcribed_when_speech_is_available(script, tmp_path):
    rec = recognizer(reason=("物业一直没有来处理", 0.82))
    channel = FakeChannel(inputs=[Barge("1"), Barge("3"), Barge("3"), Speak(AUDIO / "reason.wav")])
    _, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    reason = dict((a.question, a) for a, _ in sink.stored)["dissatisfaction_reason"]
    assert reason.transcript == "物业一直没有来处理" and reason.confidence == pytest.approx(0.82)
    assert not reason.needs_review


async def test_speech_path_maps_phrases_to_intents(script, tmp_path):
    rec = recognizer(yes=("联系过", 0.93), solved=("已经解决了", 0.88), satisfied=("满意", 0.9))
    channel = FakeChannel(inputs=[Speak(AUDIO / "yes.wav"), Speak(AUDIO / "solved.wav"),
                                  Speak(AUDIO / "satisfied.wav")])
    result, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert sink.intents == {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    for answer, _ in sink.stored:
        assert answer.source == "speech" and not answer.needs_review
        assert Path(answer.recording_path).is_file()
        assert Path(answer.recording_path).parent == tmp_path / "att-1"
    asks = [e for e in channel.log if e[0] == "STREAM FILE" and e[1].startswith("callback/ask-")]
    assert [e[2] for e in asks] == ["129", "1239", "1239"]           # keys always interrupt a question
    records = [e for e in channel.log if e[0] == "RECORD FILE"]
    assert [e[3] for e in records] == ["129", "1239", "1239"] and all(e[6] == 2 for e in records)
    assert result.outcome == "answered-complete"


async def test_keys_win_over_speech(script, tmp_path):
    rec = recognizer(yes=("联系过", 0.93))
    channel = FakeChannel(inputs=[Barge("2"), "1", "1"])
    channel.inputs[1:] = [Barge("1"), Barge("1")]
    _, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert sink.intents == {"contacted": "no", "solved": "solved", "satisfaction": "satisfied"}
    assert all(a.source == "dtmf" for a, _ in sink.stored)
    assert rec.calls == []


async def test_a_key_pressed_while_recording_answers(script, tmp_path):
    rec = recognizer()
    channel = FakeChannel(inputs=["2", Barge("1"), Barge("1")])
    _, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert sink.intents["contacted"] == "no" and sink.stored[0][0].source == "dtmf"


async def test_unclear_speech_is_re_asked_once_then_stored_for_review(script, tmp_path):
    rec = recognizer(mumble=("嗯那个啥", 0.8))
    channel = FakeChannel(inputs=[Speak(AUDIO / "mumble.wav"), Speak(AUDIO / "mumble.wav"), Barge("1"), Barge("1")])
    result, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    first = sink.stored[0][0]
    assert first.question == "contacted" and first.intent is None and first.needs_review
    assert first.transcript == "嗯那个啥"
    assert len(rec.calls) == 2                                # asked twice, then given up
    assert ("STREAM FILE", "callback/sorry-again", "129") in channel.log
    assert result.outcome == "answered-partial"


async def test_unclear_then_clear_speech_stores_only_the_clear_answer(script, tmp_path):
    rec = recognizer(mumble=("嗯那个啥", 0.8), yes=("联系过", 0.9))
    channel = FakeChannel(inputs=[Speak(AUDIO / "mumble.wav"), Speak(AUDIO / "yes.wav"), Barge("1"), Barge("1")])
    _, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert [(a.question, a.intent) for a, _ in sink.stored][0] == ("contacted", "yes")
    assert len([a for a, _ in sink.stored if a.question == "contacted"]) == 1


async def test_low_confidence_speech_is_stored_for_review_never_silently_trusted(script, tmp_path):
    rec = recognizer(yes=("联系过", 0.41))
    channel = FakeChannel(inputs=[Speak(AUDIO / "yes.wav"), Barge("1"), Barge("1")])
    _, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    first = sink.stored[0][0]
    assert first.intent == "yes" and first.needs_review and first.confidence == pytest.approx(0.41)


async def test_spoken_refusal(script, tmp_path):
    rec = recognizer(refuse=("不需要", 0.9))
    channel = FakeChannel(inputs=[Speak(AUDIO / "refuse.wav")])
    result, _ = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert result.outcome == "refused"


async def test_no_speech_model_means_dtmf_only(script, tmp_path):
    channel = FakeChannel(inputs=["1", "1", "1"])
    result, _ = await run(script, channel, recognizer=NoSpeech(), recordings_dir=tmp_path)
    assert "RECORD FILE" not in channel.commands and result.outcome == "answered-complete"


async def test_recognizer_that_loses_its_model_mid_call_falls_back_to_keys(script, tmp_path):
    class Flaky:
        available = True

        async def recognize(self, audio, *, question, phrases):
            raise SpeechUnavailable("model unloaded")

    channel = FakeChannel(inputs=[Speak(AUDIO / "yes.wav"), "1", "1", "1"])
    _, sink = await run(script, channel, recognizer=Flaky(), recordings_dir=tmp_path)
    assert sink.intents == {"contacted": "yes", "solved": "solved", "satisfaction": "satisfied"}
    assert channel.commands.count("RECORD FILE") == 1


async def test_hang_up_mid_answer_keeps_the_recording_for_review(script, tmp_path):
    rec = recognizer(yes=("联系过", 0.95))
    channel = FakeChannel(inputs=[Speak(AUDIO / "yes.wav", hang_up=True)])
    result, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path)
    assert len(sink.stored) == 1
    answer = sink.stored[0][0]
    assert answer.intent == "yes" and answer.needs_review        # cut off: a person confirms
    assert result.ended_by == "caller-hangup"


async def test_storage_failure_ends_the_call_instead_of_asking_on(script):
    channel = FakeChannel(inputs=["1", "1", "1"])
    sink = ListSink(channel, fail_on="solved")
    result, _ = await run(script, channel, sink)
    assert result.ended_by == "storage-failure"
    assert "callback/ask-satisfaction" not in [e[1] for e in channel.log if len(e) > 1]


async def test_an_existing_answer_is_reported_as_a_conflict(script):
    channel = FakeChannel(inputs=["1", "1", "1"])
    result, _ = await run(script, channel, ListSink(channel, existing={"solved"}))
    assert result.conflicts == ["solved"]


BRANCHY = """\
[script]
start = "ask"
[sounds]
"s/ask" = "请按键"
"s/yes" = "好的"
"s/no" = "明白"
[prompts]
ask = "s/ask"
yes = "s/yes"
no = "s/no"
[nodes.ask]
type = "question"
prompt = "ask"
retries = 0
dtmf = { "1" = "yes", "2" = "no" }
next = { yes = "hop", no = "hop", no_answer = "ask" }
[nodes.hop]
type = "goto"
next = "which"
[nodes.which]
type = "branch"
question = "ask"
cases = { yes = "say_yes" }
default = "say_no"
[nodes.say_yes]
type = "play"
prompt = "yes"
next = "end"
[nodes.say_no]
type = "play"
prompt = "no"
next = "end"
[nodes.end]
type = "hangup"
"""


@pytest.mark.parametrize("key, heard", [("1", "s/yes"), ("2", "s/no")])
async def test_goto_and_branch_on_an_earlier_answer(tmp_path, key, heard):
    script = parse_script(BRANCHY, tmp_path / "branchy.toml")
    channel = FakeChannel(inputs=[key])
    result, _ = await run(script, channel)
    assert result.path == ["ask", "hop", "which", "say_yes" if key == "1" else "say_no", "end"]
    assert ("STREAM FILE", heard, "") in channel.log


async def test_a_citizen_who_never_answers_cannot_keep_the_call_forever(tmp_path):
    script = parse_script(BRANCHY, tmp_path / "branchy.toml")      # no_answer loops back to the question
    channel = FakeChannel()
    result, sink = await run(script, channel)
    assert result.ended_by == "step-limit" and len(result.path) == MAX_STEPS
    assert channel.commands[-1] == "HANGUP" and sink.stored == []


class DiskFullChannel(FakeChannel):
    """Asterisk cannot write the recording (disk full): RECORD FILE answers ``result=-1 (writefile)``."""

    async def record_file(self, path, fmt, escape_digits, timeout_ms, *, beep=False, silence_s=None):
        self._command("RECORD FILE", path, fmt, escape_digits, timeout_ms, beep, silence_s)
        from callcenter.ivr.channel import RecordingFailed
        raise RecordingFailed("200 result=-1 (writefile)")


async def test_recordings_disk_full_still_stores_every_keypress(script, tmp_path):
    channel = DiskFullChannel(inputs=["1", "2", "1"])
    result, sink = await run(script, channel, recognizer=recognizer(), recordings_dir=tmp_path)
    assert sink.intents == {"contacted": "yes", "solved": "partly", "satisfaction": "satisfied"}
    assert all(answer.source == "dtmf" for answer, _ in sink.stored)
    assert channel.commands.count("RECORD FILE") == 1          # tried once, then keys only for the call
    assert result.outcome == "answered-complete"


@pytest.mark.parametrize("each_try", [None, "*", "#", "0"], ids=["silence", "star", "hash", "unused-key"])
async def test_nothing_usable_at_any_question_asks_each_twice_then_says_goodbye(script, each_try):
    """Silence, or a key no question uses, at every try: each question is asked twice (once re-asked with
    the sorry prompt), nothing is stored, the IVR still thanks and hangs up, and the call counts as not
    reached (no-answer: the dialer tries again)."""
    channel = FakeChannel(inputs=[each_try] * 6)
    result, sink = await run(script, channel)
    asked = [e[1] for e in channel.log if e[0] == "GET DATA"]
    assert asked == [s for s in ("callback/ask-contacted", "callback/ask-solved", "callback/ask-satisfaction")
                     for _ in range(2)]
    assert [e[1] for e in channel.log if e[0] == "STREAM FILE" and e[1] == "callback/sorry-again"] == [
        "callback/sorry-again"] * 3
    assert (sink.stored, result.outcome, result.ended_by) == ([], "no-answer", "script")
    assert ("STREAM FILE", "callback/thanks", "") in channel.log and channel.commands[-1] == "HANGUP"


async def test_a_dtmf_answer_waits_the_settle_time_before_the_next_prompt(script):
    """The pause that lets Asterisk drop a key pressed with the answering one (runner.KEY_SETTLE_S)."""
    loop = asyncio.get_running_loop()
    channel = FakeChannel(inputs=["1", "1", "1"])
    started = loop.time()
    await run(script, channel, key_settle_s=0.2)
    assert loop.time() - started >= 3 * 0.2
    started = loop.time()
    await run(script, FakeChannel(inputs=["1", "1", "1"]))
    assert loop.time() - started < 0.2


async def test_a_silent_citizen_who_hangs_up_while_recorded_was_not_reached(script, tmp_path):
    """Speech mode: the citizen says nothing, then hangs up while the first answer is being recorded.
    Nothing was said, so nothing is stored and the call is not reached (as in DTMF mode), rather than
    an 'answered-partial' call that would count as an effective callback with no answers at all."""
    hush = tmp_path / "hush.wav"
    write_silence(hush, 1.0)
    rec = recognizer(yes=("联系过", 0.95))
    channel = FakeChannel(inputs=[Speak(hush, hang_up=True)])
    result, sink = await run(script, channel, recognizer=rec, recordings_dir=tmp_path / "rec")
    assert (sink.stored, result.outcome, result.ended_by) == ([], "no-answer", "caller-hangup")


@pytest.mark.parametrize("inputs, stored", [([Barge("9")], {}), (["9"], {"contacted": "refuse"}),
                                            (["1", "9"], {"contacted": "yes", "solved": "refuse"})])
async def test_pressing_9_then_hanging_up_at_once_is_still_a_refusal(script, inputs, stored):
    """A citizen who presses 9 and hangs up during 好的，不打扰您了 has refused: the goodbye need not be
    heard to the end (else 'answered-partial' counted an effective callback, or 'no-answer' rang again)."""
    class LeavesInTheGoodbye(FakeChannel):
        async def stream_file(self, sound, escape_digits=""):
            if sound == "callback/goodbye-refused":
                self.hung_up = True
                raise CallerHungUp("result=-1 then HANGUP")
            return await super().stream_file(sound, escape_digits)

    result, sink = await run(script, LeavesInTheGoodbye(inputs=list(inputs)))
    assert (result.outcome, result.ended_by, sink.intents) == ("refused", "caller-hangup", stored)


def test_outcome_ahead_stops_at_anything_that_still_asks(script):
    assert outcome_ahead(script.nodes, "refused") == "refused"
    assert outcome_ahead(script.nodes, "thanks") is None                # the answers decide
    assert outcome_ahead(script.nodes, "greeting") is None              # a question comes first
