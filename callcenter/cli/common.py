"""What every subcommand shares: exit codes, settings, running a coroutine, opening the DB."""
from __future__ import annotations

import argparse
import asyncio
import enum
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from ..config import ConfigError, Settings, load_settings
from ..db.database import Database, open_database


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
        return asyncio.run(func(args))
    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run
