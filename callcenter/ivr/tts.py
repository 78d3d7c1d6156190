"""Sound files for text only known at call time (a ticket's title and date).

Asterisk plays files, so ``{tts:…}`` prompt parts need the text turned into
an 8 kHz mono WAV first.  :class:`EspeakSynthesizer` does that with
``espeak-ng`` (Mandarin voice) and ``sox``, caching by text, so a title is
synthesised once however often it is spoken.  The cache directory must be
readable by Asterisk at the same path (same host or shared mount).  Also used
to produce the script's own recorded prompts from their [sounds] text.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import select
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Mapping, Protocol

from .tts_process import SynthesisProcess

log = logging.getLogger(__name__)


class Synthesizer(Protocol):
    async def sound_for(self, text: str) -> str | None:
        """A sound name for STREAM FILE (absolute, without extension) that says ``text``; None if impossible."""


class EspeakSynthesizer:
    """``separate_process=True`` (the service) renders in a worker process (see tts_process); otherwise
    in a thread of this process (the CLI, tests).  Either way a text being rendered is rendered once,
    however many calls ask for it at the same moment."""

    def __init__(self, cache_dir: Path, *, voice: str = "cmn", max_chars: int = 80, timeout_s: float = 10.0,
                 separate_process: bool = False):
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.max_chars = max_chars
        self.timeout_s = timeout_s
        self._espeak = shutil.which("espeak-ng")
        self._sox = shutil.which("sox")
        self._inflight: dict[Path, asyncio.Future] = {}
        self._process: SynthesisProcess | None = None
        if not (self._espeak and self._sox):
            log.warning("espeak-ng or sox not installed: {tts:…} prompt parts will be skipped")
        elif separate_process:
            self._process = SynthesisProcess(functools.partial(render_wav, self._espeak, self._sox, voice,
                                                               timeout_s))

    async def sound_for(self, text: str) -> str | None:
        text = " ".join(text.split())[: self.max_chars]
        if not text or not (self._espeak and self._sox):
            return None
        key = hashlib.sha256(f"{self.voice}\0{text}".encode()).hexdigest()[:24]
        target = self.cache_dir / f"{key}.wav"
        if not target.is_file():
            try:
                await asyncio.shield(self._rendering(text, target))
            except (OSError, RuntimeError, asyncio.TimeoutError) as exc:
                log.warning("could not synthesise %r: %s", text, exc)
                return None
        return str(target.with_suffix(""))

    def _rendering(self, text: str, target: Path) -> asyncio.Future:
        """The render of ``target`` in progress, started if none is (a caller who hangs up does not stop it)."""
        job = self._inflight.get(target)
        if job is None:
            job = self._inflight[target] = asyncio.ensure_future(self.render(text, target))
            job.add_done_callback(lambda done: (self._inflight.pop(target, None),
                                                done.cancelled() or done.exception()))
        return job

    async def render(self, text: str, target: Path) -> None:
        """Write ``target`` (8 kHz mono 16-bit WAV) atomically: a reader never sees half a file.

        :func:`render_wav` runs in the worker process, or here in a thread (asyncio's subprocess
        machinery cost more CPU per program: bench/RESULTS.md, callback campaign).
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        if self._process is not None:
            await self._process.render(text, target)
        else:
            await asyncio.to_thread(render_wav, self._espeak, self._sox, self.voice, self.timeout_s, text, target)

    async def start(self) -> None:
        """Boot the worker process, if this synthesizer has one, so the first greeting does not wait for it."""
        if self._process is not None:
            try:
                self._process.start()
            except OSError as exc:            # tried again with the first title; calls go on without it
                log.warning("could not start the speech synthesis worker: %s", exc)

    async def close(self) -> None:
        """Stop the worker process, if this synthesizer has one."""
        if self._process is not None:
            await self._process.close()


#: espeak-ng piped into sox by one shell: the service's worker starts one program per title, not two.
#: The text and paths arrive as positional parameters, so the shell never parses them.
_PIPELINE = '"$1" -v "$3" --stdout -- "$4" | "$2" -t wav - -r 8000 -c 1 -b 16 -e signed-integer "$5"'


def render_wav(espeak: str, sox: str, voice: str, timeout_s: float, text: str, target: Path) -> None:
    """espeak-ng (22 kHz) into sox (8 kHz mono 16-bit, what Asterisk plays), into a temp file renamed at the end.

    If espeak-ng fails, sox reads no WAV header and fails too, so the exit status tells.
    """
    tmp = target.with_name(f".{target.stem}-{uuid.uuid4().hex}.wav")
    try:
        _run(timeout_s, "/bin/sh", "-c", _PIPELINE, "tts", espeak, sox, voice, text, str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _run(timeout_s: float, *argv: str) -> None:
    """Run the pipeline in a session of its own, so a timeout stops espeak-ng and sox, not only the shell.

    Why not ``subprocess``: a title is rendered per answered call, and Popen's bookkeeping and its
    timed wait (which polls the child) cost the worker about twice what ``posix_spawn`` and one wait
    on the process's pidfd do.  stderr goes to an in-memory file, read only on failure (a pipe nobody
    reads until the end could fill and stall the program).
    """
    err = os.memfd_create("tts-stderr")          # close-on-exec; the child gets it as its fd 2 only
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, err, 2)])
        code = _exit_code_within(pid, timeout_s)
        if code is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise asyncio.TimeoutError(f"espeak-ng | sox took over {timeout_s:.0f} s")
        if code != 0:
            os.lseek(err, 0, os.SEEK_SET)
            raise RuntimeError(f"espeak-ng | sox exited {code}: {os.read(err, 500).decode(errors='replace')}")
    finally:
        os.close(err)


def _exit_code_within(pid: int, timeout_s: float) -> int | None:
    """The child's exit code once it ends, or None (not reaped) if it runs past ``timeout_s``: one
    wait on its pidfd (Linux 5.3 and later), else a poll every few milliseconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = None
    if pidfd is not None:
        try:
            if not select.select([pidfd], [], [], timeout_s)[0]:
                return None
        finally:
            os.close(pidfd)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


async def render_sounds(sounds: Mapping[str, str], directory: Path, synthesizer: EspeakSynthesizer, *,
                        overwrite: bool = False) -> list[Path]:
    """Write ``directory/<sound>.wav`` for each of a script's [sounds] from its text; returns the files written.

    Stand-in prompts until the office records real ones (which then simply
    replace these files); existing files are kept unless ``overwrite``.
    """
    written = []
    for name, text in sounds.items():
        target = Path(directory) / f"{name}.wav"
        if target.exists() and not overwrite:
            continue
        await synthesizer.render(" ".join(text.split()), target)
        written.append(target)
    return written
