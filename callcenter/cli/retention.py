"""``callcenter retention purge [--dry-run]``: delete recordings and transcripts past retention.

The retention is ``retention_days`` (``CALLCENTER_RETENTION_DAYS``, default 365).
Intents and scores are kept; each real purge writes one audit_log row.
"""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from ..db.retention import purge_once
from ..ledger.retention import RetentionError
from ..ledger.timezone import office_text
from .common import CliError, ExitCode, async_handler, database, settings_from

ORDER = 61


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retention", help="purge recordings and transcripts past the retention period")
    actions = p.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    purge = actions.add_parser(
        "purge", help="delete recording files and clear transcripts older than retention_days",
        description="Delete recording files under the recordings directory and clear transcripts of "
                    "callback answers and hotline calls older than retention_days "
                    "($CALLCENTER_RETENTION_DAYS, default 365). Intents and scores are kept. "
                    "Exit 1 if some file could not be deleted (see the log).")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be purged; change nothing")
    purge.set_defaults(handler=run_purge)


@async_handler
async def run_purge(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with database(args) as db:
        try:
            report = await purge_once(db.pool, settings, datetime.now(timezone.utc), dry_run=args.dry_run)
        except RetentionError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from exc
    verb = "would purge" if report.dry_run else "purged"
    print(f"{verb} data recorded before {office_text(report.cutoff, '%Y-%m-%d %H:%M:%S')} 北京时间 "
          f"(retention {settings.retention_days} days):")
    print(f"  callback answers: {report.answers}")
    print(f"  hotline calls:    {report.hotline_calls}")
    print(f"  files {'to delete' if report.dry_run else 'deleted'}: {report.files_deleted}"
          f"  (already missing: {report.files_missing}, kept: {report.files_kept})")
    return int(ExitCode.FAILURE if report.files_kept and not report.dry_run else ExitCode.OK)
