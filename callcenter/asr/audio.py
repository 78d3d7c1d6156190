"""Reading the WAV files Asterisk records, in the form vosk wants: 16-bit mono PCM at its true rate.

Asterisk writes ``wav`` as 8 kHz and ``wav16`` as 16 kHz, 16-bit mono; vosk
resamples to the model's rate itself when told the file's real rate, so we
never resample here.  Anything else is refused with a clear message rather
than decoded into nonsense.
"""
from __future__ import annotations

import array
import wave
from dataclasses import dataclass
from pathlib import Path

#: Rates we accept: telephone (8 kHz) up to wide-band (48 kHz); vosk resamples.
ACCEPTED_RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)


class BadAudio(ValueError):
    """The file is not audio we can recognise (missing, not WAV, wrong format)."""


@dataclass(frozen=True)
class Pcm:
    rate: int
    data: bytes          # 16-bit little-endian mono samples

    @property
    def seconds(self) -> float:
        return len(self.data) / 2 / self.rate


def read_wav(path: str | Path) -> Pcm:
    """Read ``path`` as 16-bit PCM, mixing stereo down to mono."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise BadAudio(f"{path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise BadAudio(f"{path}: not a PCM WAV file ({exc})") from None
    if width != 2:
        raise BadAudio(f"{path}: {8 * width}-bit samples; 16-bit PCM is required")
    if rate not in ACCEPTED_RATES:
        raise BadAudio(f"{path}: sample rate {rate} Hz is not one of {ACCEPTED_RATES}")
    if channels == 2:
        frames = _downmix(frames)
    elif channels != 1:
        raise BadAudio(f"{path}: {channels} channels; mono or stereo is required")
    return Pcm(rate, frames)


def _downmix(frames: bytes) -> bytes:
    samples = array.array("h", frames)
    mono = array.array("h", ((samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples) - 1, 2)))
    return mono.tobytes()
