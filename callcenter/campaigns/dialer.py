"""The dialer loop: due attempts → pacing per trunk → Originate → outcome → next step.

Ordering that makes it crash-safe: an attempt is written ``dialing`` (with our
ActionID and ChannelId) before its Originate is sent; the outcome is written
before the next step is settled; settling happens exactly once.  After a
restart or a lost AMI link, calls still marked live are reconciled against
the PBX's channel list — never dialed again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

import asyncpg

from ..db import campaigns as campaign_repo
from ..db import dialer as queue
from ..db.retry import on_connection
from .outcomes import Outcome, next_step, outcome_of_unanswered
from .ports import LinkLost, OriginateRequest, Pbx

log = logging.getLogger(__name__)
T = TypeVar("T")
ALL_STATES = ("draft", "running", "paused", "finished")
GUARD_VARIABLE = "TRUNK_MAX_CHANNELS"       # the dialplan global the dial-out context's GROUP_COUNT guard uses
# InternalClientError: a pooled connection caught mid-operation by a PostgreSQL restart.
_ROUND_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
_OUTCOMES = {o.value for o in Outcome}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class DialerOptions:
    instance: str = "callcenter-1"
    tick: float = 0.2                       # seconds between claim rounds
    # After a call ends, wait this long before claiming, so calls ending together share one claim
    # (a claim is half a dozen round trips whether it takes one attempt or twenty).
    claim_coalesce: float = 0.02
    claim_batch: int = 50
    originate_timeout_ms: int = 30000
    context: str = "callback-ivr"
    # The Local dial-out context that counts the trunk's channels before the phone rings and then dials
    # TRUNK_DIAL (docker/asterisk/extensions.conf); None originates straight to the trunk's dial string.
    dialout_context: str | None = "callback-dialout"
    hangup_wait: float = 4 * 3600           # longest call we wait for before reconciling it
    refresh_every: float = 2.0              # campaigns/trunks reload, standing-campaign enrolment
    reconcile_every: float = 15.0
    orphaned_after: timedelta = timedelta(seconds=60)   # another instance silent this long: adopt its calls
    ivr_verdict_wait: float = 2.0           # after an answered call's hang-up, wait this long for the IVR's verdict


class TokenBucket:
    """Call setups per second for one trunk; bursts are capped at one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.clock = rate, clock
        self.tokens, self.stamp = rate, clock()

    def take(self, wanted: int) -> int:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted

    def give_back(self, unused: int) -> None:
        self.tokens = min(self.rate, self.tokens + max(0, unused))


