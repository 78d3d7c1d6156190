"""The sender: claims due deliveries and sends them, retrying with exponential backoff.

A webhook counts as delivered on HTTP 2xx and, for 企业微信 / 钉钉, ``errcode``
0 in the answer.  A failed try is retried after 2, 4, 8 … seconds (capped),
up to ``max_attempts``; then the delivery is marked failed and shown on the
alerts page.  A reminder whose alert was acknowledged meanwhile is dropped.
Claims are leased, so a sender that dies mid-send leaves the delivery to be
retried (at most once more) by whichever instance runs next.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import aiohttp
import aiosmtplib
import asyncpg

from ..db import alerts as repo
from ..db import duty
from . import messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryOptions:
    tick: float = 2.0                 # seconds between looks for due deliveries
    timeout: float = 10.0             # per HTTP request / SMTP conversation
    backoff_initial: float = 2.0
    backoff_max: float = 600.0
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=2)


def backoff(attempts: int, options: DeliveryOptions) -> float:
    """Seconds before try ``attempts + 1``: doubling from ``backoff_initial``, capped."""
    return min(options.backoff_initial * 2 ** max(attempts - 1, 0), options.backoff_max)


class DeliveryError(Exception):
    """The receiver did not take the message."""


class Sender:
    def __init__(self, pool: asyncpg.Pool, *, smtp_host: str = "", smtp_port: int = 25,
                 smtp_from: str = "callcenter@localhost", options: DeliveryOptions = DeliveryOptions()) -> None:
        self.pool, self.options = pool, options
        self.smtp_host, self.smtp_port, self.smtp_from = smtp_host, smtp_port, smtp_from
        self._http: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.timeout))
        try:
            while True:
                try:
                    await self.send_due()
                except asyncio.CancelledError:
                    raise
                except Exception:               # e.g. the database restarting: try again next tick
                    log.exception("alert delivery pass failed")
                await asyncio.sleep(self.options.tick)
        finally:
            await self._http.close()

    async def send_due(self) -> int:
        now = datetime.now(timezone.utc)
        async with self.pool.acquire() as conn:
            due = await repo.claim_deliveries(conn, now, lease=self.options.lease)
            on_duty = [s["staff_name"] for s in await duty.on_duty(conn, now)] if due else []
        await asyncio.gather(*(self._one(d, on_duty) for d in due))
        return len(due)

    async def _one(self, delivery: Mapping[str, Any], on_duty: list[str]) -> None:
        async with self.pool.acquire() as conn:
            if delivery["round"] > 0 and delivery["state"] != "new":
                await repo.cancel_delivery(conn, delivery["id"], "已确认, 不再提醒")
                return
        try:
            await self.send(delivery, on_duty)
        except Exception as exc:                # every failure is retried the same way
            retry = None
            if delivery["attempts"] < self.options.max_attempts:
                retry = datetime.now(timezone.utc) + timedelta(seconds=backoff(delivery["attempts"], self.options))
            log.warning("alert %s to %s failed (try %s): %s", delivery["alert_id"], delivery["kind"],
                        delivery["attempts"], exc)
            async with self.pool.acquire() as conn:
                await repo.mark_failed(conn, delivery["id"], f"{type(exc).__name__}: {exc}", retry)
            return
        async with self.pool.acquire() as conn:
            await repo.mark_sent(conn, delivery["id"], datetime.now(timezone.utc))

    async def send(self, delivery: Mapping[str, Any], on_duty: list[str]) -> None:
        if delivery["kind"] == "email":
            if not self.smtp_host:
                raise DeliveryError("未配置 SMTP 服务器 (CALLCENTER_SMTP_HOST)")
            message = messages.email(delivery, on_duty, sender=self.smtp_from, to=delivery["target"])
            await aiosmtplib.send(message, hostname=self.smtp_host, port=self.smtp_port,
                                  timeout=self.options.timeout, start_tls=False, use_tls=False)
            return
        payload = messages.PAYLOADS[delivery["kind"]](delivery, on_duty)
        async with self._http.post(delivery["target"], json=payload) as response:
            text = await response.text()
            if response.status // 100 != 2:
                raise DeliveryError(f"HTTP {response.status}: {text[:200]}")
            if delivery["kind"] in ("wecom", "dingtalk"):
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    raise DeliveryError(f"机器人应答不是 JSON: {text[:200]}") from None
                if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
                    raise DeliveryError(f"机器人拒收: {text[:200]}")
