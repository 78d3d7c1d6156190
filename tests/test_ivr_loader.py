"""Script validation: every mistake is refused at load time with its file and line."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from callcenter.ivr.graph import can_finish, reachable, trapped_loops
from callcenter.ivr.loader import ScriptError, ScriptLibrary, load_script, scripts_dir
from callcenter.ivr.script import Hangup, Question
from callcenter.ivr.source_map import SourceMap

VALID = """\
[script]
start = "hello"

[sounds]
"s/hello" = "您好"
"s/ask" = "请按1或2"
"s/sorry" = "对不起"
"s/bye" = "再见"

[prompts]
hello = "s/hello"
ask = "s/ask"
sorry = "s/sorry"
bye = ["s/bye"]

[nodes.hello]
type = "play"
prompt = "hello"
next = "ask"

[nodes.ask]
type = "question"
prompt = "ask"
retry_prompt = "sorry"
dtmf = { "1" = "yes", "2" = "no" }
next = { yes = "bye", no = "bye", no_answer = "bye" }

[nodes.bye]
type = "play"
prompt = "bye"
next = "end"

[nodes.end]
type = "hangup"
"""


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems(tmp_path: Path, text: str, **kw) -> list[str]:
    with pytest.raises(ScriptError) as caught:
        load_script(write(tmp_path, text), **kw)
    return [str(p) for p in caught.value.problems]


def test_valid_script_loads(tmp_path):
    script = load_script(write(tmp_path, VALID))
    assert script.start == "hello" and isinstance(script.nodes["end"], Hangup)
    assert script.complete_when == ("ask",)
    ask = script.nodes["ask"]
    assert isinstance(ask, Question) and ask.dtmf == {"1": "yes", "2": "no"} and ask.retries == 1


def test_shipped_scripts_all_load():
    library = ScriptLibrary.from_directory()
    script = library.get("callback_three_rates")
    assert script.complete_when == ("contacted", "solved", "satisfaction")
    intents = {name: set(node.dtmf.values()) for name, node in script.nodes.items() if isinstance(node, Question)}
    assert intents == {"contacted": {"yes", "no", "refuse"}, "solved": {"solved", "partly", "unsolved", "refuse"},
                       "satisfaction": {"satisfied", "basic", "dissatisfied", "refuse"}}
    assert sorted(p.stem for p in scripts_dir().glob("*.toml")) == sorted(library.scripts)


def test_unknown_script_name_is_a_clear_lookup_error():
    with pytest.raises(LookupError, match="no IVR script named 'nope'.*callback_three_rates"):
        ScriptLibrary.from_directory().get("nope")


def test_unknown_node_type(tmp_path):
    text = VALID.replace('[nodes.bye]\ntype = "play"', '[nodes.bye]\ntype = "dance"')
    path = tmp_path / "demo.toml"
    found = problems(tmp_path, text)
    assert f"{path}:{line_of(text, 'dance')}: unknown node type 'dance' in [nodes.bye]" in found[0]


def test_unknown_target(tmp_path):
    text = VALID.replace('next = "end"', 'next = "ending"')
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'demo.toml'}:{line_of(text, 'ending')}: [nodes.bye] goes to unknown node 'ending'"]


def test_unreachable_node(tmp_path):
    text = VALID + '\n[nodes.orphan]\ntype = "goto"\nnext = "end"\n'
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(text, '[nodes.orphan]')}: unreachable node")


def test_loop_with_no_exit(tmp_path):
    text = VALID.replace('next = { yes = "bye", no = "bye", no_answer = "bye" }',
                         'next = { yes = "again", no = "bye", no_answer = "bye" }')
    text += '\n[nodes.again]\ntype = "goto"\nnext = "spin"\n\n[nodes.spin]\ntype = "goto"\nnext = "again"\n'
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert f"demo.toml:{line_of(text, '[nodes.again]')}: loop with no exit: again → spin → again" in found[0]


def test_a_loop_with_an_exit_is_fine(tmp_path):
    text = VALID.replace('no_answer = "bye" }', 'no_answer = "hello" }')   # re-greet and ask again
    assert load_script(write(tmp_path, text)).nodes["ask"].no_answer == "hello"


def test_prompt_key_not_defined(tmp_path):
    text = VALID.replace('retry_prompt = "sorry"', 'retry_prompt = "pardon"')
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'demo.toml'}:{line_of(text, 'pardon')}: "
                     f"missing prompt: 'pardon' is not defined in [prompts]"]


def test_sound_key_not_defined(tmp_path):
    text = VALID.replace('bye = ["s/bye"]', 'bye = ["s/bye", "s/thanks"]')
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(text, 's/thanks')}: missing prompt sound")


def test_missing_sound_file_when_a_sounds_dir_is_given(tmp_path):
    sounds = tmp_path / "sounds" / "s"
    sounds.mkdir(parents=True)
    for name in ("hello", "ask", "sorry"):
        (sounds / f"{name}.wav").write_bytes(b"RIFF")
    found = problems(tmp_path, VALID, sounds_dir=tmp_path / "sounds")
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(VALID, 's/bye' + chr(34) + ' =')}: "
                               f"missing sound file for 's/bye'")
    (sounds / "bye.gsm").write_bytes(b"x")
    assert load_script(write(tmp_path, VALID), sounds_dir=tmp_path / "sounds").start == "hello"


def test_unknown_spoken_variable(tmp_path):
    text = VALID.replace('hello = "s/hello"', 'hello = ["s/hello", "{tts:ticket_colour}"]')
    found = problems(tmp_path, text)
    assert found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(text, 'ticket_colour')}: ")
    assert "unknown variable 'ticket_colour'" in found[0]


def test_spoken_intent_without_a_key(tmp_path):
    text = VALID.replace('dtmf = { "1" = "yes", "2" = "no" }',
                         'dtmf = { "1" = "yes", "2" = "no" }\nspeech = { "是" = "yes", "算了" = "stop" }')
    found = problems(tmp_path, text)
    assert any(f":{line_of(text, '算了')}: spoken intents stop have no key" in p for p in found)


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace('next = "end"', 'next = "nowhere"').replace('retry_prompt = "sorry"',
                                                                       'retry_prompt = "pardon"')
    text = text.replace('type = "hangup"', 'type = "hangup"\ncolour = "red"')
    found = problems(tmp_path, text)
    lines = sorted(int(p.split(":")[1]) for p in found)
    assert lines == sorted([line_of(text, "nowhere"), line_of(text, "pardon"), line_of(text, "colour")])


def test_toml_syntax_error_names_the_line(tmp_path):
    text = VALID.replace('start = "hello"', 'start = "hello')
    found = problems(tmp_path, text)
    assert found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(text, 'start =')}: TOML syntax error")


def test_library_reports_every_bad_file(tmp_path):
    write(tmp_path, VALID.replace('type = "dance"', ""), "good")
    write(tmp_path, VALID.replace('type = "hangup"', 'type = "hangout"'), "bad1")
    write(tmp_path, VALID.replace('next = "ask"', 'next = "asks"'), "bad2")
    with pytest.raises(ScriptError) as caught:
        ScriptLibrary.from_directory(tmp_path)
    assert {p.path.name for p in caught.value.problems} == {"bad1.toml", "bad2.toml"}


def test_source_map_finds_quoted_keys_and_nested_tables():
    text = '[a]\nx = 1\n\n[nodes."odd name"]\n"quoted key" = 2\nplain = 3\n[b]\nplain = 4\n'
    src = SourceMap(text)
    assert src.table_line("nodes", "odd name") == 4
    assert src.key_line(("nodes", "odd name"), "quoted key") == 5
    assert src.key_line(("nodes", "odd name"), "plain") == 6
    assert src.key_line(("b",), "plain") == 8
    assert src.key_line(("b",), "missing") == 7            # falls back to the table


graphs = st.dictionaries(st.sampled_from("abcdefg"), st.lists(st.sampled_from("abcdefgz"), max_size=3),
                         min_size=1)


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_graph_checks_agree_with_brute_force(graph):
    # The loader checks the graph only once every target exists, so drop dangling ones.
    graph = {n: [s for s in succ if s in graph] for n, succ in graph.items()}
    start = next(iter(graph))
    terminals = [n for n, succ in graph.items() if not succ]
    live = reachable(graph, start)
    # Brute force: a node can finish if some walk of at most len(graph) steps reaches a terminal.
    finish = set(terminals)
    for _ in graph:
        finish |= {n for n, succ in graph.items() if any(s in finish for s in succ)}
    assert can_finish(graph, terminals) == finish
    loops = trapped_loops(graph, start, terminals)
    in_loops = {n for loop in loops for n in loop}
    assert in_loops <= live - finish
    # Every live node that cannot finish leads into one of the reported loops.
    for node in live - finish:
        assert reachable(graph, node) & in_loops


def test_a_play_node_may_name_keys_that_cut_it_short(tmp_path):
    script = load_script(write(tmp_path, VALID.replace('prompt = "hello"\nnext = "ask"',
                                                       'prompt = "hello"\nkeys = { "9" = "bye" }\nnext = "ask"')))
    assert script.nodes["hello"].keys == {"9": "bye"} and script.nodes["bye"].keys == {}


@pytest.mark.parametrize("keys, error", [
    ('{ "9" = "nowhere" }', "[nodes.hello] goes to unknown node 'nowhere'"),
    ('{ "#" = "bye" }', "`keys`: '#' ends key entry (GET DATA) and cannot be an answer"),
    ('{ "99" = "bye" }', "`keys`: '99' is not a single phone key"),
])
def test_a_play_nodes_keys_are_checked(tmp_path, keys, error):
    text = VALID.replace('prompt = "hello"\nnext = "ask"', f'prompt = "hello"\nkeys = {keys}\nnext = "ask"')
    found = problems(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'demo.toml'}:{line_of(text, 'keys =')}: {error}")