@dataclass
class DialerStats:
    placed: int = 0
    answered: int = 0
    finished: int = 0
    reconciled: int = 0
    rounds: int = 0
    round_seconds: float = 0.0            # time spent in rounds (refresh, sweep, claim), for /metrics and tuning
    claim_seconds: float = 0.0
    claims: int = 0
    claimed: int = 0
    tokens_granted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Dialer:
    def __init__(self, pool: asyncpg.Pool, pbx: Pbx, options: DialerOptions | None = None,
                 clock: Callable[[], datetime] = utcnow, calls_pool: asyncpg.Pool | None = None):
        """``calls_pool``: connections for the live calls' own bookkeeping after the Originate (finish,
        settle, putting back an unsent call), apart from ``pool``: until a call's end is written the
        trunk counts its channel as busy, so that write must not queue behind hundreds of IVR answers
        nor wait for a disk flush of its own (bench/RESULTS.md, "Callback campaign").  The service
        gives it connections whose commits are not flushed one by one (``Database.side_pool``,
        ``durable_commits=False``): everything written on them, reconciliation writes again from
        the durable state (the claim, the IVR's answers and verdict) should PostgreSQL itself crash
        before the flush, and a claim is never on them (a lost claim could repeat a call)."""
        self.pool, self.pbx, self.opt, self.clock = pool, pbx, options or DialerOptions(), clock
        self.calls_pool = calls_pool or pool
        self.stats = DialerStats()
        self._calls: dict[str, asyncio.Task] = {}          # attempt id → task following the call
        self._buckets: dict[int, TokenBucket] = {}
        self._trunks: dict[int, asyncpg.Record] = {}
        self._campaigns: list[campaign_repo.Campaign] = []          # running ones
        self._by_id: dict[int, campaign_repo.Campaign] = {}          # all, for settling late outcomes
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()          # a call ended: a channel is free now, don't wait for the tick
        self._ready = asyncio.Event()         # run(): the first refresh and reconciliation are done
        # Claiming and reconciliation exclude each other: a call claimed but not yet followed by its
        # task must never look orphaned to a reconciliation running beside the claim.
        self._claim_lock = asyncio.Lock()
        # The IVR of this process gives its verdict here (Service wires CallbackIvr.on_verdict):
        # attempt id → future of the outcome, for the calls this process follows.
        self.verdicts_in_process = False
        self._verdicts: dict[str, asyncio.Future] = {}
        self._last_refresh = self._last_reconcile = self._last_sweep = 0.0
        self.trunk_warnings: dict[str, str] = {}     # trunk name → why its limit disagrees with the PBX's guard

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def live_calls(self) -> int:
        return len(self._calls)

    async def run(self) -> None:
        """Dial until :meth:`stop`.

        Claiming runs in this loop and nothing else: refreshing campaigns, enrolling, reconciling and the
        settle sweep run in a task of their own (:meth:`_housekeeping`), so a slow enrolment never leaves
        freed channels waiting (bench/campaign.py's utilisation).  Nothing is claimed before the first
        reconciliation with the PBX connected has finished, so a restart never repeats a call.
        """
        keeper = asyncio.create_task(self._housekeeping(), name="dialer-housekeeping")
        own: asyncpg.Connection | None = None
        try:
            while not self._stopping.is_set():
                self._wake.clear()            # calls ending from here on wake the next round early
                if self._ready.is_set() and self.pbx.connected:
                    started = time.monotonic()
                    try:
                        # A connection of its own, held while dialing: a claim queued behind hundreds of
                        # calls' writes for the pool took a second under load, channels idle all along.
                        own = own or await self.pool.acquire()
                        await self._claim_and_dial(own)
                    except _ROUND_ERRORS as exc:
                        log.warning("dialer claim failed, retrying: %s", exc)
                        own = await self._give_back(own)
                        await self._sleep(1.0)
                    except Exception:
                        # A defect in one round must not end dialing for good while the pages keep
                        # serving; what was claimed and not followed, reconciliation finds.
                        log.exception("dialer claim round failed unexpectedly, retrying in 1 s")
                        own = await self._give_back(own)
                        await self._sleep(1.0)
                    finally:
                        self.stats.rounds += 1
                        self.stats.round_seconds += time.monotonic() - started
                await self._pause()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self._give_back(own)

    async def _give_back(self, conn: asyncpg.Connection | None) -> None:
        """Return the claim loop's connection to the pool (a broken one is replaced by the pool)."""
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.pool.release(conn))
        return None

    async def _housekeeping(self) -> None:
        """Refresh, reconcile (when due) and sweep, beside the claiming loop; the first pass unlocks claiming."""
        while not self._stopping.is_set():
            try:
                await self._round(time.monotonic(), claim=False)
                if self._last_reconcile and self._last_refresh:
                    self._ready.set()
            except _ROUND_ERRORS as exc:
                log.warning("dialer housekeeping failed, retrying: %s", exc)
                await self._sleep(1.0)
                continue
            except Exception:
                log.exception("dialer housekeeping failed unexpectedly, retrying in 1 s")
                await self._sleep(1.0)
                continue
            await self._sleep(min(self.opt.refresh_every, self.opt.reconcile_every, 1.0) or self.opt.tick)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but not past :meth:`stop`."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _pause(self) -> None:
        """Sleep until the next tick, or less: until a call ends (its channel can be reused at once) or stop."""
        if self._stopping.is_set():
            return
        if self._wake.is_set():
            await asyncio.sleep(self.opt.claim_coalesce)
            return
        waiters = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.opt.tick, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._wake.is_set() and not self._stopping.is_set():
            await asyncio.sleep(self.opt.claim_coalesce)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop claiming, let live calls finish within ``grace`` seconds, then leave the rest to reconcile."""
        self._stopping.set()
        s = self.stats
        log.info("dialer %s stopping: %d placed, %d finished, %d reconciled; %d rounds, %.1f ms per round "
                 "(%.1f ms claiming); %d claims took %d calls of %d setups allowed", self.opt.instance, s.placed,
                 s.finished, s.reconciled, s.rounds, 1000 * s.round_seconds / max(1, s.rounds),
                 1000 * s.claim_seconds / max(1, s.rounds), s.claims, s.claimed, s.tokens_granted)
        if self._calls:
            done, pending = await asyncio.wait(list(self._calls.values()), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # ----- one round -------------------------------------------------------------------------

    async def step(self) -> None:
        """One whole round in sequence: housekeeping when due, then a claim (tests drive the dialer by this)."""
        self._wake.clear()                    # calls ending from here on wake the next round early
        now_mono = time.monotonic()
        try:
            await self._round(now_mono)
        finally:
            self.stats.rounds += 1
            self.stats.round_seconds += time.monotonic() - now_mono

    async def _round(self, now_mono: float, *, claim: bool = True) -> None:
        if now_mono - self._last_refresh >= self.opt.refresh_every:
            await self._refresh()
            self._last_refresh = now_mono
        due = not self._last_reconcile or now_mono - self._last_reconcile >= self.opt.reconcile_every
        if due and self.pbx.connected:        # the first time always: before anything is claimed
            await self.reconcile()
            self._last_reconcile = now_mono
        if now_mono - self._last_sweep >= self.opt.refresh_every:
            await self.settle_finished()      # what another instance, or a crash, left unsettled
            self._last_sweep = now_mono
        if claim and self.pbx.connected and self._last_reconcile:
            await self._claim_and_dial()

    async def _refresh(self) -> None:
        async with self.pool.acquire() as conn:
            await queue.heartbeat(conn, self.opt.instance)
            every = await campaign_repo.load_campaigns(conn, states=ALL_STATES)
            trunks = await campaign_repo.trunks_by_id(conn)
            # Trunks, their pacing and the running campaigns change together, with no await between:
            # the claim loop runs beside this and must never see a campaign's trunk without its bucket.
            self._trunks = trunks
            self._pace(trunks)
            self._by_id = {c.id: c for c in every}
            self._campaigns = [c for c in every if c.state.value == "running"]
            for campaign in self._campaigns:   # enrol is idempotent per callback round
                await queue.enrol(conn, campaign.id, due_at=self.clock())
            await queue.cancel_undiallable(conn, self.clock())
        await self._check_trunk_limits()

    def _pace(self, trunks: dict[int, asyncpg.Record]) -> None:
        """A token bucket per trunk at its calls-per-second limit (kept while the limit is unchanged)."""
        for trunk_id, trunk in trunks.items():
            bucket = self._buckets.get(trunk_id)
            if bucket is None or bucket.rate != float(trunk["max_cps"]):
                self._buckets[trunk_id] = TokenBucket(float(trunk["max_cps"]))

    async def _check_trunk_limits(self) -> None:
        """Warn about a trunk allowed more channels than the dialplan's guard (TRUNK_MAX_CHANNELS) lets
        through: the calls over the guard's limit would only ever get congestion and be retried."""
        read = getattr(self.pbx, "global_var", None)
        if read is None or not self.pbx.connected or not self._trunks:
            return
        try:
            raw = await read(GUARD_VARIABLE)
        except LinkLost:
            return
        try:
            guard = int(raw) if raw is not None else None
        except ValueError:
            guard = None
        warnings = {}
        for trunk in self._trunks.values():
            if guard is not None and trunk["max_channels"] > guard:
                warnings[trunk["name"]] = (f"中继 {trunk['name']} 允许 {trunk['max_channels']} 路，"
                                           f"但 Asterisk 的 "
                                           f"{GUARD_VARIABLE} = {guard}：超出的呼叫在振铃前即被拒绝 "
                                           f"(trunk channels exceed the dialplan guard)")
        for name, text in warnings.items():
            if self.trunk_warnings.get(name) != text:
                log.warning("%s", text)
        self.trunk_warnings = warnings

    async def _claim_and_dial(self, own: asyncpg.Connection | None = None) -> None:
        """Claim what the open campaigns may dial now and start following each call; ``own``: the
        connection to claim on (run()'s), else one from the pool."""
        now = self.clock()
        by_trunk: dict[int, list[int]] = {}
        for campaign in self._campaigns:
            if campaign.windows.is_open(now):
                by_trunk.setdefault(campaign.trunk_id, []).append(campaign.id)
        for trunk_id, campaign_ids in by_trunk.items():
            trunk, bucket = self._trunks.get(trunk_id), self._buckets.get(trunk_id)
            if trunk is None or bucket is None:
                continue
            # The channel limit itself is enforced by claim_due, across every instance.
            allowed = bucket.take(self.opt.claim_batch)
            if allowed <= 0:
                continue
            started = time.monotonic()
            async with self._claim_lock:
                async with contextlib.AsyncExitStack() as stack:
                    conn = own or await stack.enter_async_context(self.pool.acquire())
                    claimed = await queue.claim_due(conn, trunk_id=trunk_id, campaign_ids=campaign_ids,
                                                    limit=allowed, instance=self.opt.instance, now=now)
                    self._start_calls(trunk, claimed)       # followed before anything else can run
            self.stats.claim_seconds += time.monotonic() - started
            self.stats.claims += 1
            self.stats.claimed += len(claimed)
            self.stats.tokens_granted += allowed
            bucket.give_back(allowed - len(claimed))   # unused setups stay available

    def _start_calls(self, trunk, claimed: list[queue.Claimed]) -> None:
        """A task per claimed attempt, registered at once (synchronously: reconciliation must see them)."""
        caller = {c.id: c.caller_id for c in self._campaigns}
        for call in claimed:
            dial, variables = self._dial(trunk, call.phone)
            request = OriginateRequest(
                action_id=str(call.action_id), channel_id=str(call.channel_id),
                other_channel_id=str(call.other_channel_id), dial_string=dial,
                caller_id=caller.get(call.campaign_id) or trunk["caller_id"],
                variables={"TICKET_ID": str(call.ticket_id), "ATTEMPT_ID": str(call.attempt_id),
                           "CALLCENTER_SCRIPT": call.script, **variables},
                context=self.opt.context, timeout_ms=self.opt.originate_timeout_ms)
            key = str(call.attempt_id)
            if self.verdicts_in_process:
                self._verdicts[key] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._follow(call, request))
            self._calls[key] = task
            task.add_done_callback(lambda t, k=key: self._call_done(k))

    def _call_done(self, key: str) -> None:
        self._calls.pop(key, None)
        self._verdicts.pop(key, None)

    def verdict_given(self, attempt_id, outcome: str) -> None:
        """The IVR of this process has its verdict on a call (every answer committed): no need to poll for it.

        Finishing with it is safe before the IVR's own write lands: :func:`queue.finish` keeps an outcome
        already stored (``coalesce``) and the IVR's write keeps one already there, so either order
        stores this verdict once.
        """
        future = self._verdicts.get(str(attempt_id))
        if future is not None and not future.done() and outcome in _OUTCOMES:
            future.set_result(outcome)

    def _dial(self, trunk, phone: str) -> tuple[str, dict[str, str]]:
        """The channel to originate and the variables the dial-out context needs.

        Through the Local dial-out context the trunk's GROUP_COUNT guard runs before the
        citizen's phone rings: a call over the limit is never put through, instead of being
        cut off once answered.
        """
        trunk_dial = trunk["dial_template"].replace("{number}", phone)
        if not self.opt.dialout_context:
            return trunk_dial, {}
        return (f"Local/{phone}@{self.opt.dialout_context}",
                {"TRUNK_DIAL": trunk_dial, "TRUNK_NAME": trunk["name"]})

    # ----- one call --------------------------------------------------------------------------

    async def _follow(self, call: queue.Claimed, request: OriginateRequest) -> None:
        try:
            handle = await self.pbx.originate(request)
            try:
                await handle.sent
            except LinkLost:
                # Never left the wire: put it back, it was not a call.
                await self._write("release unsent", lambda conn: queue.release_unsent(conn, call.attempt_id))
                return
            self.stats.placed += 1
            result = await handle.result
            if not result.answered:
                await self._finish(call.attempt_id, outcome_of_unanswered(result.reason, result.cause),
                                   reason=result.reason, cause=result.cause, call=call)
                return
            self.stats.answered += 1
            answered_at = self.clock()
            if not self.verdicts_in_process:
                # The IVR of this process marks the call answered itself (in the same statement that
                # identifies it, before the first question), so this write would only repeat it; a call
                # that never reached the IVR gets its answer time with the finish below.
                await self._write("mark answered", lambda conn: queue.mark_answered(conn, call.attempt_id,
                                                                                    answered_at))
            cause = await asyncio.wait_for(handle.hangup, self.opt.hangup_wait)
            await self._finish_answered(call.attempt_id, reason=result.reason, cause=cause, wait_verdict=True,
                                        answered_at=answered_at)
        except (LinkLost, asyncio.TimeoutError):
            log.warning("call %s lost track of (link or timeout); it will be reconciled", call.attempt_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one call's failure must not stop the dialer
            log.exception("following call %s failed; it will be reconciled", call.attempt_id)

    async def _finish_answered(self, attempt_id, *, reason: int | None, cause: int | None, note: str = "",
                               wait_verdict: bool = False, answered_at: datetime | None = None) -> None:
        """``wait_verdict``: the IVR hangs up first and stores its verdict (refused, …) just after; wait a
        moment for it, so the PBX's Hangup never turns a refusal into a partial answer called again."""
        outcome = await self._verdict(attempt_id) if wait_verdict else None
        if outcome is None:
            outcome = await self._write("judge answers", lambda conn: queue.answered_outcome(conn, attempt_id))
        await self._finish(attempt_id, outcome, reason=reason, cause=cause, note=note, answered_at=answered_at)

    async def _verdict(self, attempt_id) -> Outcome | None:
        """The IVR's stored verdict on this call, waiting up to ``ivr_verdict_wait`` for it; None if none came.

        The IVR of this process says so itself (:meth:`verdict_given`), so the usual case costs no query
        and no polling delay; otherwise (another process's IVR, a call
        reconciled after a restart) the database is polled.
        """
        told = self._verdicts.get(str(attempt_id))
        if told is not None:
            if not told.done():
                await asyncio.wait({told}, timeout=self.opt.ivr_verdict_wait)
            if told.done() and not told.cancelled():
                return Outcome(told.result())
            stored = await self._write("IVR verdict", lambda conn: queue.ivr_verdict(conn, attempt_id))
            return Outcome(stored) if stored else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opt.ivr_verdict_wait
        while True:
            stored = await self._write("IVR verdict", lambda conn: queue.ivr_verdict(conn, attempt_id))
            if stored or loop.time() >= deadline:
                return Outcome(stored) if stored else None
            await asyncio.sleep(0.05)

    async def _finish(self, attempt_id, outcome: Outcome, *, reason=None, cause=None, note: str = "",
                      answered_at: datetime | None = None, call: queue.Claimed | None = None) -> None:
        """Write the outcome, then settle it on the same connection (finished before settled, each once).

        ``call``: the claimed call, whose ``outcome`` is the PBX's alone (nobody answered).  If its next
        step is a retry, that is worked out here and written with the finish in one statement.
        """
        ended_at = self.clock()
        retry = self._retry_of(call, outcome, ended_at) if call is not None else None

        async def finish_then_settle(conn: asyncpg.Connection) -> None:
            done = await queue.finish(conn, attempt_id, outcome=outcome, ended_at=ended_at, reason=reason,
                                      cause=cause, note=note, answered_at=answered_at, retry=retry)
            if done is not None:
                self.stats.finished += 1
                self._wake.set()              # its channel is free: claim now, don't wait for the settle
                self.stats.outcomes[outcome.value] = self.stats.outcomes.get(outcome.value, 0) + 1
                pending = [] if done.settled else [done]
            else:                             # finished before (a retry after a lost reply, a reconcile)
                pending = await queue.unsettled(conn, attempt_ids=[attempt_id])
            await self._settle(conn, pending)

        # Settled right away by the call's own task, so the loop that claims never waits on it.
        await self._write(f"attempt {attempt_id}: finish and settle", finish_then_settle)

    async def _write(self, what: str, step: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """One step of a live call's bookkeeping, retried through a database outage (each step is idempotent)."""
        return await on_connection(self.calls_pool, step, what=what)

    async def settle_finished(self, attempt_ids: list | None = None) -> None:
        """Apply retry rules / ticket flow to finished attempts not yet settled (these, or any instance's).

        The sweep (no ``attempt_ids``) leaves alone the calls this process is still following: their own
        task settles them a moment later, and settling them here would hold up the sweep for nothing.
        """
        async with self.pool.acquire() as conn:
            pending = await queue.unsettled(conn, attempt_ids=attempt_ids)
            if attempt_ids is None:
                pending = [item for item in pending if str(item.attempt_id) not in self._calls]
            await self._settle(conn, pending)

    def _retry_of(self, call: queue.Claimed, outcome: Outcome, ended_at: datetime) -> tuple[int, datetime] | None:
        """(round, due) of the retry :meth:`_settle` would schedule for this outcome, if it would retry."""
        campaign = self._by_id.get(call.campaign_id)
        if campaign is None:
            return None
        step = next_step(outcome, call.round_attempt, ended_at, campaign.policy, campaign.windows)
        return (call.round_attempt, step.retry_at) if step.retry_at is not None else None

    async def _settle(self, conn: asyncpg.Connection, pending: list[queue.Unsettled]) -> None:
        if not pending:
            return
        if any(item.campaign_id not in self._by_id for item in pending):
            self._by_id = {c.id: c for c in await campaign_repo.load_campaigns(conn, states=ALL_STATES)}
        for item in pending:
            campaign = self._by_id[item.campaign_id]
            step = next_step(item.outcome, item.round_attempt, item.ended_at or self.clock(),
                             campaign.policy, campaign.windows)
            await queue.settle(conn, item.attempt_id, step, known=item)

    # ----- reconciliation --------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Settle the fate of calls marked live that this process is not following.

        A channel the PBX still has is followed to its hang-up; a channel it no
        longer has ended while we were not looking: answered calls are judged by
        the answers stored, unanswered ones count as failed attempts (retried by
        the rules, never re-sent as the same call).
        """
        if not self.pbx.connected:
            return 0
        async with self._claim_lock:          # see __init__: a claim in flight is not an orphan
            async with self.pool.acquire() as conn:
                rows = [r for r in await queue.live_attempts(conn, self.opt.instance, self.opt.orphaned_after)
                        if str(r["id"]) not in self._calls]
        if not rows:
            return 0
        # Watch for each Hangup *before* asking what is live: a channel that hangs up between
        # the snapshot and the watch would otherwise be followed for hours and never settle.
        hangups = {str(r["id"]): await self.pbx.wait_hangup(str(r["channel_id"]))
                   for r in rows if r["channel_id"] is not None}
        try:
            live = await self.pbx.live_channel_ids()
        except BaseException:
            for future in hangups.values():
                future.cancel()
            raise
        for row in rows:
            key = str(row["id"])
            hangup = hangups.get(key)
            if hangup is not None and (str(row["channel_id"]) in live or hangup.done()):
                task = asyncio.create_task(self._follow_existing(row, hangup))
                self._calls[key] = task
                task.add_done_callback(lambda t, k=key: self._calls.pop(k, None))
                continue
            if hangup is not None:
                hangup.cancel()
            await self._finish_reconciled(row["id"], cause=None, note="reconciled: no channel at the PBX")
        return len(rows)

    async def _finish_reconciled(self, attempt_id, *, cause: int | None, note: str) -> None:
        """Judge a call whose Originate evidence was lost: by what the IVR stored, never by a guess.

        Reached the IVR → complete or partial by its answers.  Never reached it →
        an unanswered attempt (classified by the hang-up cause when we saw one),
        which the retry rules handle like any other; the call itself is never re-sent.
        """
        answered = await self._write("reached the IVR?", lambda conn: queue.reached_the_ivr(conn, attempt_id))
        if answered:
            await self._finish_answered(attempt_id, reason=4, cause=cause, note=note)
        else:
            outcome = outcome_of_unanswered(None, cause) if cause else Outcome.FAILED
            await self._finish(attempt_id, outcome, cause=cause, note=note)
        self.stats.reconciled += 1

    async def _follow_existing(self, row, hangup: asyncio.Future) -> None:
        try:
            cause = await asyncio.wait_for(hangup, self.opt.hangup_wait)
        except (LinkLost, asyncio.TimeoutError):
            return
        await self._finish_reconciled(row["id"], cause=cause, note="reconciled: followed to hang-up")
