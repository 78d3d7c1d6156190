"""Synthesised prompt parts (the ticket's date and title) and the service factory."""
from __future__ import annotations

import shutil
import wave

import pytest

from callcenter.config import Settings
from callcenter.ivr.loader import ScriptError
from callcenter.ivr.loader import ScriptLibrary, load_script
from callcenter.ivr.tts import EspeakSynthesizer, _exit_code_within, render_sounds, render_wav
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


def _write_marker(text: str, target):
    """A stand-in renderer for the worker tests: fails on request, else writes the text (importable by name)."""
    if text == "fail":
        raise RuntimeError("asked to fail")
    if text == "die":
        import os
        os._exit(3)                     # the worker process dies mid-job
    target.write_text(text, encoding="utf-8")


async def test_synthesis_process_renders_reports_failures_and_survives_a_dead_worker(tmp_path):
    import asyncio

    from callcenter.ivr.tts_process import SynthesisFailed, SynthesisProcess
    worker = SynthesisProcess(_write_marker, concurrency=2)
    try:
        await asyncio.gather(*(worker.render(f"标题{n}", tmp_path / f"{n}.txt") for n in range(6)))
        assert sorted(p.read_text(encoding="utf-8") for p in tmp_path.iterdir()) == [f"标题{n}" for n in range(6)]
        first_pid = worker.pid
        with pytest.raises(SynthesisFailed, match="asked to fail"):
            await worker.render("fail", tmp_path / "x.txt")
        assert worker.pid == first_pid                     # a failed job does not cost the worker
        with pytest.raises(SynthesisFailed, match="stopped"):
            await asyncio.wait_for(worker.render("die", tmp_path / "y.txt"), 30)
        await worker.render("又一个", tmp_path / "after.txt")   # a fresh worker takes the next job
        assert (tmp_path / "after.txt").read_text(encoding="utf-8") == "又一个"
        assert worker.started == 2 and worker.pid != first_pid
    finally:
        await worker.close()
    assert worker.pid is None


@needs_espeak
async def test_service_synthesizer_renders_in_a_worker_process_once_per_text(tmp_path):
    import asyncio
    import os

    synth = EspeakSynthesizer(tmp_path / "tts", separate_process=True)
    try:
        sounds = await asyncio.gather(*(synth.sound_for("供暖温度不达标问题") for _ in range(5)))
        assert len(set(sounds)) == 1
        assert synth._process.started == 1 and synth._process.pid != os.getpid()
        wav = f"{sounds[0]}.wav"
        with wave.open(wav) as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
    finally:
        await synth.close()
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == [os.path.basename(wav)]   # one file, no temps


async def test_a_text_asked_for_by_many_calls_at_once_is_rendered_once(tmp_path):
    import asyncio

    synth = EspeakSynthesizer(tmp_path)
    synth._espeak = synth._sox = "/bin/true"            # no real programs: render is replaced below
    renders = []

    async def render(text, target):
        renders.append(text)
        await asyncio.sleep(0.05)
        target.write_bytes(b"RIFF")

    synth.render = render
    sounds = await asyncio.gather(*(synth.sound_for("楼道堆物") for _ in range(8)), synth.sound_for("漏水"))
    assert renders == ["楼道堆物", "漏水"] and len(set(sounds[:8])) == 1
    assert await synth.sound_for("楼道堆物") == sounds[0] and len(renders) == 2   # cached on disk now


def _processes_running(marker: str) -> list[int]:
    from pathlib import Path
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not shutil.which("sox"), reason="needs sox")
async def test_a_failing_or_hung_synthesis_gives_no_sound_and_leaves_nothing_behind(tmp_path):
    import time

    fake = tmp_path / "espeak-ng"
    synth = EspeakSynthesizer(tmp_path / "tts", timeout_s=1.0)
    synth._espeak = str(fake)
    fake.write_text("#!/bin/sh\necho 'no such voice' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    assert await synth.sound_for("楼道堆物") is None                     # sox saw no WAV: the pipeline fails
    with pytest.raises(RuntimeError, match="(?s)exited .*no such voice"):    # and the why reaches the log
        render_wav(str(fake), synth._sox, "cmn", 1.0, "楼道堆物", tmp_path / "x.wav")

    fake.write_text("#!/bin/sh\nexec sleep 31.25\n", encoding="utf-8")   # hangs
    started = time.monotonic()
    assert await synth.sound_for("漏水") is None
    assert time.monotonic() - started < 10
    assert _processes_running("31.25") == []                            # the whole pipeline was stopped
    assert list((tmp_path / "tts").iterdir()) == []                      # no file, no temp file


@pytest.mark.parametrize("pidfd", [True, False])
def test_a_childs_exit_code_or_its_timeout_with_and_without_pidfd(monkeypatch, pidfd):
    import os
    import signal

    if not pidfd:                      # a kernel older than 5.3: polled instead
        def no_pidfd(pid):
            raise OSError(38, "Function not implemented")
        monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    assert _exit_code_within(os.posix_spawn("/bin/sh", ["/bin/sh", "-c", "exit 3"], os.environ), 5) == 3
    slow = os.posix_spawn("/bin/sleep", ["/bin/sleep", "30"], os.environ)
    assert _exit_code_within(slow, 0.1) is None              # still running, not reaped
    os.kill(slow, signal.SIGKILL)
    assert _exit_code_within(slow, 5) == -signal.SIGKILL
