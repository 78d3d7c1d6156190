"""Bad input everywhere: the IVR script loader and the ticket importer never fail in any way but the documented one.

The AMI and AGI parsers have their own fuzz tests (test_ami_fuzz, test_agi_fuzz).
Each test here counts the cases it really ran (Hypothesis may stop early when
a space is small) and asserts the count, so a figure quoted from it is honest.
"""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from callcenter.ivr.loader import ScriptError, parse_script, scripts_dir
from callcenter.ledger import ticket_record as tr
from callcenter.ledger.deadlines import DEFAULT_POLICY
from callcenter.transfer.importer import validate_file
from callcenter.transfer.reader import FileRejected
from callcenter.transfer.sample import write_sample

CASES = 300
REAL_SCRIPT = (scripts_dir() / "callback_three_rates.toml").read_text(encoding="utf-8")
CATEGORIES = frozenset({"物业管理", "城乡建设", "市场管理", "公共服务", "住房", "交通管理", "环境保护", "供暖",
                        "水电气热"})


def mutate(text: str, seed: int, edits: int) -> str:
    """The real script with lines dropped, doubled, swapped or characters replaced: near-misses, not noise."""
    rng = random.Random(seed)
    lines = text.splitlines()
    for _ in range(edits):
        i = rng.randrange(len(lines))
        kind = rng.randrange(4)
        if kind == 0:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + rng.choice('="[]{},#\\x\n 9') + lines[i][k + 1:]
        if not lines:
            lines = [""]
    return "\n".join(lines)


def test_ivr_loader_accepts_or_names_the_problem():
    ran = {"n": 0, "refused": 0}

    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True)
    @given(st.one_of(st.text(max_size=300), st.builds(mutate, st.just(REAL_SCRIPT), st.integers(), st.integers(1, 6))))
    def case(text):
        ran["n"] += 1
        try:
            parse_script(text, Path("fuzz.toml"))
        except ScriptError as exc:                     # the only way to refuse: with file and line
            ran["refused"] += 1
            assert exc.problems and all(str(p).startswith("fuzz.toml") for p in exc.problems)

    case()
    assert ran["n"] >= CASES * 0.9 and 0 < ran["refused"] <= ran["n"]


def test_ticket_importer_validates_or_rejects_the_file():
    """Broken csv bytes and near-miss rows: either rows with reasons, or FileRejected — never a crash."""
    good = Path(tempfile.mkdtemp(prefix="cc-fuzz-")) / "good.csv"
    write_sample(good, 5)
    good_bytes = good.read_bytes()
    ran = {"n": 0, "rejected_files": 0, "row_errors": 0}

    # derandomize: the same draws every run, so CI never fails on a rare draw with no row-level errors at all
    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(st.binary(max_size=400),
                     st.builds(lambda data, cut, junk: data[:cut] + junk + data[cut:], st.just(good_bytes),
                               st.integers(0, len(good_bytes)), st.binary(max_size=12))))
    def case(data):
        ran["n"] += 1
        path = good.with_name(f"case-{ran['n']}.csv")
        path.write_bytes(data)
        try:
            validated = validate_file(path, CATEGORIES, [DEFAULT_POLICY])
        except FileRejected as exc:
            ran["rejected_files"] += 1
            assert str(exc)
        else:
            for error in validated.errors:
                ran["row_errors"] += 1
                assert isinstance(error, tr.RowError) and error.line >= 1 and error.reason
        finally:
            path.unlink()

    case()
    assert ran["n"] >= CASES * 0.9 and ran["rejected_files"] > 0 and ran["row_errors"] > 0
