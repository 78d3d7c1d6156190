"""The simulator's desk call agrees with the real Asterisk 22 on what the service sees when it goes wrong:
the agent's phone busy or not picked up (the Originate fails, nobody else is called) and the citizen not
reached after the agent answered (the DialStatus) — the table in tests/desk_call_outcomes.py, which
tests/test_real_pbx_desk_scenarios.py checks against the real PBX."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from callcenter.sim.citizens import CitizenBook, CitizenScript
from callcenter.telephony.ami import AmiLink
from callcenter.telephony.pbx import AmiPbx
from tests import campaign_harness as h

from .desk_call_outcomes import AGENTS, CITIZENS
from .test_ami_link import link_config
from .test_desk_dial import _claimed_item, _setup
from .test_web_helpers import make_app, open_client, sign_in, users  # noqa: F401


class Dialer:
    def __init__(self, pbx):
        self.pbx = pbx


async def _dial_on_the_simulator(db, settings, tmp_path, phone: str, book: dict) -> tuple[dict, list]:
    """Dial the desk item of ``phone`` with the simulator as the PBX; the item's row once the call is over."""
    sim = h.simulator(h.free_port(), book=CitizenBook(by_number=book, seed=1), time_scale=0.05)
    port = await sim.start()
    await _setup(db, phone=phone)
    settings = replace(settings, recordings_dir=tmp_path / "rec", agent_interface="Local/{username}@agents")
    link = AmiLink(link_config(port))
    client = None
    try:
        await link.start()
        await link.wait_ready(5)
        client = await open_client(make_app(db, settings, dialer=Dialer(AmiPbx(link))))
        token = await sign_in(client, "agent")
        item_id = await _claimed_item(client, token)
        page = await (await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})).text()
        assert "正在呼叫" in page
        for _ in range(200):
            async with db.pool.acquire() as conn:
                row = await conn.fetchrow("SELECT * FROM desk_items WHERE id = $1", item_id)
            if not row["call_live"]:
                return dict(row), list(sim.engine.desk_bridges)
            await asyncio.sleep(0.02)
        raise AssertionError("the simulated desk call did not end")
    finally:
        if client is not None:
            await client.close()
        await link.close()
        await sim.close()


@pytest.mark.parametrize("phone", sorted(CITIZENS))
async def test_a_citizen_not_reached_ends_as_on_the_real_pbx(db, settings, users, tmp_path, phone):  # noqa: F811
    script, status = CITIZENS[phone]
    row, bridges = await _dial_on_the_simulator(db, settings, tmp_path, phone, {phone: script})
    assert row["call_status"] == status and row["call_started_at"] is not None and bridges == []


@pytest.mark.parametrize("how", sorted(AGENTS))
async def test_an_agent_phone_not_picked_up_calls_nobody_as_on_the_real_pbx(db, settings, users, tmp_path,  # noqa: F811
                                                                           how):
    pickup, status = AGENTS[how]
    row, bridges = await _dial_on_the_simulator(db, settings, tmp_path, "13900000100",
                                                {"agent": CitizenScript(pickup=pickup)})
    assert row["call_status"] == status and row["call_started_at"] is None and bridges == []


async def test_a_bridged_call_ends_answered(db, settings, users, tmp_path):  # noqa: F811
    row, bridges = await _dial_on_the_simulator(db, settings, tmp_path, "13900000100",
                                                {"13900000100": CitizenScript(ring_seconds=0.2)})
    assert row["call_status"] == "ANSWER" and len(bridges) == 1
