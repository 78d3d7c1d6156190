"""The hotline state machine, fed real Asterisk events (transcript 10) and hand-made sequences."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given, settings, strategies as st

from callcenter.hotline.state import (ABANDONED, ANSWERED, CALLBACK, CallFinished, HotlineState, RingEnded,
                                      ScreenPop, StartRecording, service_level)
from callcenter.sim import transcripts
from callcenter.telephony.ami_parser import AmiMessage

TRANSCRIPT = Path(__file__).parent / "fixtures" / "asterisk" / "10-queue-answered-then-abandoned.ami.txt"


def received_events() -> list[AmiMessage]:
    return [AmiMessage(m) for s in transcripts.load(TRANSCRIPT) if s.direction == transcripts.RECEIVED
            for m in s.messages if dict(m).get("Event")]


def feed(state: HotlineState, events, start: float = 1000.0):
    effects = []
    for i, e in enumerate(events):
        effects += state.apply(e if isinstance(e, AmiMessage) else AmiMessage(list(e.items())), start + i)
    return effects


def test_transcript_10_gives_one_answered_and_one_abandoned_call():
    state = HotlineState()
    effects = feed(state, received_events())
    finished = [e.call for e in effects if isinstance(e, CallFinished)]
    assert [(c.uniqueid, c.outcome) for c in finished] == [("chan-hot", ANSWERED), ("chan-ab", ABANDONED)]
    answered, abandoned = finished
    assert (answered.agent, answered.wait_s, answered.talk_s, answered.caller_num) == ("agent1", 2, 6, "13800000001")
    assert (abandoned.agent, abandoned.wait_s, abandoned.caller_num) == (None, 5, "13800000002")
    pops = [e for e in effects if isinstance(e, ScreenPop)]
    assert pops == [ScreenPop("agent1", "Local/agent1@agent-sim", "chan-hot", "13800000001", "counsel")]
    assert [e.uniqueid for e in effects if isinstance(e, StartRecording)] == ["chan-hot"]
    assert state.callers == {} and state.agents == {}          # the member was removed at the end


def test_live_views_while_waiting_ringing_and_paused():
    state = HotlineState()
    events = received_events()
    names = [e.event for e in events]
    feed(state, events[:names.index("AgentCalled") + 1], start=0)
    assert [c["uniqueid"] for c in state.waiting(now=10)] == ["chan-hot"]
    assert state.agent_rows()[0]["status"] == "ringing"
    feed(state, events[:names.index("QueueMemberPause") + 1], start=100)
    row = state.agent_rows()[0]
    assert (row["status"], row["paused_reason"], row["calls_taken"]) == ("paused", "break", 1)
    assert state.waiting(now=200) == []


def _queue_event(name: str, uid: str, **extra) -> dict:
    return {"Event": name, "Uniqueid": uid, "Channel": f"PJSIP/t-{uid}", "CallerIDNum": f"138{uid}",
            "Queue": "counsel", **extra}


def test_callback_request_after_leaving_the_queue_is_its_own_outcome():
    state = HotlineState()
    effects = feed(state, [_queue_event("QueueCallerJoin", "1"), _queue_event("QueueCallerLeave", "1"),
                           {"Event": "UserEvent", "UserEvent": "CallbackRequested", "Uniqueid": "1"},
                           {"Event": "Hangup", "Uniqueid": "1"}])
    finished = [e.call for e in effects if isinstance(e, CallFinished)]
    assert [(c.outcome, c.wait_s) for c in finished] == [(CALLBACK, 1.0)]


def test_leaving_unanswered_then_hanging_up_is_abandoned():
    state = HotlineState()
    effects = feed(state, [_queue_event("QueueCallerJoin", "9"), _queue_event("QueueCallerLeave", "9"),
                           {"Event": "Hangup", "Uniqueid": "9"}])
    assert [e.call.outcome for e in effects if isinstance(e, CallFinished)] == [ABANDONED]


# Property: whatever order callers join/leave/are answered in, every joined caller ends exactly once,
# and the waiting list only ever holds callers that have not ended.
ACTIONS = st.lists(st.tuples(st.sampled_from(["join", "connect", "complete", "abandon", "callback", "hangup"]),
                             st.integers(0, 5)), max_size=60)


def test_agent_complete_without_the_callers_block_ends_the_members_call():
    """Asterisk 22 leaves a channel's block out of AgentComplete when that channel is already gone by the
    time app_queue handles the hangup (seen under load: no ``Uniqueid`` at all, or no ``DestUniqueid``)."""
    state = HotlineState()
    member = {"Interface": "Local/agent@agents", "MemberName": "agent"}
    effects = feed(state, [
        _queue_event("QueueCallerJoin", "1"), _queue_event("QueueCallerJoin", "2"),
        _queue_event("AgentConnect", "1", HoldTime="2", **member),
        {"Event": "AgentComplete", "Queue": "counsel", "HoldTime": "2", "TalkTime": "3", "Reason": "agent",
         **member},
        {"Event": "Hangup", "Uniqueid": "1"}])
    finished = [e.call for e in effects if isinstance(e, CallFinished)]
    assert [(c.uniqueid, c.outcome, c.agent, c.talk_s, c.wait_s) for c in finished] == [
        ("1", ANSWERED, "agent", 3, 2)]                 # Asterisk's TalkTime, not the Hangup's guess
    assert state.agent_by_name("agent").talking_to is None
    assert list(state.callers) == ["2"]                 # the caller still waiting is not touched


@settings(max_examples=200, deadline=None)
@given(ACTIONS)
def test_every_call_finishes_once_per_entry_and_waiting_is_consistent(actions):
    state = HotlineState()
    entered: Counter[str] = Counter()
    finished = []
    for step, (kind, n) in enumerate(actions):
        uid = str(n)
        event = {
            "join": _queue_event("QueueCallerJoin", uid),
            "connect": _queue_event("AgentConnect", uid, Interface="PJSIP/a", MemberName="a", HoldTime="3"),
            "complete": _queue_event("AgentComplete", uid, Interface="PJSIP/a", MemberName="a", TalkTime="7"),
            "abandon": _queue_event("QueueCallerAbandon", uid, HoldTime="4"),
            "callback": {"Event": "UserEvent", "UserEvent": "CallbackRequested", "Uniqueid": uid},
            "hangup": {"Event": "Hangup", "Uniqueid": uid},
        }[kind]
        if kind in ("join", "connect") and uid not in state.callers:
            entered[uid] += 1         # a connect we saw no join for still starts a call (late start-up)
        elif kind == "complete" and uid not in state.callers and uid not in entered:
            entered[uid] += 1         # a talk that began before we followed the queue still ends as a call
        elif kind == "join":
            continue                  # Asterisk never re-joins a live Uniqueid
        for effect in state.apply(AmiMessage(list(event.items())), float(step)):
            if isinstance(effect, CallFinished):
                finished.append(effect.call)
        waiting = {c["uniqueid"] for c in state.waiting(now=float(step))}
        assert waiting <= set(state.callers)
    ended = Counter(c.uniqueid for c in finished)
    for uid, times in entered.items():
        assert times == ended[uid] + (uid in state.callers)
    assert set(ended) <= set(entered)
    for call in finished:
        assert call.outcome in (ANSWERED, ABANDONED, CALLBACK)
        assert call.wait_s >= 0 and call.talk_s >= 0
        assert (call.agent is not None) == (call.outcome == ANSWERED)


def test_service_level_counts_answered_within_threshold_over_offered():
    assert service_level([5, 19, 21], abandoned=1) == 0.5
    assert service_level([], abandoned=0) is None


def test_a_caller_gone_before_the_queue_is_an_abandoned_call_with_its_stage():
    state = HotlineState()
    effects = feed(state, [
        {"Event": "UserEvent", "UserEvent": "HotlineAbandoned", "Stage": "consent", "CallerIDNum": "13800000013",
         "Uniqueid": "1700000000.7", "Started": "998"},
        {"Event": "UserEvent", "UserEvent": "HotlineAbandoned", "Stage": "queue", "Uniqueid": "1700000000.8"}])
    finished = [e.call for e in effects if isinstance(e, CallFinished)]
    assert len(finished) == 1                   # "queue": the queue's own events tell that caller's fate
    call = finished[0]
    assert (call.uniqueid, call.outcome, call.abandoned_stage, call.caller_num) == \
        ("1700000000.7", ABANDONED, "consent", "13800000013")
    assert (call.joined_at, call.ended_at, call.wait_s, call.agent) == (998.0, 1000.0, 2.0, None)


MEMBER_A = {"Interface": "Local/a@agents", "MemberName": "a"}
MEMBER_B = {"Interface": "Local/b@agents", "MemberName": "b"}


def test_a_ring_that_ends_untaken_tells_that_agent_and_only_that_agent():
    state = HotlineState()
    effects = feed(state, [
        {"Event": "QueueMemberAdded", "Queue": "counsel", "Status": "1", **MEMBER_A},
        {"Event": "QueueMemberAdded", "Queue": "counsel", "Status": "1", **MEMBER_B},
        _queue_event("QueueCallerJoin", "1"), _queue_event("QueueCallerJoin", "2"),
        _queue_event("AgentCalled", "1", **MEMBER_A), _queue_event("AgentRingNoAnswer", "1", **MEMBER_A),
        _queue_event("AgentCalled", "1", **MEMBER_B), _queue_event("AgentConnect", "1", HoldTime="6", **MEMBER_B),
        _queue_event("AgentCalled", "2", **MEMBER_A), _queue_event("QueueCallerAbandon", "2", HoldTime="9")])
    assert [e for e in effects if isinstance(e, RingEnded)] == [RingEnded("a", "1"), RingEnded("a", "2")]
    assert state.agent_by_name("a").display_status == "idle"


def test_a_member_signed_out_mid_call_does_not_come_back_when_the_talk_ends():
    state = HotlineState()
    effects = feed(state, [
        {"Event": "QueueMemberAdded", "Queue": "counsel", "Status": "1", **MEMBER_A},
        _queue_event("QueueCallerJoin", "1"), _queue_event("AgentConnect", "1", HoldTime="1", **MEMBER_A),
        {"Event": "QueueMemberRemoved", "Queue": "counsel", **MEMBER_A},
        _queue_event("AgentComplete", "1", HoldTime="1", TalkTime="5", **MEMBER_A)])
    assert [(e.call.outcome, e.call.agent) for e in effects if isinstance(e, CallFinished)] == [(ANSWERED, "a")]
    assert state.agents == {}


def test_a_talk_begun_before_we_followed_the_queue_ends_as_an_answered_call_once():
    state = HotlineState()
    effects = feed(state, [
        _queue_event("AgentComplete", "1", HoldTime="4", TalkTime="30", **MEMBER_A),
        _queue_event("AgentComplete", "1", HoldTime="4", TalkTime="30", **MEMBER_A)])
    (call,) = [e.call for e in effects if isinstance(e, CallFinished)]
    assert (call.outcome, call.agent, call.caller_num, call.wait_s, call.talk_s) == (ANSWERED, "a", "1381", 4, 30)
    assert (call.joined_at, call.ended_at) == (966.0, 1000.0)
    assert not state.callers


def test_a_late_agent_complete_after_the_hangup_does_not_end_the_call_again():
    state = HotlineState()
    effects = feed(state, [
        _queue_event("QueueCallerJoin", "1"), _queue_event("AgentConnect", "1", HoldTime="1", **MEMBER_A),
        {"Event": "Hangup", "Uniqueid": "1"},
        _queue_event("AgentComplete", "1", HoldTime="1", TalkTime="2", **MEMBER_A)])
    assert len([e for e in effects if isinstance(e, CallFinished)]) == 1


def test_a_resync_finishes_the_calls_that_ended_unseen_and_keeps_the_rest():
    state = HotlineState()
    feed(state, [
        {"Event": "QueueMemberAdded", "Queue": "counsel", "Status": "1", **MEMBER_A},
        _queue_event("QueueCallerJoin", "talking"), _queue_event("AgentConnect", "talking", HoldTime="1", **MEMBER_A),
        _queue_event("QueueCallerJoin", "cut"), _queue_event("QueueCallerJoin", "taken-unseen"),
        _queue_event("QueueCallerJoin", "still")])
    status = [AmiMessage([("Event", "QueueMember"), ("Queue", "counsel"), ("Name", "a"),
                          ("Location", "Local/a@agents"), ("Status", "2"), ("Paused", "0")]),
              AmiMessage([("Event", "QueueEntry"), ("Queue", "counsel"), ("Uniqueid", "still"),
                          ("Channel", "PJSIP/t-still"), ("CallerIDNum", "138still"), ("Wait", "5")])]
    state, effects = state.resynced(status, {"talking", "taken-unseen", "still"}, 1010.0)
    finished = [(e.call.uniqueid, e.call.outcome) for e in effects if isinstance(e, CallFinished)]
    assert finished == [("cut", ABANDONED)]
    assert state.agent_by_name("a").talking_to == "talking"
    assert [c["uniqueid"] for c in state.waiting(1010.0)] == ["still"]
    later = state.apply(AmiMessage(list(_queue_event("AgentComplete", "taken-unseen", HoldTime="6", TalkTime="3",
                                                     **MEMBER_A).items())), 1012.0)
    (call,) = [e.call for e in later if isinstance(e, CallFinished)]
    assert (call.outcome, call.agent, call.wait_s, call.joined_at) == (ANSWERED, "a", 6, 1004.0)
