"""人工回访's 拨打 on the real Asterisk 22: the shipped [desk-callback] rings the agent (Local/<username>@agents,
CALLCENTER_AGENT_INTERFACE) first, then the citizen through the trunk (Local/<number>@citizens), and
MixMonitor writes the recording at the absolute path the service chose, outside Asterisk's spool."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.telephony.ami import AmiLink
from callcenter.telephony.pbx import AmiPbx

from .test_ami_link import link_config
from .test_desk_dial import _setup
from .test_web_helpers import make_app, open_client, sign_in, users  # noqa: F401  (fixture)

pytestmark = pytest.mark.real_asterisk


class Dialer:
    def __init__(self, pbx):
        self.pbx = pbx


async def test_dial_rings_the_agent_then_bridges_the_citizen_and_records(db, settings, users, real_asterisk,
                                                                          tmp_path):  # noqa: F811
    recordings = tmp_path / "recordings"
    settings = replace(settings, recordings_dir=recordings, agent_interface="Local/{username}@agents")
    await _setup(db, phone="13900000100")
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE trunks SET dial_template = 'Local/{number}@citizens'")
    link = AmiLink(link_config(real_asterisk.ami_port, ping_interval=1.0))
    await link.start()
    await link.wait_ready(10)
    client = await open_client(make_app(db, settings, dialer=Dialer(AmiPbx(link))))
    try:
        token = await sign_in(client, "agent")
        await client.post("/desk/claim", data={"csrf_token": token})
        page = await (await client.get("/desk")).text()
        item_id = int(page.split('data-item="')[1].split('"')[0])
        answer = await client.post(f"/desk/{item_id}/dial", data={"csrf_token": token})
        assert "正在呼叫" in await answer.text()
        for _ in range(300):                       # bounded: the agent's leg hangs up after ~2 s
            async with db.pool.acquire() as conn:
                row = await conn.fetchrow("SELECT call_live, call_recording FROM desk_items WHERE id = $1", item_id)
            if not row["call_live"]:
                break
            await asyncio.sleep(0.1)
        assert not row["call_live"], real_asterisk.log_tail()
        recording = Path(row["call_recording"])
        assert recording.is_absolute() and recording.is_relative_to(recordings.resolve())
        for _ in range(50):                        # MixMonitor closes the file as the bridge ends
            if recording.exists() and recording.stat().st_size > 44:
                break
            await asyncio.sleep(0.1)
        assert recording.exists() and recording.stat().st_size > 44, real_asterisk.log_tail()
        log = real_asterisk.messages()
        assert "desk call ticket" in log and "Local/13900000100@citizens" in log
    finally:
        await client.close()
        await link.close()
