"""Synthesised prompt parts (the ticket's date and title) and the service factory."""
from __future__ import annotations

import shutil
import wave

import pytest

from callcenter.config import Settings
from callcenter.ivr.loader import ScriptError
from callcenter.ivr.loader import ScriptLibrary, load_script
from callcenter.ivr.tts import EspeakSynthesizer, render_sounds
from callcenter.telephony.agi_service import callback_agi_server

needs_espeak = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                  reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")


@needs_espeak
async def test_espeak_synthesizer_writes_8khz_mono_once_per_text(tmp_path):
    synth = EspeakSynthesizer(tmp_path / "tts")
    sound = await synth.sound_for("5月3日")
    wav = tmp_path / "tts" / f"{sound.rsplit('/', 1)[1]}.wav"
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 800
    stamp = wav.stat().st_mtime_ns
    assert await synth.sound_for("  5月3日 ") == sound                  # same text: cached, not re-rendered
    assert wav.stat().st_mtime_ns == stamp
    assert await synth.sound_for("楼道堆物") != sound
    assert sorted(p.suffix for p in (tmp_path / "tts").iterdir()) == [".wav", ".wav"]   # no temp files left


async def test_synthesizer_without_tools_or_text_gives_nothing(tmp_path):
    synth = EspeakSynthesizer(tmp_path)
    assert await synth.sound_for("   ") is None
    synth._espeak = None
    assert await synth.sound_for("楼道堆物") is None


def test_service_factory_uses_settings_and_validates_scripts(tmp_path):
    settings = Settings(home=tmp_path / "home", agi_host="127.0.0.1", agi_port=4599)
    server = callback_agi_server(settings, pool=None)
    assert (server.host, server.port, server.route) == ("127.0.0.1", 4599, "callback")
    assert server.handler.recordings_dir == settings.recordings
    assert "callback_three_rates" in server.handler.library.scripts
    bad = tmp_path / "scripts"
    bad.mkdir()
    (bad / "broken.toml").write_text('[script]\nstart = "a"\n\n[nodes.a]\ntype = "jump"\n', encoding="utf-8")
    with pytest.raises(ScriptError, match=r"broken.toml:5: unknown node type 'jump'"):
        callback_agi_server(settings, pool=None, scripts=bad)


@needs_espeak
async def test_rendered_sounds_satisfy_the_loaders_sound_check(tmp_path):
    script = ScriptLibrary.from_directory().get("callback_three_rates")
    sounds = tmp_path / "sounds"
    synth = EspeakSynthesizer(tmp_path / "cache")
    first = await render_sounds({k: v for k, v in list(script.sounds.items())[:2]}, sounds, synth)
    assert len(first) == 2
    with pytest.raises(ScriptError, match="missing sound file"):
        load_script(script.path, sounds_dir=sounds)
    written = await render_sounds(script.sounds, sounds, synth)
    assert len(written) == len(script.sounds) - 2                  # existing files are kept
    assert load_script(script.path, sounds_dir=sounds).start == "greeting"
