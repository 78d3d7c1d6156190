"""The simulator end to end with the real FastAGI citizen (callcenter.sim.agi_citizen).

Our AmiLink originates; the simulator answers and connects the citizen to a
tiny FastAGI IVR in this file, over real TCP.  Who hangs up decides the
Hangup shape the AMI side sees (transcripts 02 vs 04).
"""
from __future__ import annotations

import asyncio

import pytest

from callcenter.sim.citizens import HANG_UP, CitizenBook, CitizenScript
from callcenter.sim.simulator import SimConfig, Simulator
from callcenter.telephony.ami import AmiLink
from callcenter.telephony.ami_originate import CallStatus

from .test_ami_link import call, link_config


class StubIvr:
    """Greets, asks one question, hangs up; remembers the env block and the answer."""

    def __init__(self) -> None:
        self.envs: list[dict[str, str]] = []
        self.answers: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = {}
        while (line := (await reader.readline()).decode().rstrip("\n")):
            key, _, value = line.partition(": ")
            env[key] = value
        self.envs.append(env)
        try:
            for command in ("ANSWER", 'STREAM FILE ceo/prompt-greet ""', "GET DATA ceo/prompt-q1 6000 1"):
                writer.write(f"{command}\n".encode())
                reply = (await reader.readline()).decode().strip()
                if not reply.startswith("200 result=") or reply.startswith("200 result=-1"):
                    return                               # the citizen hung up
                if command.startswith("GET DATA"):
                    self.answers.append(reply.split("result=")[1].split()[0])
            writer.write(b"HANGUP\n")
            await reader.readline()
        finally:
            writer.close()


@pytest.fixture
async def setup():
    ivr = StubIvr()
    server = await asyncio.start_server(ivr.serve, "127.0.0.1", 0)
    agi_port = server.sockets[0].getsockname()[1]
    book = CitizenBook(by_number={
        "13800000001": CitizenScript.keys("1", ring_seconds=1),
        "13800000002": CitizenScript(replies=(HANG_UP,), hangup_after_prompts=0, ring_seconds=1),
    })
    sim = Simulator(SimConfig(ami_port=0, agi_url=f"agi://127.0.0.1:{agi_port}/callback", time_scale=0.001,
                              book=book))
    await sim.start()
    async with AmiLink(link_config(sim.port)) as link:
        await link.wait_ready(5)
        yield link, ivr
    await sim.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("number, answers, cause", [
    ("13800000001", ["1"], 0),        # the IVR hangs up: Asterisk reports cause 0 on both legs (transcript 02)
    ("13800000002", [], 16),          # the citizen hangs up during the greeting: cause 16 (transcript 04)
])
async def test_answered_call_runs_the_fastagi_conversation(setup, number, answers, cause):
    link, ivr = setup
    handle = call(link, number)
    outcome = await asyncio.wait_for(handle.outcome, 10)
    assert (outcome.status, outcome.reason, outcome.cause) == (CallStatus.ANSWERED, 4, cause)
    assert ivr.answers == answers
    env = ivr.envs[0]
    assert env["agi_uniqueid"] == handle.channel_id
    assert env["agi_network_script"] == "callback" and env["agi_context"] == "callback-ivr"
    assert env["agi_channel"].startswith(f"Local/{number}@citizen-sim-") and env["agi_channel"].endswith(";1")
