"""``callcenter backup FILE`` and ``callcenter restore FILE``: the whole ledger, pg_dump custom format.

Works against the embedded server and against ``CALLCENTER_DSN`` alike; the
restore drill is in docs/operations.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..db.backup import BackupError, BadArchive, DatabaseNotEmpty, backup, restore
from ..db.database import describe_dsn, resolve_dsn
from .common import CliError, ExitCode, async_handler, settings_from

ORDER = 60


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="dump the whole database to FILE (pg_dump custom format)",
                       description="Dump the ledger database (embedded or $CALLCENTER_DSN) to FILE. "
                                   "The file appears only when the dump is complete.")
    b.add_argument("file", type=Path, metavar="FILE")
    b.set_defaults(handler=run_backup)
    r = sub.add_parser("restore", help="replace the database with the contents of a backup FILE",
                       description="Restore FILE into a fresh database in one transaction, then swap it "
                                   "in. A non-empty database is replaced only with --force, and is kept "
                                   "under the name <db>_pre_restore_<UTC time>. Stop the service first.")
    r.add_argument("file", type=Path, metavar="FILE")
    r.add_argument("--force", action="store_true",
                   help="replace a database that already holds tables (it is kept, renamed)")
    r.set_defaults(handler=run_restore)


@async_handler
async def run_backup(args: argparse.Namespace) -> int:
    dsn, embedded = await resolve_dsn(settings_from(args))
    try:
        size = await backup(dsn, args.file)
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    print(f"backup written: {args.file} ({size:,} bytes) from {describe_dsn(dsn)}"
          f"{' (embedded)' if embedded else ''}")
    return 0


@async_handler
async def run_restore(args: argparse.Namespace) -> int:
    dsn, embedded = await resolve_dsn(settings_from(args))
    try:
        result = await restore(dsn, args.file, force=args.force)
    except BadArchive as exc:
        raise CliError(str(exc), ExitCode.REJECTED) from exc
    except DatabaseNotEmpty as exc:
        raise CliError(str(exc), ExitCode.REJECTED) from exc
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    print(f"restored {args.file} into {result.database} on {describe_dsn(dsn)}"
          f"{' (embedded)' if embedded else ''}")
    if result.replaced:
        print(f"previous database kept as {result.replaced}: drop it once the restore is checked")
    print("next: callcenter migrate   (brings an older backup up to the current schema)")
    return 0
