"""Purge recordings and transcripts past retention, keeping every intent and score.

One purge is one transaction: the rows are locked, their files deleted, the
rows' ``recording_path`` and ``transcript`` cleared and one ``audit_log`` row
written, or nothing is committed.  If the commit fails after files were
deleted, the rows still point at them; the next run finds the files missing,
counts them as such and finishes the job, so a purge can always be re-run.

Recordings still evidence in an undecided appeal (draft / submitted) are held
back: the 分中心 may yet ask to hear them.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from ..config import Settings
from ..ledger.retention import cutoff as retention_cutoff
from ..ledger.retention import deletable_path
from .ticket_queries import record_audit

log = logging.getLogger(__name__)

ACTOR = "retention"
ACTION = "retention.purge"

_EXPIRED_ANSWERS = """
    SELECT a.id, a.recording_path FROM callback_answers a
     WHERE a.created_at < $1 AND (a.recording_path IS NOT NULL OR a.transcript IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM appeal_evidence e JOIN appeals p ON p.id = e.appeal_id
                        WHERE e.attempt_id = a.attempt_id AND p.state IN ('draft', 'submitted'))
     ORDER BY a.id
       FOR UPDATE OF a"""
_EXPIRED_HOTLINE = """
    SELECT id, recording_path FROM hotline_calls
     WHERE ended_at < $1 AND (recording_path IS NOT NULL OR transcript IS NOT NULL)
     ORDER BY id
       FOR UPDATE"""
_CLEAR_ANSWERS = """
    UPDATE callback_answers SET transcript = NULL,
           recording_path = CASE WHEN id = ANY($2::bigint[]) THEN recording_path END
     WHERE id = ANY($1::bigint[])"""
_CLEAR_HOTLINE = """
    UPDATE hotline_calls SET transcript = NULL,
           recording_path = CASE WHEN id = ANY($2::bigint[]) THEN recording_path END
     WHERE id = ANY($1::bigint[])"""


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    dry_run: bool
    answers: int = 0            # callback_answers rows cleared
    hotline_calls: int = 0      # hotline_calls rows cleared
    files_deleted: int = 0
    files_missing: int = 0      # referenced but already gone (e.g. a re-run after a failed commit)
    files_kept: int = 0         # outside the recordings directory, or could not be deleted: see the log

    def as_detail(self) -> dict:
        detail = asdict(self)
        detail["cutoff"] = self.cutoff.isoformat()
        return detail


@dataclass
class _FileOutcome:
    deleted: int = 0
    missing: int = 0
    kept: int = 0


def _remove_files(root: Path, rows: list[tuple[int, str | None]], *, dry_run: bool,
                  outcome: _FileOutcome) -> list[int]:
    """Delete each row's recording; return the ids whose file must stay referenced."""
    keep_ref: list[int] = []
    for row_id, stored in rows:
        if not stored:
            continue
        path = deletable_path(root, stored)
        if path is None:
            log.warning("retention: %s is outside %s; not deleted, reference kept", stored, root)
            outcome.kept += 1
            keep_ref.append(row_id)
            continue
        target = Path(path)
        if dry_run:
            if target.exists():
                outcome.deleted += 1
            else:
                outcome.missing += 1
            continue
        try:
            target.unlink()
            outcome.deleted += 1
        except FileNotFoundError:
            outcome.missing += 1
        except OSError as exc:
            log.error("retention: cannot delete %s: %s; reference kept for the next run", target, exc)
            outcome.kept += 1
            keep_ref.append(row_id)
    return keep_ref


async def purge_once(pool: asyncpg.Pool, settings: Settings, now: datetime, *,
                     dry_run: bool = False) -> PurgeReport:
    """Purge everything recorded before ``now - settings.retention_days``; safe to run daily.

    ``dry_run`` counts what would go and changes nothing (no files, no rows, no audit row).
    """
    limit = retention_cutoff(now, settings.retention_days)
    root = Path(settings.recordings)
    outcome = _FileOutcome()
    async with pool.acquire() as conn:
        async with conn.transaction():
            # Locked even in a dry run (harmless, and the SQL stays fixed text).
            answers = await conn.fetch(_EXPIRED_ANSWERS, limit)
            calls = await conn.fetch(_EXPIRED_HOTLINE, limit)
            answer_rows = [(r["id"], r["recording_path"]) for r in answers]
            call_rows = [(r["id"], r["recording_path"]) for r in calls]
            keep_answers = await asyncio.to_thread(_remove_files, root, answer_rows, dry_run=dry_run,
                                                   outcome=outcome)
            keep_calls = await asyncio.to_thread(_remove_files, root, call_rows, dry_run=dry_run,
                                                 outcome=outcome)
            report = PurgeReport(cutoff=limit, dry_run=dry_run, answers=len(answer_rows),
                                 hotline_calls=len(call_rows), files_deleted=outcome.deleted,
                                 files_missing=outcome.missing, files_kept=outcome.kept)
            if dry_run:
                return report
            if answer_rows:
                await conn.execute(_CLEAR_ANSWERS, [i for i, _ in answer_rows], keep_answers)
            if call_rows:
                await conn.execute(_CLEAR_HOTLINE, [i for i, _ in call_rows], keep_calls)
            await record_audit(conn, ACTOR, ACTION, object_type="retention",
                               object_id=f"{settings.retention_days}d", detail=report.as_detail())
    log.info("retention purge before %s: %d answers, %d hotline calls, %d files deleted, %d missing, %d kept",
             limit.isoformat(), report.answers, report.hotline_calls, report.files_deleted,
             report.files_missing, report.files_kept)
    return report
