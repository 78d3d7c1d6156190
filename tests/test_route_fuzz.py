"""Every route of the web app, fuzzed: hostile path, query, form and JSON values, for each role and signed out.

Why it walks ``app.router`` instead of a list: a page added later is fuzzed
without anyone remembering to add it here.  The field names tried come from
the web package's own source (every ``query.get("x")`` / ``form.get("x")``),
so values reach the parsers instead of being ignored.

The budget is fixed (``EXAMPLES`` per route and identity, derandomized), so the
run takes the same time and finds the same things on every machine.  Every
500 and every ERROR logged is collected first and reported together, so one
run counts them all.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import callcenter.web
from callcenter.db import web_sessions as sessions_repo
from callcenter.hotline.service import HotlineService
from callcenter.telephony.ami import AmiNotReady
from callcenter.web.core.access import PUBLIC, roles_of
from callcenter.web.core.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, new_token

from .factories import insert_ticket
from .test_web_helpers import make_app, users  # noqa: F401

#: Random examples per (route, identity), after the sweep: about 3,500 requests in all.
EXAMPLES = int(os.environ.get("CALLCENTER_FUZZ_EXAMPLES", "6"))
IDENTITIES = (None, "agent", "supervisor", "admin")
#: ``x.get("name")`` / ``x["name"]`` in the handlers, ``name="field"`` in the templates' forms.
_FIELD = re.compile(r"""(?:\.get\(|\.getall\(|\[|\bname=)\s*["'](\w+)["']""")
NASTY = [
    "", " ", "\x00", "a\x00b", "²", "１２", "٣", "0", "-1", "1", "2", "2147483648", "9223372036854775808",
    "9" * 40, "1e309", "NaN", "inf", "0001-01-01", "9999-12-31", "0000-00-00", "10000-01-01",
    "0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00:00+00:00~1", "9999-12-31T23:59:59+00:00~1",
    "0001-01-01T00:00:00-14:00~1", "9999-12-31T23:59:59-14:00~9223372036854775807", "2024-05", "0000-13",
    "9999-12", "x" * 3000, "长" * 3000, "=cmd|' /C calc'!A0", "/%09/evil.com", "/\t/evil.com", "//evil.com",
    "\r\n", "<script>", "'; DROP TABLE tickets; --", "true", "null", "[]", "{}", "login", "sign", "call",
    "done", "cancelled", "start", "pause", "agent", "admin", "phone", "campaign", "high", "\ud800",
]
#: A request line the HTTP parser reads whole (its limit is 8,190 bytes).
MAX_QUERY = 5000
DEEP_JSON = "[" * 100_000 + "]" * 100_000


_CHOICE = re.compile(r"""value=["']([a-z_]{2,30})["']""")


def choice_words() -> list[str]:
    """The option and button values the templates offer (``action=call``, ``command=start``, …)."""
    words = set()
    for source in Path(callcenter.web.__file__).parent.rglob("*.html"):
        words.update(_CHOICE.findall(source.read_text(encoding="utf-8")))
    return sorted(words)


def field_names() -> list[str]:
    """Every form and query field name the web package reads (plus a few generic ones)."""
    names = {"action", "next", "after", "q", "csrf_token", "username", "password", "format", "command"}
    for source in Path(callcenter.web.__file__).parent.rglob("*"):
        if source.suffix in (".py", ".html"):
            names.update(_FIELD.findall(source.read_text(encoding="utf-8")))
    return sorted(names)


@dataclass
class Findings:
    """What the run saw: 500s and logged errors, with the request that caused each."""
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)     # per route, for keeping the budget honest


class _ErrorLog(logging.Handler):
    def __init__(self, findings: Findings) -> None:
        super().__init__(logging.ERROR)
        self.findings = findings
        self.current = ""

    def emit(self, record: logging.LogRecord) -> None:
        cause = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc, tb = record.exc_info[1], record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}" if tb else ""
            cause = f" [{type(exc).__name__}: {str(exc)[:100]} at {where}]"
        self.findings.logged.append(f"{self.current}: {record.name}: {record.getMessage()[:200]}{cause}")


class _AmiDown:
    """An AMI link whose Asterisk is down: every action refuses, as the real link does then."""
    ready = False

    async def send_action(self, action):
        raise AmiNotReady("AMI link is not connected")

    def originate(self, **kwargs):
        raise AmiNotReady("AMI link is not connected")


def values(known: list[str]) -> st.SearchStrategy[str]:
    """Hostile values, real ids and the words forms really send (so handlers get past their first check)."""
    return st.one_of(st.sampled_from(NASTY), st.sampled_from(known), st.text(max_size=12), st.integers().map(str))


#: Swept into every field at once, one request each, before the random examples: the classes that broke before.
SWEEP = ["\x00", "²", "2147483648", "9" * 40, "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+00:00~1",
         "9999-12-31T23:59:59-14:00~1", "x" * 3000]


def handler_fields(handler) -> list[str]:
    """The field names the handler's own module reads: drawn most often, so its parsers get exercised."""
    source = Path(inspect.getsourcefile(handler))
    return sorted(set(_FIELD.findall(source.read_text(encoding="utf-8")))) or ["action"]


@st.composite
def request_parts(draw, path_params: list[str], known_ids: list[str], names: list[str], own: list[str],
                  unsafe: bool):
    key = st.one_of(st.sampled_from(own), st.sampled_from(names))
    path = {p: draw(st.one_of(st.sampled_from(known_ids), values(known_ids))) for p in path_params}
    query = draw(st.dictionaries(key, values(known_ids), max_size=12))
    body_kind = draw(st.sampled_from(["form", "json", "deep", "none"]) if unsafe else st.just("none"))
    body = draw(st.dictionaries(key, values(known_ids), max_size=20)) if unsafe else {}
    return path, query, body_kind, body


def sweep_parts(path_params: list[str], names: list[str], unsafe: bool, known_ids: list[str]):
    """One request per :data:`SWEEP` value, that value in every path, query and form field; then, for a
    form, each word the templates send (``action=call``) with real ids in the path, so actions run."""
    for word in choice_words() if unsafe else ():
        yield {p: known_ids[0] for p in path_params}, {}, "form", {n: word for n in names}
    for value in SWEEP:
        every = {n: value for n in names}
        query = every if len(value) < 100 else {}
        yield {p: value for p in path_params}, query, "form" if unsafe else "none", every if unsafe else {}


def fill(pattern: str, path: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        value = path[match.group(1)] or "x"
        return quote(value.encode("utf-8", "surrogatepass"), safe="")
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", one, pattern)


def fuzz_in_thread(loop, send, parts: st.SearchStrategy):
    """A fixed, derandomized budget of examples; each request runs on the test's event loop."""
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
               suppress_health_check=list(HealthCheck))
    @given(parts)
    def case(drawn):
        asyncio.run_coroutine_threadsafe(send(drawn), loop).result(timeout=60)
    return case


async def _seed(db, users) -> list[str]:  # noqa: F811
    """A few real rows so path ids sometimes hit something (and ownership code runs)."""
    async with db.pool.acquire() as conn:
        ticket = await insert_ticket(conn, title="=HYPERLINK(\"http://evil\")")
        task = await conn.fetchval("INSERT INTO callback_tasks (caller_phone, reason, assigned_to) "
                                   "VALUES ('13800000009', 'callback_requested', $1) RETURNING id", users["admin"])
    return [str(task)] + sorted({str(ticket), "1", "2"} - {str(task)})     # the task first: the sweep acts on it


async def _session(db, user_id: int) -> tuple[str, str]:
    token, csrf = new_token(), new_token()
    async with db.pool.acquire() as conn:
        await sessions_repo.create_session(conn, token, user_id, csrf, lifetime=timedelta(hours=1))
    return token, csrf


#: The routes are fuzzed in this many shards, so a parallel run (pytest -n) spreads them over its workers.
SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_no_route_answers_500_or_logs_a_traceback(db, settings, users, shard):  # noqa: F811
    hotline = HotlineService()
    hotline.ami = _AmiDown()
    app = make_app(db, settings, hotline=hotline)
    findings = Findings()
    handler = _ErrorLog(findings)
    root = logging.getLogger()
    root.addHandler(handler)
    names = field_names()
    known_ids = await _seed(db, users) + choice_words()
    loop = asyncio.get_running_loop()
    client = TestClient(TestServer(app), cookie_jar=DummyCookieJar())
    await client.start_server()
    try:
        login_page = await client.get("/login")
        login_csrf = login_page.cookies[LOGIN_CSRF_COOKIE].value
        every_route = [r for r in app.router.routes() if r.method != "HEAD" and roles_of(r.handler) is not None]
        assert len(every_route) >= 50       # the whole app, not a sample
        routes = every_route[shard::SHARDS]
        for route in routes:
            info = route.resource.get_info()
            pattern = info.get("formatter") or info.get("path")
            params = re.findall(r"\{(\w+)", pattern)
            unsafe = route.method not in ("GET", "HEAD")
            started = loop.time()
            for identity in IDENTITIES:
                if identity is not None and roles_of(route.handler) != PUBLIC \
                        and identity not in roles_of(route.handler):
                    continue      # refused by role before any parsing: the role tests cover that
                session = await _session(db, users[identity]) if identity else None

                async def send(parts, route=route, pattern=pattern, identity=identity, session=session):
                    path, query, body_kind, body = parts
                    url = fill(pattern, path)
                    cookies = {LOGIN_CSRF_COOKIE: login_csrf}
                    headers = {}
                    if session:
                        cookies[SESSION_COOKIE] = session[0]
                        headers["X-CSRF-Token"] = session[1]
                    else:
                        body = {**body, "csrf_token": login_csrf}
                    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
                    kwargs = {}
                    if body_kind == "form":
                        kwargs["data"] = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                                          for k, v in body.items()}
                    elif body_kind == "json":
                        kwargs["data"] = json.dumps(body, ensure_ascii=True)
                        headers["Content-Type"] = "application/json"
                    elif body_kind == "deep":
                        kwargs["data"] = DEEP_JSON
                        headers["Content-Type"] = "application/json"
                    q = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in query.items()}
                    while len(urlencode(q)) > MAX_QUERY:       # beyond this the HTTP parser refuses the line
                        q.pop(next(iter(q)))
                    label = f"{identity or 'anonymous'} {route.method} {url[:80]}"
                    handler.current = label
                    findings.requests += 1
                    try:
                        async with client.request(route.method, url, params=q, headers=headers,
                                                  allow_redirects=False, **kwargs) as response:
                            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                                await response.read()
                            status = response.status
                    except Exception as exc:        # the server sent something no client can read
                        findings.server_errors.append(f"{label} -> unreadable answer: {str(exc)[:120]}")
                        findings.routes.add(f"{route.method} {pattern}")
                        status = 0
                    if status >= 500 and status != 503:
                        findings.server_errors.append(f"{label} -> {status}")
                        findings.routes.add(f"{route.method} {pattern}")
                    if route.name == "logout" and session:   # signed out by the fuzz itself: sign in again
                        async with db.pool.acquire() as conn:
                            await conn.execute("DELETE FROM web_sessions WHERE id = $1",
                                               sessions_repo.token_digest(session[0]))
                            await sessions_repo.create_session(conn, session[0], users[identity], session[1],
                                                               lifetime=timedelta(hours=1))

                for swept in sweep_parts(params, names, unsafe, known_ids):
                    await send(swept)
                parts = request_parts(params, known_ids, names, handler_fields(route.handler), unsafe)
                await asyncio.to_thread(fuzz_in_thread(loop, send, parts))
            findings.seconds[f"{route.method} {pattern}"] = loop.time() - started
        await asyncio.sleep(0.2)     # let a closed stream's handler finish (and log, if it would)
    finally:
        root.removeHandler(handler)
        await client.close()
    print(f"\nroute fuzz: {findings.requests} requests, {len(findings.server_errors)} answered 500, "
          f"{len(findings.logged)} errors logged, routes with a 500: {sorted(findings.routes)}; slowest routes: "
          + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(findings.seconds.items(), key=lambda kv: -kv[1])[:5]))
    assert findings.requests >= len(routes) * (EXAMPLES + len(SWEEP))
    if os.environ.get("CALLCENTER_FUZZ_REPORT"):
        Path(os.environ["CALLCENTER_FUZZ_REPORT"]).write_text(
            "\n".join(findings.server_errors + ["--- logged"] + findings.logged), encoding="utf-8")
    assert not findings.server_errors, "\n".join(findings.server_errors[:40])
    assert not findings.logged, "\n".join(findings.logged[:40])
