"""Hypothesis fuzz of the FastAGI input path: whatever the peer sends, the server survives and loses no answer.

Each example is one TCP connection to one long-lived server, from a peer that
mixes correct Asterisk replies with truncated lines, huge lines and
environments, bytes that are not UTF-8, unexpected result lines, usage
errors, hang-ups and early closes.  After every example: no exception
escaped the server, and exactly the answers the peer gave are stored.  After
all of them, an ordinary call still works.
"""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from callcenter.db import callbacks
from callcenter.ivr.loader import ScriptLibrary
from callcenter.ivr.session import CallbackIvr
from callcenter.sim.agi_citizen import default_env, run_agi_session
from callcenter.sim.citizens import CitizenScript
from callcenter.telephony.agi import AgiServer
from callcenter.telephony.agi_protocol import MAX_ENV_BYTES, format_env, split_command
from tests.factories import insert_ticket

TRIED = {"wire": 0, "env": 0}

# -- what the peer may do instead of answering correctly -------------------------------------
garbage_text = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=80)
disruptions = st.one_of(
    st.just(("line", b"HANGUP\n")),
    st.just(("line", b"200 result=-1\n")),
    st.just(("line", b"200 result=-1\nHANGUP\n")),
    st.just(("line", b"200 result=-1 (hangup) endpos=1234\n")),
    st.just(("line", b"510 Invalid or unknown command\n")),
    st.just(("line", b"511 Command Not Permitted on a dead channel or intercept routine\n")),
    st.just(("line", b"520-Invalid command syntax.  Proper usage follows:\nUsage: GET DATA\n520 End of proper usage.\n")),
    st.just(("line", b"520-Invalid command syntax.  Proper usage follows:\n")),
    st.just(("line", b"100 result=0 Trying...\n")),          # then the correct reply follows
    st.just(("line", b"200 result=99999999999999999999999 endpos=-5\n")),
    st.just(("line", b"200 result=1 (unterminated\n")),
    st.just(("line", b"200 result=\xff\xfe (\xc3\x28)\n")),
    st.just(("line", b"200\n")),
    st.just(("line", b"\n")),
    st.just(("line", b"x" * 70_000 + b"\n")),
    st.binary(max_size=60).filter(lambda b: b"\n" not in b).map(lambda b: ("line", b + b"\n")),
    garbage_text.map(lambda t: ("line", t.encode("utf-8") + b"\n")),
    st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b).map(lambda b: ("close-mid", b)),
    st.just(("close", b"")),
)
steps = st.lists(st.one_of(st.just(("ok", b"")), st.just(("ok", b"")), disruptions), max_size=30)


@dataclass
class Peer:
    """Plays Asterisk: correct replies (GET DATA always answered "1"), except where a step says otherwise."""
    variables: dict[str, str]
    steps: list
    answered: int = 0                          # GET DATA commands answered "200 result=1"
    log: list[bytes] = field(default_factory=list)

    def correct(self, command: str) -> bytes:
        words = split_command(command)
        head = " ".join(words[:2])
        if head == "GET VARIABLE":
            value = self.variables.get(words[2]) if len(words) > 2 else None
            return f"200 result=1 ({value})\n".encode() if value else b"200 result=0\n"
        if head == "GET DATA":
            self.answered += 1
            return b"200 result=1\n"
        if head == "STREAM FILE":
            return b"200 result=0 endpos=8000\n"
        if head == "RECORD FILE":
            return b"200 result=0 (timeout) endpos=8000\n"
        if words[:1] in (["HANGUP"], ["SET"], ["VERBOSE"]):
            return b"200 result=1\n"
        return b"200 result=0\n"

    async def run(self, port: int, env: bytes, *, then_close: bool = False) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            writer.write(env)
            await writer.drain()
            if then_close:                     # say nothing more; read until the server closes
                writer.write_eof()
                while await asyncio.wait_for(reader.readline(), 30):
                    pass
                return
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    return
                command = line.decode("utf-8", errors="replace").rstrip("\n")
                kind, data = self.steps.pop(0) if self.steps else ("ok", b"")
                if kind == "close":
                    return
                if kind == "close-mid":
                    writer.write(data)
                    await writer.drain()
                    return
                if kind == "line":
                    writer.write(data)
                    if data == b"100 result=0 Trying...\n":
                        writer.write(self.correct(command))
                else:
                    writer.write(self.correct(command))
                await writer.drain()
                if command == "HANGUP":
                    return
        except asyncio.TimeoutError:
            raise AssertionError("the server stalled: no command and no close for 30 s") from None
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()


