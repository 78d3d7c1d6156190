"""Load IVR scripts from TOML and refuse any script that could fail in front of a citizen.

Every problem found is reported at once, each as ``FILE:LINE: message``:
unknown node types and keys, wrong value types, targets that do not exist,
nodes that can never run, loops with no way out, prompts or sounds that are
not defined (or whose file is missing, when a sounds directory is given).
The language itself is described in :mod:`callcenter.ivr`.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from ..shipped import shipped_dir
from .context import TEMPLATE_VARIABLES
from .graph import reachable, trapped_loops
from .script import (
    FORCED_OUTCOMES, NO_ANSWER, SPOKEN_KINDS, Branch, Goto, Hangup, Node, Play, Prompt, Question, Record,
    Script, SoundPart, SpokenVariable, successors,
)
from .source_map import SourceMap

#: File formats Asterisk may pick a sound from; one of them must exist for each sound.
SOUND_EXTENSIONS = ("wav", "WAV", "wav16", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729")
DTMF_KEYS = "0123456789*#"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_SOUND = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_\-/.]+$")
_SPOKEN = re.compile(r"^\{([a-z_]+):([a-z_]+)(?::([A-Za-z0-9 _\-]*))?\}$")

_NODE_KEYS = {
    "play": {"type", "prompt", "sound", "next", "keys"},
    "question": {"type", "prompt", "question", "dtmf", "speech", "next", "timeout", "silence",
                 "retries", "retry_prompt", "beep"},
    "record": {"type", "prompt", "question", "next", "max_seconds", "silence", "beep", "escape"},
    "branch": {"type", "question", "cases", "default"},
    "goto": {"type", "next"},
    "hangup": {"type", "outcome"},
}
_SPOKEN_TYPES = {"say_date": (datetime,), "say_digits": (str, int), "say_number": (str, int), "tts": (str,)}


class ScriptProblem(NamedTuple):
    path: Path
    line: int           # 0: the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ScriptError(ValueError):
    """The script is unusable; ``problems`` lists every reason with its file and line."""

    def __init__(self, problems: list[ScriptProblem]):
        self.problems = problems
        super().__init__("IVR 脚本错误 / IVR script errors:\n" + "\n".join(f"  {p}" for p in problems))


def scripts_dir() -> Path:
    return shipped_dir("ivr_scripts")


def load_script(path: str | Path, *, sounds_dir: Path | None = None) -> Script:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError([ScriptProblem(path, 0, f"cannot read script: {exc}")]) from exc
    return parse_script(text, path, sounds_dir=sounds_dir)


def parse_script(text: str, path: Path, *, sounds_dir: Path | None = None) -> Script:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ScriptError([ScriptProblem(path, int(match.group(1)) if match else 0,
                                         f"TOML syntax error: {exc}")]) from exc
    return _Loader(path, text, data, sounds_dir).load()


@dataclass
class ScriptLibrary:
    """Every script of a directory, validated at start-up so a bad one stops the service early."""
    scripts: Mapping[str, Script]

    @classmethod
    def from_directory(cls, directory: Path | None = None, *, sounds_dir: Path | None = None) -> "ScriptLibrary":
        directory = directory or scripts_dir()
        scripts: dict[str, Script] = {}
        problems: list[ScriptProblem] = []
        for path in sorted(directory.glob("*.toml")):
            try:
                scripts[path.stem] = load_script(path, sounds_dir=sounds_dir)
            except ScriptError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScriptError(problems)
        return cls(scripts)

    def get(self, name: str) -> Script:
        try:
            return self.scripts[name]
        except KeyError:
            raise LookupError(f"no IVR script named {name!r} (have: {', '.join(sorted(self.scripts)) or 'none'})") \
                from None


class _Loader:
    def __init__(self, path: Path, text: str, data: dict[str, Any], sounds_dir: Path | None):
        self.path = path
        self.src = SourceMap(text)
        self.data = data
        self.sounds_dir = sounds_dir
        self.problems: list[ScriptProblem] = []

    # -- reporting ---------------------------------------------------------------------------
    def problem(self, line: int, message: str) -> None:
        self.problems.append(ScriptProblem(self.path, line, message))

    def key_line(self, table: tuple[str, ...], key: str) -> int:
        return self.src.key_line(table, key)

    # -- typed getters: report and return a default instead of raising ------------------------
    def get(self, table: tuple[str, ...], raw: Mapping[str, Any], key: str, kind: type | tuple,
            default: Any = None, *, required: bool = False, what: str = "") -> Any:
        if key not in raw:
            if required:
                self.problem(self.src.table_line(*table), f"[{'.'.join(table)}] needs `{key}`{what}")
            return default
        value = raw[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.problem(self.key_line(table, key), f"`{key}` must be {_type_word(names)}, not {value!r}")
            return default
        return value

    def get_int(self, table: tuple[str, ...], raw: Mapping[str, Any], key: str, default: int,
                lo: int, hi: int) -> int:
        value = self.get(table, raw, key, int, default)
        if not lo <= value <= hi:
            self.problem(self.key_line(table, key), f"`{key}` = {value} is out of range {lo}–{hi}")
            return default
        return value

    def get_map(self, table: tuple[str, ...], raw: Mapping[str, Any], key: str,
                check_key: Callable[[str], str | None]) -> dict[str, str]:
        value = self.get(table, raw, key, dict, {})
        result: dict[str, str] = {}
        for k, v in value.items():
            error = check_key(k)
            if error:
                self.problem(self.key_line(table, key), f"`{key}`: {error}")
            elif not isinstance(v, str) or not _NAME.match(v):
                self.problem(self.key_line(table, key), f"`{key}`: {k!r} must map to an intent name, not {v!r}")
            elif v == NO_ANSWER:
                self.problem(self.key_line(table, key), f"`{key}`: {NO_ANSWER!r} is reserved and cannot be an intent")
            else:
                result[k] = v
        return result

    # -- the script --------------------------------------------------------------------------
    def load(self) -> Script:
        for key in self.data:
            if key not in ("script", "sounds", "prompts", "nodes"):
                self.problem(self.src.table_line(key) if isinstance(self.data[key], dict)
                             else self.key_line((), key),
                             f"unknown top-level table [{key}] (expected [script], [sounds], [prompts], [nodes.*])")
        meta = self.get((), self.data, "script", dict, {}, required=True)
        start = self.get(("script",), meta, "start", str, "", required=True, what=" (the first node)")
        description = self.get(("script",), meta, "description", str, "")
        for key in meta:
            if key not in ("start", "description", "complete_when", "name"):
                self.problem(self.key_line(("script",), key), f"unknown key `{key}` in [script]")
        name = self.get(("script",), meta, "name", str, self.path.stem)
        if name != self.path.stem:
            self.problem(self.key_line(("script",), "name"),
                         f"script name {name!r} must match its file name {self.path.stem!r}")

        sounds = self.load_sounds()
        prompts = self.load_prompts(sounds)
        nodes = self.load_nodes(prompts)
        self.check_references(nodes)
        self.check_questions(nodes)
        complete_when = self.load_complete_when(meta, nodes)
        if start and start not in nodes and start not in self.raw_nodes:
            self.problem(self.key_line(("script",), "start"), f"start node {start!r} is not defined")
        elif start in nodes and not self.problems:
            self.check_graph(start, nodes)
        if self.problems:
            raise ScriptError(self.problems)
        return Script(name=self.path.stem, path=self.path, start=start, nodes=nodes,
                      complete_when=complete_when, sounds=sounds, prompts=prompts, description=description)

    def load_sounds(self) -> dict[str, str]:
        raw = self.raw_sounds = self.get((), self.data, "sounds", dict, {})
        sounds: dict[str, str] = {}
        for name, text in raw.items():
            line = self.key_line(("sounds",), name)
            if not _SOUND.match(name):
                self.problem(line, f"sound name {name!r} must be a relative file name without extension "
                                   f"(letters, digits, _ - / .)")
            elif not isinstance(text, str):
                self.problem(line, f"sound {name!r}: the value is what it says, as text; got {text!r}")
            elif self.sounds_dir is not None and not _sound_file_exists(self.sounds_dir, name):
                self.problem(line, f"missing sound file for {name!r}: none of "
                                   f"{self.sounds_dir / name}.{{{','.join(SOUND_EXTENSIONS[:3])},…}} exists")
                sounds[name] = text
            else:
                sounds[name] = text
        return sounds

    def load_prompts(self, sounds: Mapping[str, str]) -> dict[str, Prompt]:
        raw = self.raw_prompts = self.get((), self.data, "prompts", dict, {})
        prompts: dict[str, Prompt] = {}
        for key, value in raw.items():
            line = self.key_line(("prompts",), key)
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
                self.problem(line, f"prompt {key!r} must be a sound name or a non-empty list of parts")
                continue
            parts = [self.parse_part(key, item, line, sounds) for item in items]
            if all(p is not None for p in parts):
                prompts[key] = Prompt(key, tuple(parts))
        return prompts

    def parse_part(self, key: str, item: str, line: int, sounds: Mapping[str, str]):
        if item.startswith("{"):
            match = _SPOKEN.match(item)
            if not match:
                self.problem(line, f"prompt {key!r}: {item!r} is not of the form {{kind:variable}} or "
                                   f"{{kind:variable:argument}}")
                return None
            kind, variable, arg = match.group(1), match.group(2), match.group(3) or ""
            if kind not in SPOKEN_KINDS:
                self.problem(line, f"prompt {key!r}: unknown spoken kind {kind!r} (known: {', '.join(SPOKEN_KINDS)})")
                return None
            if variable not in TEMPLATE_VARIABLES:
                self.problem(line, f"prompt {key!r}: unknown variable {variable!r} "
                                   f"(known: {', '.join(TEMPLATE_VARIABLES)})")
                return None
            if not issubclass(TEMPLATE_VARIABLES[variable], _SPOKEN_TYPES[kind]):
                self.problem(line, f"prompt {key!r}: {kind} cannot speak {variable!r} "
                                   f"(a {TEMPLATE_VARIABLES[variable].__name__})")
                return None
            return SpokenVariable(kind, variable, arg)
        if item not in sounds:
            self.problem(line, f"missing prompt sound: prompt {key!r} uses sound {item!r}, which [sounds] "
                               f"does not define")
            return None
        return SoundPart(item)

    def prompt_ref(self, table: tuple[str, ...], raw: Mapping[str, Any], key: str,
                   prompts: Mapping[str, Prompt], *, required: bool) -> Prompt | None:
        ref = self.get(table, raw, key, str, None, required=required)
        if ref is None:
            return None
        if ref not in prompts:
            if ref not in self.raw_prompts:     # else it was reported with the prompt itself
                self.problem(self.key_line(table, key), f"missing prompt: {ref!r} is not defined in [prompts]")
            return None
        return prompts[ref]

    def load_nodes(self, prompts: Mapping[str, Prompt]) -> dict[str, Node]:
        raw_nodes = self.raw_nodes = self.get((), self.data, "nodes", dict, {}, required=True)
        if not raw_nodes and "nodes" in self.data:
            self.problem(self.src.table_line("nodes"), "the script has no nodes")
        nodes: dict[str, Node] = {}
        for name, raw in raw_nodes.items():
            table = ("nodes", name)
            line = self.src.table_line(*table)
            if not _NAME.match(name):
                self.problem(line, f"node name {name!r}: use letters, digits, _ and -")
                continue
            if not isinstance(raw, dict):
                self.problem(line, f"[nodes.{name}] must be a table")
                continue
            kind = self.get(table, raw, "type", str, None, required=True,
                            what=f" ({', '.join(_NODE_KEYS)})")
            if kind is None:
                continue
            if kind not in _NODE_KEYS:
                self.problem(self.key_line(table, "type"),
                             f"unknown node type {kind!r} in [nodes.{name}] (known: {', '.join(_NODE_KEYS)})")
                continue
            for key in raw:
                if key not in _NODE_KEYS[kind]:
                    self.problem(self.key_line(table, key), f"unknown key `{key}` for a {kind} node "
                                                            f"(allowed: {', '.join(sorted(_NODE_KEYS[kind]))})")
            before = len(self.problems)
            node = getattr(self, f"node_{kind}")(name, table, raw, prompts)
            if node is not None and len(self.problems) == before:
                nodes[name] = node
        return nodes

    def node_play(self, name, table, raw, prompts) -> Play | None:
        nxt = self.get(table, raw, "next", str, None, required=True)
        if ("prompt" in raw) == ("sound" in raw):
            self.problem(self.src.table_line(*table), f"[nodes.{name}] needs exactly one of `prompt` or `sound`")
            return None
        if "sound" in raw:
            sound = self.get(table, raw, "sound", str, None)
            if sound is None:
                return None
            if sound not in self.raw_sounds:
                self.problem(self.key_line(table, "sound"),
                             f"missing prompt sound: {sound!r} is not defined in [sounds]")
                return None
            prompt = Prompt(f"sound:{sound}", (SoundPart(sound),))
        else:
            prompt = self.prompt_ref(table, raw, "prompt", prompts, required=True)
        keys = self.get_map(table, raw, "keys", _check_question_key)
        if prompt is None or nxt is None:
            return None
        return Play(name, prompt, nxt, keys)

    def node_question(self, name, table, raw, prompts) -> Question | None:
        prompt = self.prompt_ref(table, raw, "prompt", prompts, required=True)
        retry_prompt = self.prompt_ref(table, raw, "retry_prompt", prompts, required=False)
        question = self.question_name(table, raw, name)
        dtmf = self.get_map(table, raw, "dtmf", _check_question_key)
        speech = self.get_map(table, raw, "speech", _check_phrase)
        if not dtmf:
            self.problem(self.src.table_line(*table) if "dtmf" not in raw else self.key_line(table, "dtmf"),
                         f"[nodes.{name}] needs a `dtmf` map: keys are always accepted, and are the only "
                         f"way to answer when speech is unavailable")
        missing_keys = sorted(set(speech.values()) - set(dtmf.values()))
        if dtmf and missing_keys:
            self.problem(self.key_line(table, "speech"),
                         f"spoken intents {', '.join(missing_keys)} have no key in `dtmf` "
                         f"(needed when the call runs DTMF-only)")
        intents = set(dtmf.values()) | set(speech.values())
        branches, no_answer = self.question_targets(table, raw, intents)
        timeout = self.get_int(table, raw, "timeout", 6, 1, 60)
        silence = self.get_int(table, raw, "silence", 2, 1, 30)
        retries = self.get_int(table, raw, "retries", 1, 0, 5)
        beep = self.get(table, raw, "beep", bool, False)
        if prompt is None or no_answer is None:
            return None
        return Question(name, prompt, question, dtmf, speech, branches, no_answer, timeout_s=timeout,
                        silence_s=silence, retries=retries, retry_prompt=retry_prompt, beep=beep)

    def question_name(self, table, raw, default: str) -> str:
        """The name an answer is stored under (and part of its recording's file name)."""
        question = self.get(table, raw, "question", str, default)
        if not _NAME.match(question):
            self.problem(self.key_line(table, "question"), f"`question` {question!r}: use letters, digits, _ and -")
        return question

    def question_targets(self, table, raw, intents: set[str]) -> tuple[dict[str, str], str | None]:
        """``next = "node"`` for every answer, or ``next = { intent = node, …, no_answer = node }``."""
        nxt = self.get(table, raw, "next", (str, dict), None, required=True)
        if isinstance(nxt, str):
            return {i: nxt for i in intents}, nxt
        if nxt is None:
            return {}, None
        line = self.key_line(table, "next")
        branches: dict[str, str] = {}
        for intent, target in nxt.items():
            if not isinstance(target, str):
                self.problem(line, f"`next`: {intent!r} must name a node, not {target!r}")
            elif intent != NO_ANSWER and intent not in intents:
                self.problem(line, f"`next`: branch on unknown intent {intent!r} (this question's intents: "
                                   f"{', '.join(sorted(intents)) or 'none'})")
            elif intent != NO_ANSWER:
                branches[intent] = target
        uncovered = sorted(intents - set(nxt))
        if uncovered:
            self.problem(line, f"`next` has no branch for intent(s) {', '.join(uncovered)}")
        no_answer = nxt.get(NO_ANSWER)
        if not isinstance(no_answer, str):
            self.problem(line, f"`next` needs `{NO_ANSWER} = \"node\"`: where to go when nothing is understood")
            return branches, None
        return branches, no_answer

    def node_record(self, name, table, raw, prompts) -> Record | None:
        prompt = self.prompt_ref(table, raw, "prompt", prompts, required=True)
        question = self.question_name(table, raw, name)
        nxt = self.get(table, raw, "next", str, None, required=True)
        max_seconds = self.get_int(table, raw, "max_seconds", 30, 1, 600)
        silence = self.get_int(table, raw, "silence", 3, 0, 60)
        beep = self.get(table, raw, "beep", bool, True)
        escape = self.get(table, raw, "escape", str, "#")
        if any(c not in DTMF_KEYS for c in escape):
            self.problem(self.key_line(table, "escape"), f"`escape` {escape!r}: only keys {DTMF_KEYS} are allowed")
            return None
        if prompt is None or nxt is None:
            return None
        return Record(name, prompt, question, nxt, max_seconds=max_seconds, silence_s=silence, beep=beep,
                      escape_digits=escape)

    def node_branch(self, name, table, raw, prompts) -> Branch | None:
        question = self.get(table, raw, "question", str, None, required=True)
        cases = self.get(table, raw, "cases", dict, {}, required=True)
        default = self.get(table, raw, "default", str, None, required=True)
        bad = [k for k, v in cases.items() if not isinstance(v, str)]
        for key in bad:
            self.problem(self.key_line(table, "cases"), f"`cases`: {key!r} must name a node")
        if question is None or default is None or bad:
            return None
        return Branch(name, question, dict(cases), default)

    def node_goto(self, name, table, raw, prompts) -> Goto | None:
        nxt = self.get(table, raw, "next", str, None, required=True)
        return Goto(name, nxt) if nxt is not None else None

    def node_hangup(self, name, table, raw, prompts) -> Hangup | None:
        outcome = self.get(table, raw, "outcome", str, None)
        if outcome is not None and outcome not in FORCED_OUTCOMES:
            self.problem(self.key_line(table, "outcome"),
                         f"`outcome` {outcome!r}: only {', '.join(FORCED_OUTCOMES)} may be forced; "
                         f"otherwise the answers decide")
            return None
        return Hangup(name, outcome)

    # -- cross-node checks -------------------------------------------------------------------
    def target_key(self, node: Node, target: str) -> str:
        """The key of ``node`` that names ``target``, to point the error at the right line."""
        if isinstance(node, Branch):
            return "default" if target == node.default else "cases"
        if isinstance(node, Play) and target != node.next:
            return "keys"
        return "next"

    def check_references(self, nodes: Mapping[str, Node]) -> None:
        declared = self.raw_nodes
        for node in nodes.values():
            for target in successors(node):
                if target not in declared:
                    self.problem(self.key_line(("nodes", node.name), self.target_key(node, target)),
                                 f"[nodes.{node.name}] goes to unknown node {target!r}")

    def check_questions(self, nodes: Mapping[str, Node]) -> None:
        asked: dict[str, Node] = {}
        for node in nodes.values():
            if isinstance(node, (Question, Record)):
                if node.question in asked:
                    self.problem(self.key_line(("nodes", node.name), "question"),
                                 f"question {node.question!r} is already asked by [nodes.{asked[node.question].name}]"
                                 f"; each answer is stored once under its question name")
                asked[node.question] = node
        for node in nodes.values():
            if isinstance(node, Branch):
                source = asked.get(node.question)
                if not isinstance(source, Question):
                    self.problem(self.key_line(("nodes", node.name), "question"),
                                 f"branch on {node.question!r}, which no question node asks")
                    continue
                for intent in node.cases:
                    if intent not in source.intents:
                        self.problem(self.key_line(("nodes", node.name), "cases"),
                                     f"`cases`: {node.question!r} never has intent {intent!r}")

    def load_complete_when(self, meta: Mapping[str, Any], nodes: Mapping[str, Node]) -> tuple[str, ...]:
        questions = [n.question for n in nodes.values() if isinstance(n, Question)]
        value = self.get(("script",), meta, "complete_when", list, questions)
        for item in value:
            if item not in questions:
                self.problem(self.key_line(("script",), "complete_when"),
                             f"`complete_when`: {item!r} is not asked by any question node")
        return tuple(value)

    def check_graph(self, start: str, nodes: Mapping[str, Node]) -> None:
        graph = {name: successors(node) for name, node in nodes.items()}
        terminals = [n for n, node in nodes.items() if isinstance(node, Hangup)]
        if not terminals:
            self.problem(self.src.table_line("nodes"), "the script has no hangup node: a call could never end")
            return
        live = reachable(graph, start)
        for name in nodes:
            if name not in live:
                self.problem(self.src.table_line("nodes", name),
                             f"unreachable node [nodes.{name}]: no path from start node {start!r} leads here")
        for loop in trapped_loops(graph, start, terminals):
            cycle = " → ".join([*loop, loop[0]])
            self.problem(self.src.table_line("nodes", loop[0]),
                         f"loop with no exit: {cycle} never reaches a hangup node")


def _type_word(names: str) -> str:
    words = {"int": "an integer", "str": "a string", "bool": "true or false", "dict": "a table", "list": "a list"}
    return " or ".join(words.get(n, n) for n in names.split(" or "))


def _check_question_key(key: str) -> str | None:
    if len(key) != 1 or key not in DTMF_KEYS:
        return f"{key!r} is not a single phone key (one of {DTMF_KEYS})"
    if key == "#":
        return "'#' ends key entry (GET DATA) and cannot be an answer"
    return None


def _check_phrase(phrase: str) -> str | None:
    return None if phrase.strip() else "empty phrase"


def _sound_file_exists(sounds_dir: Path, name: str) -> bool:
    return any((sounds_dir / f"{name}.{ext}").is_file() for ext in SOUND_EXTENSIONS)
