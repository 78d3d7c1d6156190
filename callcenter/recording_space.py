"""Free space where recordings are written: a full disk must be loud, not silent.

Asterisk writes the recordings; when the disk fills, RECORD FILE fails and the
IVR falls back to keys (answers are still stored), but every spoken answer,
reason and hotline recording is lost until someone frees space.  /healthz and
the dashboard show this alarm well before that point.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import Settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class RecordingSpace:
    path: str
    free_bytes: int | None
    total_bytes: int | None
    min_free_bytes: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.free_bytes is not None and self.free_bytes >= self.min_free_bytes

    @property
    def alarm(self) -> str | None:
        """A sentence for people, or None when all is well."""
        if self.problem:
            return f"录音目录不可用 (recordings directory unusable): {self.problem}"
        if not self.ok:
            return (f"录音磁盘空间不足 (recordings disk nearly full): 剩余 {self.free_bytes // MIB} MB，"
                    f"低于 {self.min_free_bytes // MIB} MB；语音应答与录音将失败，按键应答仍会保存")
        return None

    def health(self) -> dict:
        return {"status": "ok" if self.ok else "alarm", "path": self.path,
                "free_mb": None if self.free_bytes is None else self.free_bytes // MIB,
                "min_free_mb": self.min_free_bytes // MIB, "alarm": self.alarm}


def recording_space(settings: Settings) -> RecordingSpace:
    """Measure now (cheap: one statvfs)."""
    path = Path(settings.recordings)
    minimum = settings.recordings_min_free_mb * MIB
    probe = path
    while not probe.exists() and probe != probe.parent:     # not created yet: measure the disk it will be on
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return RecordingSpace(str(path), None, None, minimum, problem=str(exc))
    return RecordingSpace(str(path), usage.free, usage.total, minimum)
