"""HotlineService: follows the counseling queue over AMI and acts on what the state machine says.

It owns no rules of its own: :class:`~callcenter.hotline.state.HotlineState`
decides (screen-pop, start recording, call finished); this class does the
I/O: websocket messages through the :class:`~callcenter.hotline.hub.Hub`,
MixMonitor and QueueAdd/Remove/Pause through the AMI link, rows through
``callcenter.db.hotline``.  Live state is per PBX (one service per
Asterisk); everything that must survive or be shared is in PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..db import hotline as repo
from ..ledger.privacy import mask_phone
from ..ledger.timezone import OFFICE_TZ
from ..ledger.ticket_record import FieldError, normalize_phone
from .hub import WALL, WALL_REFRESH, Hub, agent_topic
from .state import CallFinished, HotlineState, RingEnded, ScreenPop, StartRecording, StateChanged, service_level

log = logging.getLogger(__name__)

#: Events the state machine reads (all in telephony.ami_events.EVENTS_WE_USE).
FOLLOWED = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentConnect",
            "AgentComplete", "AgentRingNoAnswer", "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded",
            "QueueMemberRemoved", "UserEvent", "Hangup")


class HotlineError(RuntimeError):
    """A console action the PBX refused (the message is Asterisk's)."""


#: An out-of-area mobile as Chinese carriers present it: a trunk 0 before the 11 digits ("外地手机加0").
_TRUNK_ZERO_MOBILE = re.compile(r"01[3-9]\d{9}")


def caller_phone(raw: str) -> str:
    """Caller ID as the ledger stores phones; a number the rules reject is kept as its digits.

    A mobile with the carrier's trunk 0 is the same person as on their tickets: the 0 goes (no
    area code starts 01 but Beijing's 010, so this is never a landline)."""
    try:
        phone = normalize_phone(raw)
    except FieldError:
        phone = "".join(ch for ch in raw if ch.isdigit())
    return phone[1:] if _TRUNK_ZERO_MOBILE.fullmatch(phone) else phone


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")
    return value


def _jsonable(rows: list[dict]) -> list[dict]:
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


class HotlineService:
    def __init__(self, *, queue: str = "counsel", interface_template: str = "PJSIP/{username}",
                 recordings_dir: Path | None = None, asr: Any = None, clock=time.time, hub: Hub | None = None) -> None:
        self.queue = queue
        self.interface_template = interface_template
        self.recordings_dir = recordings_dir
        self.asr = asr                     # anything with ``async run(Job) -> dict`` (callcenter.asr.pool.WorkerPool)
        self.clock = clock
        self.hub = hub or Hub()          # a SharedHub when several web processes serve the pages
        self.state = HotlineState()
        self.ami = None
        self.pool = None
        self._recordings: dict[str, str] = {}
        self._pops: dict[tuple[str, str], asyncio.Task] = {}     # (agent, Uniqueid) → screen-pop being sent
        self._tasks: set[asyncio.Task] = set()
        self._wall_pending = False
        self.errors = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, ami, pool, settings) -> None:
        self.ami, self.pool = ami, pool
        if self.recordings_dir is None:
            self.recordings_dir = Path(settings.recordings_dir or Path(settings.home) / "recordings")
        for name in FOLLOWED:
            ami.on_event(name, self._on_event)
        if hasattr(self.hub, "on_remote"):     # a wall opened in another web process wants the live picture
            self.hub.on_remote(WALL_REFRESH, lambda _message: self._wall_changed())
        ami.on_disconnected(lambda: self._spawn(self.resync()))
        if ami.ready:
            await self.resync()
        else:                              # the link comes up later: learn the queue as soon as it does
            self._spawn(self.resync())

    @classmethod
    def web_side(cls, pool, hub: Hub) -> "HotlineService":
        """What a web-only process needs: the shared hub and the ledger reads (no PBX, no live state)."""
        service = cls(hub=hub)
        service.pool = pool
        return service

    @property
    def follows_pbx(self) -> bool:
        return self.ami is not None

    def live_greeting(self) -> dict | None:
        """The live picture for a wall that just opened; in a web-only process, ask the one that follows
        the PBX to publish it (it then arrives on the wall topic) and return None."""
        if self.follows_pbx:
            return {"type": "live", **self.live()}
        self.hub.publish(WALL_REFRESH, {})
        return None

    async def stop(self) -> None:
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()

    async def drain(self) -> None:
        """Wait until every write and message started so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors += 1
            log.error("hotline task failed", exc_info=task.exception())

    async def resync(self) -> None:
        """After (re)connecting, rebuild members and waiting callers from QueueStatus (events may be lost)."""
        try:
            await self.ami.wait_ready(timeout=30)
            result = await self.ami.send_action({"Action": "QueueStatus", "Queue": self.queue})
        except Exception:
            log.warning("hotline: QueueStatus failed; live state may be stale until the next event", exc_info=True)
            return
        try:
            live = {e.get("Uniqueid") for e in (await self.ami.send_action({"Action": "CoreShowChannels"})).events}
        except Exception:                   # without it, calls in progress are kept as they were
            log.warning("hotline: CoreShowChannels failed after a reconnect", exc_info=True)
            live = None
        self.state, effects = self.state.resynced(result.events, live, self.clock())
        self._act(effects)

    # -- events → effects ---------------------------------------------------------------

    def _on_event(self, message) -> None:
        self._act(self.state.apply(message, self.clock()))

    def _act(self, effects) -> None:
        for effect in effects:
            if isinstance(effect, ScreenPop):
                key = (effect.agent, effect.uniqueid)
                self._pops[key] = self._spawn(self._screen_pop(effect, self.clock()))
                self._pops[key].add_done_callback(lambda _t, key=key: self._pops.pop(key, None))
            elif isinstance(effect, RingEnded):
                self._spawn(self._ring_ended(effect, self._pops.get((effect.agent, effect.uniqueid))))
            elif isinstance(effect, StartRecording):
                self._spawn(self._start_recording(effect))
            elif isinstance(effect, CallFinished):
                self._spawn(self._store_call(effect))
            elif isinstance(effect, StateChanged):
                self._wall_changed()

    async def history(self, phone: str) -> dict:
        """Everything the agent should see about a caller: tickets, counseling, calls, repeat flag."""
        if not phone:
            return {"tickets": [], "records": [], "calls": [], "repeat": {"is_repeat": False, "profile_id": None,
                                                                          "rule": None}, "name": ""}
        async with self.pool.acquire() as conn:
            tickets = await repo.tickets_of(conn, phone)
            records = await repo.records_of(conn, phone)
            calls = await repo.calls_of(conn, phone)
            repeat = await repo.repeat_status(conn, phone, datetime.now(timezone.utc))
        name = next((t["caller_name"] for t in tickets if t["caller_name"]), "")
        return {"tickets": _jsonable(tickets), "records": _jsonable(records), "calls": _jsonable(calls),
                "repeat": repeat, "name": name}

    async def _screen_pop(self, pop: ScreenPop, called_at: float) -> None:
        phone = caller_phone(pop.caller_num)
        history = await self.history(phone)
        self.hub.publish(agent_topic(pop.agent), {
            "type": "screen_pop", "uniqueid": pop.uniqueid, "phone": phone, "queue": pop.queue,
            "agent_called_at": called_at, **history})

    async def _ring_ended(self, effect: RingEnded, pop: asyncio.Task | None) -> None:
        """Withdraw the pop, after it: a ring that ends while the history is still being read must not
        leave the pop showing on the console."""
        if pop is not None:
            await asyncio.gather(pop, return_exceptions=True)
        self.hub.publish(agent_topic(effect.agent), {"type": "ring_ended", "uniqueid": effect.uniqueid})

    async def _start_recording(self, effect: StartRecording) -> None:
        """MixMonitor with an absolute path under the recordings directory, where the call pages look
        (a relative name would land in Asterisk's own spool, which the service never reads)."""
        path = self._recording_path(effect.uniqueid, time.time())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)    # same host; on a shared mount Asterisk creates it
        except OSError:
            pass
        try:
            result = await self.ami.send_action({"Action": "MixMonitor", "Channel": effect.channel,
                                                 "File": str(path), "Options": "b"})
        except Exception:
            log.warning("hotline: MixMonitor failed for %s", effect.uniqueid, exc_info=True)
            return
        if result.response.get("Response") == "Success":
            self._recordings[effect.uniqueid] = str(path)
        else:
            log.warning("hotline: MixMonitor refused for %s: %s", effect.uniqueid, result.response.get("Message"))

    def _recording_path(self, uniqueid: str, started: float) -> Path:
        stamp = datetime.fromtimestamp(started, timezone.utc).astimezone(OFFICE_TZ).strftime("%Y%m%d")
        return Path(self.recordings_dir) / "hotline" / stamp / f"{uniqueid}.wav"

    def _recording_of(self, c) -> str | None:
        """The recording this process started, or, for a talk that began before it (a restart), the one
        its predecessor started where it always does."""
        path = self._recordings.pop(c.uniqueid, None)
        if path is None and c.outcome == "answered" and self.recordings_dir is not None:
            found = self._recording_path(c.uniqueid, c.ended_at - c.talk_s)
            path = str(found) if found.exists() else None
        return path

    async def _store_call(self, effect: CallFinished) -> None:
        c = effect.call
        row = repo.CallRow(
            uniqueid=c.uniqueid, queue=c.queue or self.queue, caller_phone=caller_phone(c.caller_num),
            channel=c.channel,
            joined_at=datetime.fromtimestamp(c.joined_at, timezone.utc),
            ended_at=datetime.fromtimestamp(c.ended_at, timezone.utc), wait_seconds=c.wait_s,
            talk_seconds=c.talk_s, agent=c.agent, outcome=c.outcome,
            recording_path=self._recording_of(c), abandoned_stage=c.abandoned_stage)
        async with self.pool.acquire() as conn:
            call_id, task_id = await repo.record_call(conn, row)
        if c.agent:
            self.hub.publish(agent_topic(c.agent), {"type": "call_ended", "uniqueid": c.uniqueid,
                                                    "call_id": call_id, "phone": row.caller_phone})
        if task_id is not None:
            self.hub.publish(WALL, {"type": "callback_task", "task_id": task_id, "phone": row.caller_phone})
        await self.publish_wall()
        if row.recording_path:
            await self._transcribe(call_id, row.recording_path)

    async def _transcribe(self, call_id: int, path: str) -> None:
        """Through the ASR pool when one is wired in; otherwise the row stays 'pending transcription'."""
        if self.asr is None:
            return
        from ..asr.pool import Job          # late: the pool module starts processes only when used
        if not Path(path).exists():
            status, text = "failed", None
        else:
            try:
                result = await self.asr.run(Job(path, None, free_form=True))
                status, text = "done", (result.get("free") or {}).get("text", "")
            except Exception:
                log.warning("hotline: transcription failed for call %s", call_id, exc_info=True)
                status, text = "failed", None
        async with self.pool.acquire() as conn:
            await repo.set_transcript(conn, call_id, status, text)

    # -- the supervisor wall ----------------------------------------------------------

    def _wall_changed(self) -> None:
        """Coalesce bursts (200 callers joining at once) into one wall message per loop turn."""
        if self._wall_pending or not self.hub.subscribers(WALL):
            return
        self._wall_pending = True
        asyncio.get_running_loop().call_soon(self._send_live)

    def _send_live(self) -> None:
        self._wall_pending = False
        self.hub.publish(WALL, {"type": "live", **self.live()})

    def live(self) -> dict:
        return {"waiting": self.state.waiting(self.clock()), "agents": self.state.agent_rows()}

    async def today(self) -> dict:
        now = datetime.now(timezone.utc)
        since, until = repo.today_bounds(now, OFFICE_TZ)
        async with self.pool.acquire() as conn:
            stats = await repo.day_stats(conn, since, until)
        waits = stats.pop("answered_waits")
        stats["service_level"] = service_level(waits, stats["abandoned"])
        return stats

    async def publish_wall(self) -> None:
        if self.hub.subscribers(WALL):
            self.hub.publish(WALL, {"type": "stats", **await self.today()})

    def alert_high_risk(self, alert: dict) -> None:
        """Push at once to every open wall; the record itself is already in counseling_records."""
        self.hub.publish(WALL, {"type": "alert", **alert})

    async def todays_alerts(self) -> list[dict]:
        """High-risk records of today from the ledger (whichever instance or agent wrote them), phones masked."""
        since, _ = repo.today_bounds(datetime.now(timezone.utc), OFFICE_TZ)
        async with self.pool.acquire() as conn:
            rows = await repo.high_risk_since(conn, since)
        return [{**row, "phone": mask_phone(row["phone"])} for row in rows]

    # -- agent actions (the console) -----------------------------------------------------

    def interface_of(self, username: str) -> str:
        return self.interface_template.format(username=username)

    async def _queue_action(self, action: dict) -> None:
        result = await self.ami.send_action(action)
        if result.response.get("Response") != "Success":
            raise HotlineError(result.response.get("Message") or "PBX refused the action")

    async def login_agent(self, username: str) -> None:
        await self._queue_action({"Action": "QueueAdd", "Queue": self.queue, "Interface": self.interface_of(username),
                                  "MemberName": username, "Paused": "false"})

    async def logout_agent(self, username: str) -> None:
        await self._queue_action({"Action": "QueueRemove", "Queue": self.queue,
                                  "Interface": self.interface_of(username)})

    async def pause_agent(self, username: str, paused: bool, reason: str = "") -> None:
        action = {"Action": "QueuePause", "Queue": self.queue, "Interface": self.interface_of(username),
                  "Paused": "true" if paused else "false"}
        if paused:
            action["Reason"] = reason
        await self._queue_action(action)

    def place_callback(self, username: str, phone: str):
        """Ring the agent's phone first; when they pick up, the dialplan ([hotline-callback]) dials the citizen."""
        return self.ami.originate(channel=self.interface_of(username), context="hotline-callback", exten=phone,
                                  caller_id='"心理疏导回拨" <12345>', timeout_ms=30000)
