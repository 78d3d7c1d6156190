"""ticket_scores follows the ledger: flow steps, new answer versions, deleted attempts and tickets."""
from datetime import datetime, timedelta, timezone

from callcenter.db import tickets as ticket_repo
from callcenter.ledger import flow

from . import scoring_factories as f

BJ = timezone(timedelta(hours=8))


async def score_row(conn, ticket_id):
    return await conn.fetchrow("SELECT source, contacted, solved, satisfaction, scored_at, department_id "
                               "FROM ticket_scores WHERE ticket_id = $1", ticket_id)


async def test_flow_step_to_callback_failed_is_scored_as_failed(db):
    async with db.pool.acquire() as conn:
        tid = await f.ticket(conn, called_at=datetime(2024, 5, 1, tzinfo=BJ), status="awaiting_callback",
                             closed_at=datetime(2024, 5, 3, tzinfo=BJ))
        assert (await score_row(conn, tid))["source"] == "pending"
        await ticket_repo.apply_step(conn, tid, flow.Step(flow.Action.CALLBACK_FAILED), actor="dialer")
        row = await score_row(conn, tid)
    assert row["source"] == "failed" and row["scored_at"] == datetime(2024, 5, 3, tzinfo=BJ)


async def test_supervisor_version_and_deleted_attempt_are_followed(db):
    async with db.pool.acquire() as conn:
        tid = await f.ticket(conn, called_at=datetime(2024, 5, 1, tzinfo=BJ), city=(True, "否", "否", "不满意"))
        assert (await score_row(conn, tid))["source"] == "city"
        attempt = await f.attempt(conn, tid, 1, answered_at=datetime(2024, 5, 4, tzinfo=BJ),
                                  answers=f.own("yes", "solved", "dissatisfied"))
        row = await score_row(conn, tid)
        assert (row["source"], row["satisfaction"]) == ("own", "dissatisfied")
        await f.answer(conn, attempt, "satisfaction", "satisfied", version=2)
        assert (await score_row(conn, tid))["satisfaction"] == "satisfied"
        # A version the supervisor could not decide (NULL) makes the attempt incomplete: the city's answer counts.
        await f.answer(conn, attempt, "satisfaction", None, version=3)
        assert (await score_row(conn, tid))["source"] == "city"
        await conn.execute("DELETE FROM callback_attempts WHERE ticket_id = $1", tid)
        row = await score_row(conn, tid)
        assert (row["source"], row["satisfaction"]) == ("city", "dissatisfied")
        dept = await f.unit(conn, "城管科")
        await conn.execute("UPDATE tickets SET department_id = $2 WHERE id = $1", tid, dept)
        assert (await score_row(conn, tid))["department_id"] == dept
        await conn.execute("DELETE FROM tickets WHERE id = $1", tid)
        assert await score_row(conn, tid) is None
