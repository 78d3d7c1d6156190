"""What every subcommand shares: exit codes, settings, running a coroutine, opening the DB."""
from __future__ import annotations

import argparse
import enum
import getpass
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from rich.console import Console

from .. import event_loop
from ..config import ConfigError, Settings, load_settings
from ..db.database import Database, open_database
from ..db.ticket_queries import record_audit


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    REJECTED = 3


class CliError(Exception):
    """A failure to report in one line, with the exit code it deserves."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE):
        super().__init__(message)
        self.code = code


def output_console() -> Console:
    """Rich assumes 80 columns when piped, which truncates Chinese unit names; a pipe gets 160."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def settings_from(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from exc


@asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[Database]:
    async with open_database(settings_from(args)) as db:
        yield db


def async_handler(func: Callable[[argparse.Namespace], Awaitable[int | None]]):
    """Turn ``async def handler(args)`` into the synchronous handler argparse calls."""
    def run(args: argparse.Namespace) -> int | None:
        try:
            factory = event_loop.loop_factory()
        except ValueError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from exc
        return event_loop.run(func(args), factory)
    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def cli_actor() -> str:
    """Who runs the command, for the audit log (``cli:USER``)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


UNMASKED_HELP = "show full phone numbers instead of 138****0001 (only when truly needed; recorded in the audit log)"


async def audit_unmasked(db: Database, command: str, subject: str) -> None:
    """An operator asked for full numbers: the audit log must say who, for what."""
    async with db.pool.acquire() as conn:
        await record_audit(conn, cli_actor(), "unmasked_phones", object_type=command, object_id=subject,
                           detail={"command": command})
