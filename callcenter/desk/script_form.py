"""The IVR script's three questions as the agent's form: the exact wording to read, and the choices.

The agent reads what the robot would have said, minus the keypad instructions
("…请按1"), so a human callback asks the same questions as the IVR.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ivr.script import Question, Script, SoundPart
from ..scoring.answers import INTENT_LABELS


@dataclass(frozen=True)
class FormQuestion:
    question: str                         # contacted | solved | satisfaction
    wording: str                          # what the agent reads out
    choices: tuple[tuple[str, str], ...]  # (intent, label), in keypad order


def _wording(script: Script, node: Question) -> str:
    text = "".join(script.sounds.get(p.name, "") for p in node.prompt.parts if isinstance(p, SoundPart))
    for stop in ("？", "?"):                # keep the question, drop "…请按1"
        if stop in text:
            return text[: text.index(stop) + 1]
    return text


def form_questions(script: Script) -> list[FormQuestion]:
    """The questions that make a callback complete, in the script's order."""
    nodes = {n.question: n for n in script.nodes.values() if isinstance(n, Question)}
    form = []
    for name in script.complete_when:
        node = nodes[name]
        intents = [node.dtmf[d] for d in sorted(node.dtmf) if node.dtmf[d] in INTENT_LABELS]
        form.append(FormQuestion(name, _wording(script, node),
                                 tuple((i, INTENT_LABELS[i]) for i in dict.fromkeys(intents))))
    return form
