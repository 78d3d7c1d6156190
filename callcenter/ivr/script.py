"""A loaded, validated IVR script: sounds, prompts and a graph of nodes.

These are plain immutable values; :mod:`.loader` builds them from TOML and
guarantees every reference resolves, so the runner never meets a dangling
name mid-call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Union

#: The answer-less way out of a question (timeouts / nothing understood).
NO_ANSWER = "no_answer"
#: Outcomes a hangup node may force; otherwise the outcome follows from the answers.
FORCED_OUTCOMES = ("refused",)


@dataclass(frozen=True)
class SoundPart:
    """A recorded sound file, named without extension (as Asterisk's STREAM FILE wants)."""
    name: str


@dataclass(frozen=True)
class SpokenVariable:
    """A call-specific value spoken at run time.

    ``say_date`` → SAY DATETIME (``arg`` = Asterisk date format, default ``Bd``),
    ``say_digits`` → SAY DIGITS, ``say_number`` → SAY NUMBER,
    ``tts`` → a sound synthesised from the text (skipped when no synthesiser is configured).
    """
    kind: str
    variable: str
    arg: str = ""


SPOKEN_KINDS = ("say_date", "say_digits", "say_number", "tts")

Part = Union[SoundPart, SpokenVariable]


@dataclass(frozen=True)
class Prompt:
    key: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Play:
    """Say something.  ``keys`` (key → node) lets a key cut it short, e.g. the greeting's "不需要请按9":
    without them the prompt plays through as one Playback, which drops every key pressed meanwhile."""
    name: str
    prompt: Prompt
    next: str
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """Ask, then listen for a key or (when speech is available) a spoken phrase."""
    name: str
    prompt: Prompt
    question: str                       # the name the answer is stored under
    dtmf: Mapping[str, str]             # digit → intent
    speech: Mapping[str, str]           # phrase → intent
    branches: Mapping[str, str]         # intent → node
    no_answer: str                      # node when retries run out
    timeout_s: int = 6
    silence_s: int = 2
    retries: int = 1
    retry_prompt: Prompt | None = None
    beep: bool = False

    @property
    def intents(self) -> frozenset[str]:
        return frozenset(self.dtmf.values()) | frozenset(self.speech.values())

    @property
    def escape_digits(self) -> str:
        return "".join(sorted(self.dtmf))


@dataclass(frozen=True)
class Record:
    """Record free speech (e.g. why the citizen is dissatisfied) and store it as an answer."""
    name: str
    prompt: Prompt
    question: str
    next: str
    max_seconds: int = 30
    silence_s: int = 3
    beep: bool = True
    escape_digits: str = "#"


@dataclass(frozen=True)
class Branch:
    """Go on according to the intent already given to an earlier question."""
    name: str
    question: str
    cases: Mapping[str, str]            # intent → node
    default: str


@dataclass(frozen=True)
class Goto:
    name: str
    next: str


@dataclass(frozen=True)
class Hangup:
    name: str
    outcome: str | None = None          # "refused", or None: decided by the answers


Node = Union[Play, Question, Record, Branch, Goto, Hangup]


def successors(node: Node) -> list[str]:
    """Every node this one can lead to, in a stable order."""
    if isinstance(node, Play):
        return list(dict.fromkeys([node.next, *node.keys.values()]))
    if isinstance(node, (Record, Goto)):
        return [node.next]
    if isinstance(node, Question):
        return list(dict.fromkeys([*node.branches.values(), node.no_answer]))
    if isinstance(node, Branch):
        return list(dict.fromkeys([*node.cases.values(), node.default]))
    return []


def outcome_ahead(nodes: Mapping[str, Node], name: str) -> str | None:
    """The outcome of the hangup this node leads to with nothing more to ask (plays and gotos only), or
    None.  The refusal is settled once the call enters its goodbye: a citizen who pressed 9 and hangs
    up at once has refused, whether or not the goodbye was heard to the end."""
    seen: set[str] = set()
    while name in nodes and name not in seen:
        seen.add(name)
        node = nodes[name]
        if isinstance(node, Hangup):
            return node.outcome
        if not isinstance(node, (Play, Goto)):
            return None
        name = node.next
    return None


@dataclass(frozen=True)
class Script:
    name: str
    path: Path
    start: str
    nodes: Mapping[str, Node]
    complete_when: tuple[str, ...]      # questions that must all be answered for answered-complete
    sounds: Mapping[str, str] = field(default_factory=dict)     # sound name → what it says
    prompts: Mapping[str, Prompt] = field(default_factory=dict)
    description: str = ""
