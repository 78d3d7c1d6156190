"""Serving a stored recording safely: only a file inside the recordings root, and one audit per listen.

Shared by every area that plays a call (回访 answers, 质检 of desk and hotline
calls): the path comes from a database row and must resolve (symlinks
followed) inside ``settings.recordings``; a browser fetches one listen as
several Range requests, so a listen is audited when playback starts at byte 0.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web


def contained_file(root: Path, stored: str) -> Path | None:
    """``stored`` (absolute, or relative to ``root``) as an existing file inside ``root``; else None."""
    if not stored or "\x00" in stored:
        return None
    base = root.resolve()
    candidate = Path(stored)
    if not candidate.is_absolute():
        candidate = base / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(base) or not resolved.is_file():
        return None
    return resolved


def starts_a_listen(range_header: str | None) -> bool:
    """The request that begins playback: no Range, or a range from the first byte."""
    if not range_header:
        return True
    spec = range_header.replace(" ", "").lower()
    return spec.startswith("bytes=0-")


def audio_response(path: Path) -> web.FileResponse:
    """The recording, inline, never cached by a shared proxy."""
    response = web.FileResponse(path, headers={"Cache-Control": "private, no-store",
                                               "Content-Disposition": "inline"})
    response.content_type = "audio/wav" if path.suffix.lower() == ".wav" else "application/octet-stream"
    return response
