"""Retention: old recordings and transcripts go, new ones stay, and the ledger's numbers never move."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.cli import main
from callcenter.config import ConfigError, Settings, load_settings
from callcenter.db.hotline import CallRow, record_call
from callcenter.db.retention import ACTION, purge_once
from callcenter.ledger.retention import RetentionError, cutoff, deletable_path

from . import scoring_factories as f

NOW = datetime(2026, 6, 1, 4, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=400)
NEW = NOW - timedelta(days=30)


# -- the pure policy ---------------------------------------------------------------------------

@given(days=st.integers(1, 10_000), offset=st.integers(-10**6, 10**6))
def test_cutoff_splits_exactly_at_retention(days, offset):
    limit = cutoff(NOW, days)
    recorded = NOW - timedelta(days=days) + timedelta(seconds=offset)
    assert (recorded < limit) == (offset < 0)


@pytest.mark.parametrize("days", [0, -1, 1.5, "365", True])
def test_cutoff_rejects_bad_retention(days):
    with pytest.raises(RetentionError):
        cutoff(NOW, days)


def test_cutoff_rejects_naive_time():
    with pytest.raises(RetentionError):
        cutoff(datetime(2026, 1, 1), 365)


@pytest.mark.parametrize("stored, expected", [
    ("/rec/2025/a.wav", "/rec/2025/a.wav"),
    ("2025/a.wav", "/rec/2025/a.wav"),
    ("/rec/../etc/passwd", None),
    ("../../etc/passwd", None),
    ("/etc/passwd", None),
    ("/rec", None),
    ("/recordings-other/a.wav", None),
])
def test_deletable_path_stays_under_the_root(stored, expected):
    got = deletable_path("/rec/", stored)
    assert (None if got is None else str(got)) == expected


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "x.wav"]), min_size=1, max_size=6))
def test_deletable_path_never_escapes(parts):
    got = deletable_path("/rec", "/".join(parts))
    assert got is None or PurePath("/rec") in got.parents


def test_retention_days_setting():
    assert Settings().retention_days == 365
    assert load_settings(environ={"CALLCENTER_RETENTION_DAYS": "90"}).retention_days == 90
    with pytest.raises(ConfigError):
        load_settings(environ={"CALLCENTER_RETENTION_DAYS": "0"})


# -- the purge against a real database ---------------------------------------------------------

async def _answer_with_recording(conn, attempt_id: str, question: str, intent: str, *, at: datetime,
                                 wav: Path | None) -> int:
    if wav is not None:
        wav.parent.mkdir(parents=True, exist_ok=True)
        wav.write_bytes(b"RIFF....WAVE")
    return await conn.fetchval(
        """INSERT INTO callback_answers (attempt_id, question, version, intent, source, transcript, confidence,
                                         recording_path, created_at)
           VALUES ($1, $2, 1, $3, 'speech', $4, 0.9, $5, $6) RETURNING id""",
        uuid.UUID(attempt_id), question, intent, f"说的是{intent}", None if wav is None else str(wav), at)


async def _ticket_with_speech(conn, rec: Path, at: datetime, tag: str) -> tuple[int, list[int], list[Path]]:
    tid = await f.ticket(conn, called_at=at - timedelta(days=10), closed_at=at - timedelta(days=2))
    attempt_id = await f.attempt(conn, tid, 1, answered_at=at)
    ids, files = [], []
    for question, intent in (("contacted", "yes"), ("solved", "partly"), ("satisfaction", "basic")):
        wav = rec / tag / f"{tid}-{question}.wav"
        ids.append(await _answer_with_recording(conn, attempt_id, question, intent, at=at, wav=wav))
        files.append(wav)
    return tid, ids, files


async def _hotline_call(conn, rec: Path, at: datetime, uniqueid: str) -> tuple[int, Path]:
    wav = rec / "hotline" / f"{uniqueid}.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    wav.write_bytes(b"RIFF")
    call_id, _ = await record_call(conn, CallRow(
        uniqueid=uniqueid, queue="counseling", caller_phone="13900001111", channel="PJSIP/x",
        joined_at=at - timedelta(minutes=5), ended_at=at, wait_seconds=3, talk_seconds=120,
        agent="agent1", outcome="answered", recording_path=str(wav)))
    await conn.execute("UPDATE hotline_calls SET transcript = '我睡不着', transcription_status = 'done' WHERE id = $1",
                       call_id)
    return call_id, wav


async def _state(conn):
    answers = await conn.fetch("SELECT id, intent, transcript, recording_path, confidence FROM callback_answers ORDER BY id")
    calls = await conn.fetch("SELECT id, transcript, recording_path FROM hotline_calls ORDER BY id")
    scores = await conn.fetch("SELECT ticket_id, source, contacted, solved, satisfaction FROM ticket_scores ORDER BY 1")
    audits = await conn.fetch("SELECT detail FROM audit_log WHERE action = $1", ACTION)
    return answers, calls, scores, audits


@pytest.fixture
async def ledger(db, tmp_path):
    """Two tickets with spoken answers (one old, one recent) and two hotline calls (old, recent)."""
    rec = tmp_path / "recordings"
    async with db.pool.acquire() as conn:
        await conn.execute("INSERT INTO users (username, role, password_hash) VALUES ('agent1', 'agent', 'x')")
        old = await _ticket_with_speech(conn, rec, OLD, "old")
        new = await _ticket_with_speech(conn, rec, NEW, "new")
        old_call = await _hotline_call(conn, rec, OLD, "1700000000.1")
        new_call = await _hotline_call(conn, rec, NEW, "1780000000.2")
    settings = Settings(dsn=db.dsn, home=tmp_path / "home", recordings_dir=rec, retention_days=365)
    return settings, old, new, old_call, new_call


async def test_purge_deletes_old_files_clears_old_text_and_keeps_scores(db, ledger):
    settings, old, new, old_call, new_call = ledger
    async with db.pool.acquire() as conn:
        answers_before, _, scores_before, _ = await _state(conn)
    assert [s["satisfaction"] for s in scores_before] == ["basic", "basic"]

    report = await purge_once(db.pool, settings, NOW)

    assert (report.answers, report.hotline_calls, report.files_deleted, report.files_missing) == (3, 1, 4, 0)
    assert not any(p.exists() for p in old[2]) and not old_call[1].exists()
    assert all(p.exists() for p in new[2]) and new_call[1].exists()
    async with db.pool.acquire() as conn:
        answers, calls, scores, audits = await _state(conn)
    by_id = {r["id"]: r for r in answers}
    for i in old[1]:
        assert by_id[i]["transcript"] is None and by_id[i]["recording_path"] is None
    for i in new[1]:
        assert by_id[i]["transcript"] and by_id[i]["recording_path"]
    assert [(r["id"], r["intent"], r["confidence"]) for r in answers] == \
           [(r["id"], r["intent"], r["confidence"]) for r in answers_before]
    assert scores == scores_before
    calls_by_id = {r["id"]: r for r in calls}
    assert calls_by_id[old_call[0]]["transcript"] is None and calls_by_id[old_call[0]]["recording_path"] is None
    assert calls_by_id[new_call[0]]["transcript"] == "我睡不着"
    assert len(audits) == 1
    assert audits[0]["detail"]["answers"] == 3 and audits[0]["detail"]["files_deleted"] == 4

    again = await purge_once(db.pool, settings, NOW)              # nothing left: idempotent
    assert (again.answers, again.hotline_calls, again.files_deleted) == (0, 0, 0)


async def test_dry_run_changes_nothing(db, ledger):
    settings, old, new, old_call, _ = ledger
    async with db.pool.acquire() as conn:
        before = await _state(conn)
    report = await purge_once(db.pool, settings, NOW, dry_run=True)
    assert (report.answers, report.hotline_calls, report.files_deleted, report.dry_run) == (3, 1, 4, True)
    assert all(p.exists() for p in old[2]) and old_call[1].exists()
    async with db.pool.acquire() as conn:
        assert await _state(conn) == before


async def test_missing_files_and_foreign_paths(db, ledger, tmp_path):
    settings, old, _, _, _ = ledger
    old[2][0].unlink()                                            # already gone (e.g. a purge whose commit failed)
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"RIFF")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE callback_answers SET recording_path = $1 WHERE id = $2", str(outside), old[1][1])
    report = await purge_once(db.pool, settings, NOW)
    assert (report.files_deleted, report.files_missing, report.files_kept) == (2, 1, 1)
    assert outside.exists()                                       # never delete outside the recordings dir
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT transcript, recording_path FROM callback_answers WHERE id = $1", old[1][1])
    assert row["transcript"] is None and row["recording_path"] == str(outside)


async def test_recordings_of_an_undecided_appeal_are_held(db, ledger):
    settings, old, _, _, _ = ledger
    async with db.pool.acquire() as conn:
        tid = await conn.fetchval("SELECT a.ticket_id FROM callback_answers x JOIN callback_attempts a "
                                  "ON a.id = x.attempt_id WHERE x.id = $1", old[1][0])
        appeal_id = await f.appeal(conn, tid, "submitted")
        await conn.execute(
            """INSERT INTO appeal_evidence (appeal_id, kind, attempt_id, added_by)
               SELECT $1, 'recording', attempt_id, 'tester' FROM callback_answers WHERE id = $2""",
            appeal_id, old[1][0])
    report = await purge_once(db.pool, settings, NOW)
    assert report.answers == 0 and all(p.exists() for p in old[2])


def test_cli_purge_and_dry_run(db_dsn, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CALLCENTER_DSN", db_dsn)
    monkeypatch.setenv("CALLCENTER_HOME", str(tmp_path / "home"))
    assert main(["retention", "purge", "--dry-run"]) == 0
    assert "would purge" in capsys.readouterr().out
    assert main(["retention", "purge"]) == 0
    assert "callback answers: 0" in capsys.readouterr().out
    monkeypatch.setenv("CALLCENTER_RETENTION_DAYS", "zero")
    assert main(["retention", "purge"]) == 2
