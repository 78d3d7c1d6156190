"""The real Asterisk 22 from ../shared/asterisk-22, run by tests with the project's own dialplan.

Why: the simulator is only as good as its agreement with Asterisk, so the
scenarios that matter run against the real PBX too.  The build has no
PJSIP: citizens and agents are scripted dialplan behind ``Local/…``
channels (tests/fixtures/real_pbx/test-extensions.conf).

Only what must differ on a test box is rewritten in the shipped
``docker/asterisk/*.conf``: loopback addresses, ports, the AGI URL, a few
queue timings (so a test waits seconds, not minutes), and the directories
(``asterisk.conf`` points everything into a temporary folder).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import wave
from pathlib import Path

from callcenter.netutil import free_port

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CALLCENTER_ASTERISK_BUILD", ROOT.parent / "shared" / "asterisk-22"))
BINARY = SHARED / "sbin" / "asterisk"
DOCKER = ROOT / "docker" / "asterisk"
TEST_DIALPLAN = Path(__file__).resolve().parent / "fixtures" / "real_pbx" / "test-extensions.conf"

# Queue timings that would make a test wait minutes; everything else in queues.conf is as shipped.
TEST_QUEUE_TIMINGS = {"wrapuptime": "0", "timeout": "5", "retry": "1", "announce-frequency": "0",
                      "periodic-announce-frequency": "0"}


def missing_reason() -> str | None:
    """Why the real PBX cannot run here (an outside checkout without ../shared), or None."""
    if not BINARY.exists():
        return f"real Asterisk not present at {SHARED} (outside checkout): real-PBX tests skipped"
    return None


def tone(path: Path, seconds: float, hz: int = 440) -> None:
    """An 8 kHz 16-bit mono WAV: a short stand-in for a prompt, so calls take seconds, not minutes."""
    import math
    frames = bytearray()
    for i in range(int(8000 * seconds)):
        value = int(3000 * math.sin(2 * math.pi * hz * i / 8000))
        frames += value.to_bytes(2, "little", signed=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(frames))


def _set_key(text: str, key: str, value: str) -> str:
    """Rewrite ``key = …`` (keeping a trailing comment off): the one way configs are edited here."""
    pattern = re.compile(rf"^(\s*{re.escape(key)}\s*=\s*)[^;\n]*", re.MULTILINE)
    if not pattern.search(text):
        raise AssertionError(f"{key} not found in the shipped config: the rewrite no longer applies")
    return pattern.sub(lambda m: m.group(1) + value + " ", text, count=1)


class SilentSynthesizer:
    """No per-call speech synthesis: the greeting's date and title are skipped, so a call's timing is
    the tones' alone and a scripted citizen's keys land in the question they are meant for."""

    async def sound_for(self, text: str) -> None:
        return None


class RealAsterisk:
    """One Asterisk process with its own directories, the project's dialplan and the test citizens."""

    def __init__(self, base: Path, *, agi_port: int | None = None, globals_: dict[str, str] | None = None,
                 prompt_seconds: float = 0.4) -> None:
        self.base = base
        self.ami_port = free_port()
        self.agi_port = agi_port or free_port()
        self.globals = dict(globals_ or {})
        self.prompt_seconds = prompt_seconds
        self.etc, self.data = base / "etc", base / "data"
        self.spool, self.logdir = base / "spool", base / "log"
        self.sounds = self.data / "sounds"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._write_configs()

    # -- configuration ---------------------------------------------------------------------

    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    def _write_configs(self) -> None:
        for d in (self.etc, self.data, self.spool, self.logdir, self.base / "run", self.base / "cache",
                  self.data / "agi-bin", self.data / "keys"):
            d.mkdir(parents=True, exist_ok=True)
        link = self.data / "documentation"
        if not link.exists():
            link.symlink_to(SHARED / "share" / "documentation")
        self.conf.write_text(
            "[directories]\n"
            f"astetcdir => {self.etc}\nastmoddir => {SHARED / 'lib' / 'asterisk' / 'modules'}\n"
            f"astdatadir => {self.data}\nastvarlibdir => {self.data}\nastdbdir => {self.data}\n"
            f"astkeydir => {self.data}\nastagidir => {self.data / 'agi-bin'}\nastspooldir => {self.spool}\n"
            f"astrundir => {self.base / 'run'}\nastlogdir => {self.logdir}\nastcachedir => {self.base / 'cache'}\n"
            "[options]\nverbose = 3\n", encoding="utf-8")
        (self.etc / "modules.conf").write_text("[modules]\nautoload = yes\n", encoding="utf-8")
        (self.etc / "logger.conf").write_text("[general]\n[logfiles]\nmessages => notice,warning,error,verbose\n",
                                              encoding="utf-8")
        manager = (DOCKER / "manager.conf").read_text(encoding="utf-8")
        manager = _set_key(_set_key(manager, "port", str(self.ami_port)), "bindaddr", "127.0.0.1")
        (self.etc / "manager.conf").write_text(manager, encoding="utf-8")
        dialplan = (DOCKER / "extensions.conf").read_text(encoding="utf-8")
        dialplan = _set_key(dialplan, "CALLCENTER_AGI", f"agi://127.0.0.1:{self.agi_port}")
        for key, value in self.globals.items():
            dialplan = _set_key(dialplan, key, value)
        (self.etc / "extensions.conf").write_text(dialplan + '\n#include "test-extensions.conf"\n',
                                                  encoding="utf-8")
        shutil.copy(TEST_DIALPLAN, self.etc / "test-extensions.conf")
        queues = (DOCKER / "queues.conf").read_text(encoding="utf-8")
        for key, value in TEST_QUEUE_TIMINGS.items():
            queues = _set_key(queues, key, value)
        (self.etc / "queues.conf").write_text(queues, encoding="utf-8")
        from callcenter.cli.prompts import DOCKER_PROMPTS, all_sounds
        for name in [*all_sounds(DOCKER_PROMPTS), "beep"]:
            tone(self.sounds / f"{name}.wav", 0.2 if name == "beep" else self.prompt_seconds)

    # -- process ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "RealAsterisk":
        """Start in the foreground and wait for FullyBooted on the AMI (bounded)."""
        console = open(self.logdir / f"console-{self.starts}.txt", "wb")
        self.starts += 1
        self.proc = subprocess.Popen([str(BINARY), "-C", str(self.conf), "-f", "-n"], stdin=subprocess.DEVNULL,
                                     stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        console.close()
        self.wait_booted(timeout)
        return self

    def wait_booted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.ami_port), timeout=2) as sock:
                    sock.settimeout(max(0.5, deadline - time.monotonic()))
                    sock.sendall(b"Action: Login\r\nUsername: callcenter\r\nSecret: callcenter\r\n\r\n")
                    seen = b""
                    while b"FullyBooted" not in seen:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        seen += chunk
                    if b"FullyBooted" in seen:
                        sock.sendall(b"Action: Logoff\r\n\r\n")
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise TimeoutError(f"Asterisk not FullyBooted within {timeout}s ({last}):\n{self.log_tail()}")

    def wait_gone_then_booted(self, timeout: float) -> None:
        """After ``core restart now``: the AMI port closes, then the restarted PBX boots again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ami_port), timeout=0.5).close()
            except OSError:
                break
            time.sleep(0.05)
        self.wait_booted(max(1.0, deadline - time.monotonic()))

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """One remote-console command (``asterisk -rx``)."""
        done = subprocess.run([str(BINARY), "-C", str(self.conf), "-rx", command], capture_output=True,
                              text=True, timeout=timeout)
        return done.stdout

    def originate(self, channel: str, exten: str, context: str) -> None:
        """``channel originate`` from the console: the test's own calls (hotline callers)."""
        self.cli(f"channel originate {channel} extension {exten}@{context}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (``core stop now``), killing it only if it will not go."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.cli("core stop now", timeout=timeout)
            self.proc.wait(timeout)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL: the PBX vanishes mid-call, as after a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def messages(self) -> str:
        path = self.logdir / "messages"
        if not path.exists():
            path = self.logdir / "messages.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.messages().splitlines()[-lines:])

    def keep_log(self, where: Path) -> Path:
        """Copy the PBX's logs next to a failing test's files (pytest keeps tmp_path)."""
        target = where / "asterisk-log"
        shutil.copytree(self.logdir, target, dirs_exist_ok=True)
        return target
