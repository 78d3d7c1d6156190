"""Watching a campaign in the terminal: a progress bar with calls placed, answered, completed, rates so far.

Everything shown is read back from PostgreSQL (the same counters the web
shows), so the bar can never claim a call the ledger does not have.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..db import campaigns as campaign_repo
from ..db.scoring import load_calendar
from ..reports import scorecard
from ..scoring.periods import period_containing
from ..scoring.rates import display

ANSWERED = ("answered-complete", "answered-partial", "refused")


@dataclass(frozen=True)
class Snapshot:
    tickets: int
    open_tickets: int
    placed: int
    answered: int
    completed: int
    rates: str

    @property
    def done(self) -> bool:
        return self.tickets > 0 and self.open_tickets == 0


async def current_period_label(conn: asyncpg.Connection) -> str:
    """Callbacks are scored when answered, so the demo's land in the assessment month running now."""
    return period_containing(datetime.now(timezone.utc), await load_calendar(conn)).label


async def snapshot(pool: asyncpg.Pool, campaign_id: int, period: str) -> Snapshot:
    async with pool.acquire() as conn:
        counts = await campaign_repo.progress(conn, campaign_id)
        street = await scorecard.rates_table(conn, period, "street")
    rates = "—"
    if street.rows:
        r = street.rows[0].all
        rates = (f"响应 {display(r.response) or '—'}% 解决 {display(r.solved) or '—'}% "
                 f"满意 {display(r.satisfied) or '—'}%")
    return Snapshot(tickets=counts.get("tickets", 0), open_tickets=counts.get("open_tickets", 0),
                    placed=counts.get("placed", 0), answered=sum(counts.get(k, 0) for k in ANSWERED),
                    completed=counts.get("answered-complete", 0), rates=rates)


async def watch_campaign(pool: asyncpg.Pool, campaign_id: int, console: Console, *,
                         poll: float = 0.5, timeout: float | None = None) -> Snapshot:
    """Show progress until every ticket's callback is over (or ``timeout`` seconds pass); return the last view."""
    async with pool.acquire() as conn:
        period = await current_period_label(conn)
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    columns = (TextColumn("回访 callbacks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[calls]}"), TextColumn("{task.fields[rates]}"))
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task("callbacks", total=None, calls="", rates="")
        while True:
            view = await snapshot(pool, campaign_id, period)
            bar.update(task, total=view.tickets or None, completed=view.tickets - view.open_tickets,
                       calls=f"拨出 {view.placed} · 接通 {view.answered} · 完成 {view.completed}",
                       rates=view.rates)
            if view.done or (deadline is not None and loop.time() >= deadline):
                return view
            await asyncio.sleep(poll)