@pytest.fixture
async def rig(db, tmp_path):
    ivr = CallbackIvr(db.pool, ScriptLibrary.from_directory(), recordings_dir=tmp_path / "rec")
    async with db.pool.acquire() as conn:
        ticket_id = await insert_ticket(conn, "T1", status="awaiting_callback")
    async with AgiServer(ivr, port=0, hangup_grace_s=0.05, env_timeout_s=5) as server:
        yield db, server, ticket_id
        # The server survived everything: an ordinary call still works end to end.
        async with db.pool.acquire() as conn:
            channel = uuid.uuid4()
            attempt = await callbacks.create_attempt(conn, ticket_id, phone="last", channel_id=channel)
        url = f"agi://127.0.0.1:{server.port}/callback"
        await run_agi_session(url, default_env(str(channel), agi_url=url), CitizenScript.keys("1", "2", "1"),
                              {"ATTEMPT_ID": str(attempt)}, time_scale=0)
        await server.drained(30)
        async with db.pool.acquire() as conn:
            assert len(await callbacks.answers(conn, attempt)) == 3
        assert server.stats["errors"] == 0
        print(f"\nAGI fuzz cases tried so far: wire={TRIED['wire']} environment={TRIED['env']} "
              f"(server saw {server.stats['connections']} connections)")


async def new_attempt(db, ticket_id):
    async with db.pool.acquire() as conn:
        return await callbacks.create_attempt(conn, ticket_id, phone=uuid.uuid4().hex)


async def stored(db, attempt) -> list:
    async with db.pool.acquire() as conn:
        return await callbacks.answers(conn, attempt)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
async def test_wire_fuzz_never_crashes_and_keeps_every_answer(rig, plan):
    db, server, ticket_id = rig
    TRIED["wire"] += 1
    attempt = await new_attempt(db, ticket_id)
    peer = Peer({"ATTEMPT_ID": str(attempt), "TICKET_ID": str(ticket_id)}, list(plan))
    await peer.run(server.port, format_env(default_env("fuzz-channel")))
    assert await server.drained(30)
    rows = await stored(db, attempt)
    # Every "1" the peer gave to a GET DATA is stored (a yes/solved/satisfied), and nothing else is.
    assert len(rows) == peer.answered
    assert all(r["digits"] == "1" and r["version"] == 1 for r in rows)
    assert server.stats["errors"] == 0


env_key = st.from_regex(r"agi_[a-z_]{1,12}", fullmatch=True)
envs = st.one_of(
    st.dictionaries(env_key, garbage_text, max_size=30).map(lambda d: format_env(d)),
    st.binary(max_size=300),                                             # anything at all, then close
    st.binary(max_size=200).map(lambda b: b + b"\n\n"),                  # garbage, but terminated
    st.integers(1, 3).map(lambda n: b"agi_x: " + b"y" * (MAX_ENV_BYTES * n) + b"\n\n"),  # huge
    st.integers(0, 400).map(lambda cut: format_env(default_env("c"))[:cut]),              # truncated
    st.binary(min_size=1, max_size=40).map(
        lambda b: format_env(default_env("c")).replace(b"Xisanqi", b + b"\xff\xfe")),   # bad encodings
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env=envs)
async def test_environment_fuzz_never_crashes(rig, env):
    db, server, ticket_id = rig
    TRIED["env"] += 1
    peer = Peer({}, [])
    await peer.run(server.port, env, then_close=True)
    assert await server.drained(30)
    assert server.stats["errors"] == 0
