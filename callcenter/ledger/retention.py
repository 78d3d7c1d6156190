"""How long citizens' voices and words are kept, and which recording files may be deleted (pure).

Why a retention at all: recordings and transcripts are personal data the
office needs for review and appeals within months, not forever.  Why only
those: intents and scores are the ledger's numbers (the three rates of past
months must not change), so they are kept for good.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import PurePath

DEFAULT_RETENTION_DAYS = 365


class RetentionError(ValueError):
    """A retention setting or timestamp that cannot be used."""


def cutoff(now: datetime, retention_days: int) -> datetime:
    """Anything recorded before this instant is past retention."""
    if now.tzinfo is None:
        raise RetentionError("now must be timezone-aware (a naive time would shift the cutoff by 8 hours)")
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise RetentionError(f"retention_days must be a whole number of days ≥ 1, not {retention_days!r}")
    return now - timedelta(days=retention_days)


def deletable_path(recordings_root: str | PurePath, recording_path: str) -> PurePath | None:
    """The file to delete for a stored ``recording_path``, or None when it lies outside the root.

    Only files under the recordings directory are ours to delete: a row that
    points elsewhere (a hand-edited path, ``..`` tricks) is never followed.
    Relative paths are taken relative to the root.
    """
    root = PurePath(os.path.normpath(str(recordings_root)))
    path = PurePath(recording_path)
    if not path.is_absolute():
        path = root / path
    path = PurePath(os.path.normpath(str(path)))
    if path == root or root not in path.parents:
        return None
    return path
