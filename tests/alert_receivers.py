"""Real receivers on loopback for the alert tests: an aiohttp webhook server and an aiosmtpd SMTP server."""
from __future__ import annotations

from email import message_from_bytes, policy

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller

from callcenter.netutil import free_port


class WebhookReceiver:
    """Records every POST by path; ``/wecom`` and ``/dingtalk`` answer as the robots do (errcode 0).

    ``fail_first`` answers that many requests with HTTP 503 first, to exercise retries.
    """

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[str, dict]] = []
        self.failures_left = fail_first
        app = web.Application()
        app.router.add_post("/{path}", self._post)
        self.server = TestServer(app, host="127.0.0.1")

    async def _post(self, request: web.Request) -> web.Response:
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=503, text="busy")
        self.received.append((request.match_info["path"], await request.json()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def url(self, path: str) -> str:
        return str(self.server.make_url(f"/{path}"))

    def bodies(self, path: str) -> list[dict]:
        return [body for p, body in self.received if p == path]

    async def __aenter__(self) -> "WebhookReceiver":
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.close()


class _Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):     # aiosmtpd's handler hook
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 (a thread of its own); ``messages``: (recipients, parsed message)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Inbox()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    def __enter__(self) -> "SmtpReceiver":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
