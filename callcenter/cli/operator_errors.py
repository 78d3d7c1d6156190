"""What an operator sees when the world is wrong: one sentence and an exit code, never a traceback.

Why: an unreachable ``CALLCENTER_DSN`` used to print sixty lines of asyncpg
internals; the person at the console needs to know *what* is unreachable and
what to check.  ``-v`` still shows the traceback for whoever debugs it.
"""
from __future__ import annotations

import asyncio
import socket

import asyncpg

from ..config import ConfigError, load_settings
from ..db.database import describe_dsn
from ..telephony.ami import AmiError
from .common import ExitCode


def _targets(config_file: str | None) -> str:
    """Where the database and Asterisk are expected (no password), when the settings load at all."""
    try:
        settings = load_settings(config_file)
    except ConfigError:
        return ""
    db = describe_dsn(settings.dsn) if settings.dsn else "内置 PostgreSQL"
    return f"数据库 {db}, Asterisk AMI {settings.ami_host}:{settings.ami_port}; "


def describe(exc: BaseException, config_file: str | None = None) -> tuple[str, ExitCode]:
    """One sentence (Chinese, with the cause) and the exit code for a failure no subcommand handled."""
    cause = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return f"数据库拒绝登录 (用户名或密码错误), 请检查 CALLCENTER_DSN。({cause})", ExitCode.USAGE
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"数据库不存在, 请检查 CALLCENTER_DSN 中的库名。({cause})", ExitCode.USAGE
    if isinstance(exc, asyncpg.PostgresError):
        return f"数据库报错: {cause}", ExitCode.FAILURE
    if isinstance(exc, AmiError):
        return f"无法连接 Asterisk (AMI), 请检查交换机是否运行及 CALLCENTER_AMI_* 设置。({cause})", ExitCode.FAILURE
    if isinstance(exc, socket.gaierror):
        return f"主机名无法解析, 请检查 CALLCENTER_DSN / CALLCENTER_AMI_HOST。({cause})", ExitCode.USAGE
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError, TimeoutError)):
        return (f"无法连接所需的服务 ({_targets(config_file)}请确认它在运行、地址与端口正确)。({cause})",
                ExitCode.FAILURE)
    return f"意外错误: {cause}。加 -v 可查看详细信息。", ExitCode.FAILURE
