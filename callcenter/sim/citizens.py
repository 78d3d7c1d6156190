"""Scripted citizens: how a simulated callee behaves, from ringing to hang-up.

Shared vocabulary of the simulator's two halves: the AMI call engine reads
``pickup`` (does the phone get answered, and how does it fail otherwise), and
the FastAGI citizen reads ``replies`` (what the person does at each prompt
that waits for input: GET DATA, WAIT FOR DIGIT, RECORD FILE, or a STREAM FILE
with escape digits).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Pickup(str, Enum):
    """What happens before answer; values mirror the real Asterisk outcomes in ../shared/asterisk."""
    ANSWER = "answer"            # OriginateResponse Success, Reason 4
    BUSY = "busy"                # Failure, Reason 5, cause 17 User busy
    CONGESTION = "congestion"    # Failure, Reason 8, cause 34
    NO_ANSWER = "no-answer"      # Failure, Reason 3, cause 19 (rings past the Originate Timeout)
    REJECTED = "rejected"        # Failure, Reason 0 (not 1!), cause 21 Call Rejected
    INVALID = "invalid"          # Failure, Reason 0, no such extension: no channel survives
    UNALLOCATED = "unallocated"  # Failure, Reason 0, cause 1: the network says the number does not exist


class ReplyKind(str, Enum):
    DIGITS = "digits"            # press keys (e.g. "1"); for GET DATA the whole string
    SPEAK = "speak"              # say something: the WAV at ``audio`` is written where RECORD FILE asks
    SILENCE = "silence"          # say nothing; the prompt times out
    HANGUP = "hangup"            # hang up while this prompt plays


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    digits: str = ""
    audio: Path | None = None

    @classmethod
    def press(cls, digits: str) -> "Reply":
        return cls(ReplyKind.DIGITS, digits=digits)

    @classmethod
    def speak(cls, audio: Path) -> "Reply":
        return cls(ReplyKind.SPEAK, audio=audio)


SILENCE = Reply(ReplyKind.SILENCE)
HANG_UP = Reply(ReplyKind.HANGUP)


@dataclass(frozen=True)
class CitizenScript:
    """One citizen's behaviour on one call.

    ``replies`` are consumed in order, one per prompt that waits for input;
    when they run out the citizen stays silent.  ``hangup_after_prompts``
    hangs up during the Nth prompt of any kind (0 = during the first one), to
    model a citizen who leaves mid-question.
    """
    pickup: Pickup = Pickup.ANSWER
    ring_seconds: float = 2.0
    replies: tuple[Reply, ...] = ()
    hangup_after_prompts: int | None = None

    @classmethod
    def keys(cls, *digits: str, **kw) -> "CitizenScript":
        return cls(replies=tuple(Reply.press(d) for d in digits), **kw)


@dataclass
class CitizenBook:
    """Who answers which number: explicit scripts per number, else a seeded random mix for load."""
    by_number: dict[str, CitizenScript] = field(default_factory=dict)
    seed: int = 12345
    # Mix weights for numbers without a script.
    mix: dict[str, float] = field(default_factory=lambda: {
        "complete": 0.60, "partial": 0.05, "refused": 0.02, "busy": 0.08, "no-answer": 0.15,
        "congestion": 0.02, "rejected": 0.05, "invalid": 0.03,
    })
    # Keys pressed by citizens who answer all three questions (callback_three_rates.toml):
    # mostly contacted / solved / satisfied, with the partly-solved and unhappy minority a street sees.
    answer_keys: tuple[str, str, str] = ("1111112", "1111123", "1111123")

    def script_for(self, number: str) -> CitizenScript:
        if number in self.by_number:
            return self.by_number[number]
        rng = random.Random(f"{self.seed}:{number}")
        kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        if kind == "complete":
            return CitizenScript(replies=tuple(Reply.press(rng.choice(keys)) for keys in self.answer_keys),
                                 ring_seconds=rng.uniform(1, 8))
        if kind == "partial":
            return CitizenScript(replies=(Reply.press("1"),), hangup_after_prompts=2)
        if kind == "refused":
            return CitizenScript(replies=(Reply.press("9"),))
        return CitizenScript(pickup=Pickup(kind), ring_seconds=rng.uniform(1, 8))
