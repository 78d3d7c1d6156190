"""The recordings-disk alarm: measured where Asterisk writes, loud below the configured minimum."""
from __future__ import annotations

import shutil
from dataclasses import replace

from callcenter.recording_space import MIB, recording_space

from .test_web_helpers import make_app, open_client, sign_in, users  # noqa: F401  (users: a fixture)


def test_plenty_of_space_is_ok(settings, tmp_path):
    space = recording_space(replace(settings, recordings_dir=tmp_path / "rec", recordings_min_free_mb=1))
    assert space.ok and space.alarm is None
    assert space.health()["status"] == "ok" and space.free_bytes > MIB


def test_below_the_minimum_raises_the_alarm(settings, tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free // MIB
    space = recording_space(replace(settings, recordings_dir=tmp_path, recordings_min_free_mb=free_mb + 10_000))
    assert not space.ok
    assert "录音磁盘空间不足" in space.alarm and "按键应答仍会保存" in space.alarm
    assert space.health()["status"] == "alarm"


async def test_healthz_and_dashboard_raise_the_disk_alarm(db, settings, users, tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free // MIB
    full = replace(settings, recordings_dir=tmp_path, recordings_min_free_mb=free_mb + 10_000)
    client = await open_client(make_app(db, full))
    try:
        assert "recordings" not in await (await client.get("/healthz")).json()     # not for the public
        await sign_in(client, "admin")
        health = await (await client.get("/healthz")).json()
        assert health["recordings"]["status"] == "alarm" and health["database"] == "ok"
        page = await (await client.get("/")).text()
        assert 'id="disk-alarm-banner"' in page and "录音磁盘空间不足" in page
    finally:
        await client.close()
    client = await open_client(make_app(db, replace(settings, recordings_dir=tmp_path, recordings_min_free_mb=1)))
    try:
        await sign_in(client, "admin")
        assert (await (await client.get("/healthz")).json())["recordings"]["status"] == "ok"
        assert 'id="disk-alarm-banner"' not in await (await client.get("/")).text()
    finally:
        await client.close()
