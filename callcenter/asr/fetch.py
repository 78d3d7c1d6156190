"""Downloading a vosk model: fetch, verify its sha256, unpack safely and atomically.

The official Mandarin model's checksum is not published by its host, and it
could not be verified from the machines this was written on, so
:data:`OFFICIAL_SHA256` is None and the caller must pass the expected hash
(``--sha256``) or explicitly accept an unverified download
(``--insecure-skip-verify``).  We never invent a hash.

Unpacking refuses any member that would land outside the target (``../``,
absolute paths, links), unpacks into a temporary directory next to the target
and renames it into place, so a failed or interrupted fetch leaves nothing
half-written behind.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

OFFICIAL_URL = "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"
OFFICIAL_NAME = "vosk-model-small-cn-0.22"
#: sha256 of OFFICIAL_URL.  Unknown: alphacephei.com publishes none, and the file could not be
#: downloaded here to compute one.  Pass --sha256 (or --insecure-skip-verify) until it is filled in.
OFFICIAL_SHA256: str | None = None

CHUNK = 1 << 16

Progress = Callable[[int, int | None], None]      # (bytes so far, total or None)


class FetchError(RuntimeError):
    """The model could not be fetched, verified or unpacked; nothing was left behind."""


class ChecksumMismatch(FetchError):
    """The download is not the file we expected."""


@dataclass(frozen=True)
class Fetched:
    model_dir: Path
    sha256: str
    bytes: int
    verified: bool


def fetch_model(url: str, dest: Path, *, sha256: str | None, insecure_skip_verify: bool = False,
                progress: Progress | None = None, timeout: float = 60.0) -> Fetched:
    """Download ``url`` (a zip holding one model directory) and unpack it into ``dest``/<model name>."""
    if sha256 is None and not insecure_skip_verify:
        raise FetchError("no expected sha256 known for this model: pass --sha256 HEX, "
                         "or --insecure-skip-verify to accept it unverified")
    expected = sha256.strip().lower() if sha256 else None
    if expected is not None and (len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected)):
        raise FetchError(f"--sha256 must be 64 hex digits, not {sha256!r}")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest) as work:
        archive = Path(work) / "model.zip"
        digest, size = _download(url, archive, progress, timeout)
        if expected is not None and digest != expected:
            raise ChecksumMismatch(f"{url}: sha256 {digest} does not match the expected {expected}")
        model_dir = _unpack(archive, dest, Path(work) / "unpacked")
    return Fetched(model_dir, digest, size, verified=expected is not None)


def _download(url: str, target: Path, progress: Progress | None, timeout: float) -> tuple[str, int]:
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (OSError, ValueError) as exc:           # URLError, HTTPError, timeouts, bad URLs
        raise FetchError(f"{url}: download failed: {exc}") from exc
    if total is not None and done != total:
        raise FetchError(f"{url}: download ended after {done} of {total} bytes")
    return digest.hexdigest(), done


def _unpack(archive: Path, dest: Path, scratch: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [_safe_member(info) for info in zf.infolist()]
            tops = {n.parts[0] for n in names if n.parts}
            if len(tops) != 1:
                raise FetchError(f"the archive should hold one model directory, found {sorted(tops) or 'nothing'}")
            top = tops.pop()
            final = dest / top
            if final.exists():
                raise FetchError(f"{final} already exists; remove it first to fetch again")
            scratch.mkdir()
            zf.extractall(scratch)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"the download is not a zip archive: {exc}") from exc
    if not (scratch / top).is_dir():
        raise FetchError("the archive's top level is a file, not a model directory")
    os.replace(scratch / top, final)                   # atomic within one filesystem
    return final


def _safe_member(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's path, refusing anything that could write outside the target."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise FetchError(f"unsafe path in archive: {info.filename!r}")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise FetchError(f"symbolic link in archive: {info.filename!r}")
    return path

