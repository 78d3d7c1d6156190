"""Settings: a TOML file, overridden by environment variables, with every mistake reported at once.

Precedence, lowest first: built-in defaults → the TOML file (``--config`` or
``CALLCENTER_CONFIG``) → ``CALLCENTER_*`` environment variables.
"""
from __future__ import annotations

import difflib
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import platformdirs


class ConfigError(ValueError):
    """One or more settings are wrong; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("配置错误 / configuration errors:\n" + "\n".join(f"  - {p}" for p in problems))


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("callcenter", appauthor=False))


@dataclass(frozen=True)
class Settings:
    # Database: a server DSN, or None for the private embedded PostgreSQL under ``home``.
    dsn: str | None = None
    home: Path = field(default_factory=default_home)
    db_pool_min: int = 1
    db_pool_max: int = 10
    # Asterisk Manager Interface.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: str = "callcenter"
    # Our FastAGI server, which Asterisk connects to for answered calls.
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # Admin web app.
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_cookie_secure: bool = False          # cookies only over HTTPS (turn on behind a TLS proxy)
    web_trust_forwarded_proto: bool = False  # believe X-Forwarded-Proto (only when a proxy you run sets it)
    web_workers: int | None = None           # web processes sharing the port; None = one per CPU core
    # Speech: a vosk model directory; None means DTMF only.
    vosk_model: Path | None = None
    asr_workers: int = 1
    asr_worker_memory_mb: int = 0           # address-space cap per ASR worker; 0 = none
    asr_review_threshold: float = 0.6       # speech answers below this confidence go to a supervisor
    recordings_dir: Path | None = None
    recordings_min_free_mb: int = 1024      # below this, /healthz and the dashboard raise the disk alarm
    timezone: str = "Asia/Shanghai"
    # Service: the name this instance claims calls under (stable across restarts, so a restarted
    # instance reconciles its own calls at once; unique per instance sharing one database).
    instance_name: str = field(default_factory=socket.gethostname)
    shutdown_grace: float = 30.0            # seconds live calls get to finish after SIGTERM
    retention_days: int = 365               # recordings and transcripts older than this are purged
    # 7×24 intake: the folder the service watches for the city's ticket files (default: home/inbox).
    inbox_dir: Path | None = None
    # Alert e-mail to the staff on duty; no host means no e-mail (the web bell and webhooks still work).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "callcenter@localhost"
    # The queue member interface of a hotline agent (QueueAdd); tests use Local/{username}@agents.
    agent_interface: str = "PJSIP/{username}"
    # 质检: the share of each agent's calls offered for grading every week.
    qa_sample_rate: float = 0.05

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def web_processes(self) -> int:
        """How many web processes ``serve`` runs (the first also holds the AMI link, dialer and schedulers)."""
        return self.web_workers or os.cpu_count() or 1

    @property
    def recordings(self) -> Path:
        return self.recordings_dir or self.home / "recordings"

    @property
    def inbox(self) -> Path:
        return self.inbox_dir or self.home / "inbox"


# Environment variable → field name.  Kept explicit so `config check` can name them.
ENV_VARS = {
    "CALLCENTER_DSN": "dsn",
    "CALLCENTER_HOME": "home",
    "CALLCENTER_AMI_HOST": "ami_host",
    "CALLCENTER_AMI_PORT": "ami_port",
    "CALLCENTER_AMI_USER": "ami_user",
    "CALLCENTER_AMI_SECRET": "ami_secret",
    "CALLCENTER_AGI_HOST": "agi_host",
    "CALLCENTER_AGI_PORT": "agi_port",
    "CALLCENTER_WEB_HOST": "web_host",
    "CALLCENTER_WEB_PORT": "web_port",
    "CALLCENTER_WEB_COOKIE_SECURE": "web_cookie_secure",
    "CALLCENTER_WEB_TRUST_FORWARDED_PROTO": "web_trust_forwarded_proto",
    "CALLCENTER_WEB_WORKERS": "web_workers",
    "CALLCENTER_VOSK_MODEL": "vosk_model",
    "CALLCENTER_ASR_WORKERS": "asr_workers",
    "CALLCENTER_ASR_WORKER_MEMORY_MB": "asr_worker_memory_mb",
    "CALLCENTER_ASR_REVIEW_THRESHOLD": "asr_review_threshold",
    "CALLCENTER_RECORDINGS": "recordings_dir",
    "CALLCENTER_RECORDINGS_MIN_FREE_MB": "recordings_min_free_mb",
    "CALLCENTER_INSTANCE": "instance_name",
    "CALLCENTER_SHUTDOWN_GRACE": "shutdown_grace",
    "CALLCENTER_RETENTION_DAYS": "retention_days",
    "CALLCENTER_INBOX": "inbox_dir",
    "CALLCENTER_SMTP_HOST": "smtp_host",
    "CALLCENTER_SMTP_PORT": "smtp_port",
    "CALLCENTER_SMTP_FROM": "smtp_from",
    "CALLCENTER_AGENT_INTERFACE": "agent_interface",
    "CALLCENTER_QA_SAMPLE_RATE": "qa_sample_rate",
}

#: CALLCENTER_* variables read outside Settings: the settings file itself, and the test suite's knobs.
OTHER_ENV_VARS = frozenset({"CALLCENTER_CONFIG", "CALLCENTER_TEST_DSN", "CALLCENTER_CHROMIUM",
                            "CALLCENTER_FAULT_FIGURES", "CALLCENTER_FUZZ_EXAMPLES", "CALLCENTER_FUZZ_REPORT",
                            "CALLCENTER_ASTERISK_BUILD"})

_PORT_FIELDS = {"ami_port", "agi_port", "web_port", "smtp_port"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def unknown_env_vars(environ: Mapping[str, str]) -> list[str]:
    """Every ``CALLCENTER_*`` variable nothing reads (a typo would otherwise go unnoticed), with a guess."""
    known = set(ENV_VARS) | OTHER_ENV_VARS
    problems = []
    for var in sorted(v for v in environ if v.startswith("CALLCENTER_") and v not in known):
        guess = difflib.get_close_matches(var, sorted(known), n=1)
        hint = f"; 是否想写 {guess[0]}?" if guess else ""
        problems.append(f"${var}: 未知的环境变量, 不会生效{hint}")
    return problems


def _coerce(name: str, raw: Any, problems: list[str], origin: str) -> Any:
    """Convert one raw value to the field's type, appending a problem instead of raising."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if raw is None or raw == "":
        return None if "None" in str(kind) else raw
    try:
        if str(kind) == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).strip().lower() in _TRUE | _FALSE:
                return str(raw).strip().lower() in _TRUE
            raise ValueError("must be true or false")
        if str(kind) == "float":
            value = float(raw)
            if name in ("asr_review_threshold", "qa_sample_rate") and not 0.0 <= value <= 1.0:
                raise ValueError("must be between 0 and 1")
            if value < 0:
                raise ValueError("must not be negative")
            return value
        if "int" in str(kind):
            value = int(raw)
            if name in _PORT_FIELDS and not 1 <= value <= 65535:
                raise ValueError("port out of range 1–65535")
            if name.startswith(("db_pool", "asr_workers", "retention_days", "web_workers")) and value < 1:
                raise ValueError("must be at least 1")
            if name == "asr_worker_memory_mb" and value < 0:
                raise ValueError("must be 0 (no cap) or a size in MiB")
            return value
        if "Path" in str(kind):
            return Path(str(raw)).expanduser()
        if name == "agent_interface" and (str(raw).count("{username}") != 1
                                          or str(raw).replace("{username}", "").count("{")):
            raise ValueError("须含且只含一个 {username}，如 PJSIP/{username} (must contain {username} once)")
        return str(raw)
    except (TypeError, ValueError) as exc:
        problems.append(f"{origin}: {name} = {raw!r}: {exc}")
        return None


def load_settings(config_file: str | os.PathLike | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings, raising :class:`ConfigError` that lists every problem found."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, Any] = {}
    config_file = config_file or environ.get("CALLCENTER_CONFIG")
    known = {f.name for f in fields(Settings)}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{path}: 配置文件不存在 (config file not found)")
            data = {}
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path}: TOML 语法错误: {exc}")
            data = {}
        for key, raw in _flatten(data).items():
            if key not in known:
                problems.append(f"{path}: 未知配置项 {key!r} (known: {', '.join(sorted(known))})")
                continue
            values[key] = _coerce(key, raw, problems, str(path))
    for var, name in ENV_VARS.items():
        if var in environ:
            values[name] = _coerce(name, environ[var], problems, f"${var}")
    if problems:
        raise ConfigError(problems)
    values = {k: v for k, v in values.items() if v is not None or k in {"dsn", "vosk_model", "recordings_dir", "inbox_dir", "web_workers"}}
    return replace(Settings(), **values)


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """``[ami] port = 1`` and ``ami_port = 1`` mean the same thing."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                flat[f"{key}_{sub}"] = inner
        else:
            flat[key] = value
    return flat
