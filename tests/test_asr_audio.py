"""Reading recordings: 8/16 kHz mono accepted, stereo mixed down, anything else refused clearly."""
from __future__ import annotations

import array
import wave

import pytest

from callcenter.asr.audio import BadAudio, read_wav


def write(path, rate=8000, channels=1, width=2, samples=(0, 1000, -1000, 32767)):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes(array.array("h", samples).tobytes())
        else:
            w.writeframes(bytes(len(samples)))
    return path


@pytest.mark.parametrize("rate", [8000, 16000])
def test_telephone_and_wideband_rates(tmp_path, rate):
    pcm = read_wav(write(tmp_path / "a.wav", rate=rate))
    assert pcm.rate == rate and array.array("h", pcm.data).tolist() == [0, 1000, -1000, 32767]
    assert pcm.seconds == 4 / rate


def test_stereo_is_mixed_to_mono(tmp_path):
    pcm = read_wav(write(tmp_path / "s.wav", channels=2, samples=(100, 300, -50, -150)))
    assert array.array("h", pcm.data).tolist() == [200, -100]


@pytest.mark.parametrize("make,message", [
    (lambda p: p, "no such file"),
    (lambda p: (p.write_bytes(b"hello"), p)[1], "not a PCM WAV"),
    (lambda p: write(p, width=1), "16-bit PCM is required"),
    (lambda p: write(p, rate=12345), "sample rate 12345"),
])
def test_bad_input_is_refused_with_a_reason(tmp_path, make, message):
    with pytest.raises(BadAudio, match=message):
        read_wav(make(tmp_path / "x.wav"))
