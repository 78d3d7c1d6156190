"""Take one ticket file in: import it once, file it under ``done/`` or ``rejected/`` with a report.

Exactly once: a file whose content (SHA-256) was already imported is filed as
done without touching the ledger, and every intake holds one advisory lock, so
two instances watching the same inbox, or an upload racing the watcher, never
import a file twice.  A crash between import and filing re-imports the same
rows on the next start, which the importer's upsert turns into "unchanged".
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from ..db import intake as repo
from ..ledger.timezone import OFFICE_TZ
from ..transfer.importer import ImportRejected, import_tickets
from ..transfer.file_errors import FileRejected

SUFFIXES = (".csv", ".xlsx")
DONE, REJECTED = "done", "rejected"
#: Row errors written into a report (the importer lists them all; a report stays readable).
REPORT_ERRORS = 500


@dataclass
class IntakeResult:
    file_name: str
    outcome: str                      # done | rejected
    message: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: bool = False
    errors: list[dict] = field(default_factory=list)
    filed_as: Path | None = None

    def report(self) -> str:
        """The text written beside the filed file, in the office's words."""
        stamp = datetime.now(OFFICE_TZ).strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"文件: {self.file_name}", f"处理时间: {stamp} (北京时间)",
                 f"结果: {'已导入' if self.outcome == DONE else '已拒收'}", f"说明: {self.message}"]
        if self.outcome == DONE:
            lines.append(f"行数 {self.rows}: 新增 {self.inserted}, 更新 {self.updated}, 未变 {self.unchanged}")
        for e in self.errors[:REPORT_ERRORS]:
            lines.append(f"第 {e['line']} 行 [{e['column']}] {e['reason']}" + (f" ({e['value']})" if e["value"] else ""))
        if len(self.errors) > REPORT_ERRORS:
            lines.append(f"…… 另有 {len(self.errors) - REPORT_ERRORS} 处错误")
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict:
        return {"file": self.file_name, "outcome": self.outcome, "message": self.message, "rows": self.rows,
                "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "duplicate": self.duplicate, "errors": self.errors[:REPORT_ERRORS]}


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with a time stamp and counter if a file of that name is already filed."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    n = 0
    while target.exists():
        n += 1
        target = folder / f"{stem}.{stamp}-{n}{suffix}"
    return target


def file_result(path: Path, inbox: Path, result: IntakeResult) -> Path:
    """Move ``path`` to ``inbox/done`` or ``inbox/rejected`` and write ``<name>.report.txt`` beside it."""
    target = free_name(inbox / result.outcome, result.file_name)
    shutil.move(str(path), target)
    target.with_name(target.name + ".report.txt").write_text(result.report(), encoding="utf-8")
    rejects = path.with_name(f"{path.stem}.rejects.csv")
    if rejects.exists():
        shutil.move(str(rejects), target.with_name(f"{target.stem}.rejects.csv"))
    result.filed_as = target
    return target


async def import_once(pool: asyncpg.Pool, path: Path, *, name: str, source: str, actor: str = "") -> IntakeResult:
    """Import ``path`` (all or nothing) unless its content was imported before; log it in ``intake_files``."""
    if Path(name).suffix.lower() not in SUFFIXES:
        result = IntakeResult(name, REJECTED, "不支持的文件类型, 只接收 .csv 或 .xlsx")
        sha = ""
    else:
        sha = digest(path)
        async with pool.acquire() as lock, lock.transaction():     # the lock ends with the transaction
            await lock.execute("SELECT pg_advisory_xact_lock($1)", repo.INTAKE_LOCK)
            result = await _import_locked(pool, lock, path, name, sha)
            await repo.record(lock, file_name=name, sha256=sha, source=source, actor=actor,
                              outcome=result.outcome, rows=result.rows, inserted=result.inserted,
                              updated=result.updated, message=result.message)
            return result
    async with pool.acquire() as conn:
        await repo.record(conn, file_name=name, sha256=sha, source=source, actor=actor, outcome=result.outcome,
                          message=result.message)
    return result


async def _import_locked(pool: asyncpg.Pool, conn: asyncpg.Connection, path: Path, name: str,
                         sha: str) -> IntakeResult:
    earlier = await repo.already_done(conn, sha)
    if earlier is not None:
        when = earlier["created_at"].astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")
        return IntakeResult(name, DONE, f"内容与 {when} 导入的 {earlier['file_name']} 相同, 未重复导入",
                            duplicate=True)
    try:
        report = await import_tickets(pool, path)
    except ImportRejected as exc:
        errors = [{"line": e.line, "column": e.column, "reason": e.reason, "value": str(e.value or "")}
                  for e in exc.errors]
        return IntakeResult(name, REJECTED, str(exc), rows=exc.rows, errors=errors)
    except FileRejected as exc:
        return IntakeResult(name, REJECTED, str(exc).replace(str(path.name), name))
    return IntakeResult(name, DONE, f"导入 {report.rows} 行", rows=report.rows, inserted=report.inserted,
                        updated=report.updated, unchanged=report.unchanged)


async def take_file(pool: asyncpg.Pool, path: Path, inbox: Path, *, name: str | None = None,
                    source: str = "inbox", actor: str = "") -> IntakeResult:
    """Import once and file the result: the single way every intake (inbox, upload, API) goes."""
    result = await import_once(pool, path, name=name or path.name, source=source, actor=actor)
    file_result(path, inbox, result)
    return result
