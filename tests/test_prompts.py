"""`callcenter prompts generate`: every prompt Asterisk plays, synthesised as 8 kHz mono WAV."""
from __future__ import annotations

import shutil
import wave

import pytest

from callcenter.cli import main
from callcenter.cli.prompts import DOCKER_PROMPTS, all_sounds

needs_espeak = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                  reason="espeak-ng and sox are installed by .ci/run")


@needs_espeak
def test_generates_every_prompt_once_and_keeps_existing_files(tmp_path, capsys):
    assert main(["prompts", "generate", "--out", str(tmp_path)]) == 0
    expected = all_sounds(DOCKER_PROMPTS)
    for name in expected:
        with wave.open(str(tmp_path / f"{name}.wav")) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
            assert audio.getnframes() > 8000 * 0.5          # something is said
    capsys.readouterr()
    assert main(["prompts", "generate", "--out", str(tmp_path)]) == 0
    assert f"{len(expected)} kept" in capsys.readouterr().out


def test_a_sound_name_saying_two_things_is_refused(tmp_path):
    clash = tmp_path / "prompts.toml"
    clash.write_text('[sounds]\n"callback/thanks" = "完全不同的话"\n', encoding="utf-8")
    assert main(["prompts", "generate", "--out", str(tmp_path / "out"), "--extra", str(clash)]) == 3
