"""The street office's own work on imported sample tickets, replayed through the real flow.

The city's file says when a ticket was dispatched and closed; the demo plays
the staff who signed, dispatched, handled and reviewed it, step by step with
``apply_step``, so every sample ticket has a genuine audit trail and the
closed ones arrive at 待回访, ready for the callback campaign.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from ..db import tickets as repo
from ..ledger import flow

ACTOR = "demo:街道工作人员"


@dataclass
class WorkDone:
    awaiting_callback: int = 0
    in_progress: int = 0
    skipped: int = 0


def steps_for(ticket: asyncpg.Record) -> list[tuple[flow.Step, object]]:
    """The flow steps (with their times) that bring one received ticket as far as the city's data says."""
    unit = ticket["department_id"] or ticket["community_id"]
    dispatched = ticket["dispatched_at"] or ticket["called_at"]
    if unit is None or dispatched is None:
        return []
    steps = [
        (flow.Step(flow.Action.SIGN), dispatched + timedelta(minutes=20)),
        (flow.Step(flow.Action.DISPATCH, unit_id=unit), dispatched + timedelta(minutes=40)),
        (flow.Step(flow.Action.ACCEPT), dispatched + timedelta(hours=1)),
        (flow.Step(flow.Action.CONTACT), dispatched + timedelta(hours=3)),
    ]
    closed = ticket["closed_at"]
    if closed is not None and closed > dispatched + timedelta(hours=3):
        steps += [(flow.Step(flow.Action.FEEDBACK, reason="已按诉求办理完毕，已向诉求人反馈"),
                   closed - timedelta(hours=2)),
                  (flow.Step(flow.Action.REVIEW_PASS), closed)]
    return steps


async def work_received_tickets(pool: asyncpg.Pool) -> WorkDone:
    done = WorkDone()
    async with pool.acquire() as conn:
        for ticket in await repo.tickets_in_state(conn, flow.State.RECEIVED.value):
            steps = steps_for(ticket)
            if not steps:
                done.skipped += 1
                continue
            for step, at in steps:
                await repo.apply_step(conn, ticket["id"], step, actor=ACTOR, at=at)
            if steps[-1][0].action is flow.Action.REVIEW_PASS:
                done.awaiting_callback += 1
            else:
                done.in_progress += 1
    return done
