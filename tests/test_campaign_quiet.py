"""An operator is told why a campaign dials nothing (paused, no ticket matches, outside its windows) or that
it is done — by ``campaign start`` / ``status`` and on the web page — and ``trunk add`` on an existing trunk
changes only what it is given."""
from __future__ import annotations

from datetime import datetime, timedelta

from callcenter.campaigns.quiet import quiet
from callcenter.campaigns.windows import CallingWindows
from callcenter.db import campaigns
from callcenter.ledger.timezone import OFFICE_TZ
from tests.factories import insert_ticket
from tests.test_campaign_cli import cli, conn  # noqa: F401  (conn: a fixture)
from tests.test_web_helpers import client, sign_in, users  # noqa: F401


def shut_window() -> tuple[str, str]:
    """A half-hour window six hours from now (closed now), and when it next opens, as the CLI prints it."""
    later = datetime.now(OFFICE_TZ) + timedelta(hours=6)
    opens = later.replace(minute=0, second=0, microsecond=0)
    return f"{opens:%H}:00-{opens:%H}:30", f"{opens:%Y-%m-%d %H:%M}"


async def test_trunk_add_on_an_existing_trunk_changes_only_the_options_given(conn, capsys):
    assert await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@a", "--channels", "8", "--cps", "5",
                     "--caller-id", "<01082345678>") == 0
    assert await cli("trunk", "add", "main", "--channels", "2") == 0
    row = await conn.fetchrow("SELECT dial_template, max_channels, max_cps, caller_id FROM trunks")
    assert dict(row) == {"dial_template": "PJSIP/{number}@a", "max_channels": 2, "max_cps": 5.0,
                         "caller_id": "<01082345678>"}
    assert "PJSIP/{number}@a, 2 channels, 5 setups/s, caller ID <01082345678>" in capsys.readouterr().out
    assert await cli("trunk", "add", "fresh", "--channels", "2") == 2           # a new trunk needs --dial
    assert "give --dial" in capsys.readouterr().err
    assert await conn.fetchval("SELECT count(*) FROM trunks") == 1
    assert await cli("trunk", "add", "fresh", "--dial", "PJSIP/{number}@b") == 0
    assert (await conn.fetchrow("SELECT max_channels, max_cps FROM trunks WHERE name = 'fresh'")) == (10, 2.0)


async def test_start_and_status_say_when_no_ticket_matches(conn, capsys):
    await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001", category_l1="物业管理")
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    for name, category in (("供暖回访", "供暖"), ("物业回访", "物业管理")):
        await cli("campaign", "create", name, "--trunk", "main", "--category", category, "--window", "00:00-23:59")
    capsys.readouterr()
    assert await cli("campaign", "start", "供暖回访") == 0
    out = capsys.readouterr().out
    assert "running" in out and "no ticket waiting at 待回访 matches this campaign's filters" in out, out
    assert await cli("campaign", "status", "供暖回访") == 0
    assert "note: no ticket waiting at 待回访 matches" in capsys.readouterr().out
    assert await cli("campaign", "start", "物业回访") == 0
    out = capsys.readouterr().out
    assert "1 ticket(s) waiting at 待回访 match" in out and "no ticket" not in out, out
    assert await cli("campaign", "pause", "物业回访") == 0
    assert "paused: no new calls until: callcenter campaign resume 物业回访" in capsys.readouterr().out


async def test_start_outside_the_calling_windows_says_when_the_first_call_goes_out(conn, capsys):
    window, opens = shut_window()
    await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001")
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    await cli("campaign", "create", "夜间", "--trunk", "main", "--window", window)
    capsys.readouterr()
    assert await cli("campaign", "start", "夜间") == 0
    out = capsys.readouterr().out
    assert f"outside its calling windows now ({window} Asia/Shanghai" in out and opens in out, out
    assert await cli("campaign", "status", "夜间") == 0
    assert f"the first call goes out at {opens}" in capsys.readouterr().out


async def test_status_says_done_when_every_callback_is_over(conn, capsys):
    ticket = await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001")
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    await cli("campaign", "create", "c", "--trunk", "main", "--window", "00:00-23:59")
    await cli("campaign", "start", "c")
    campaign_id = await conn.fetchval("SELECT id FROM campaigns")
    await conn.execute(
        """INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, round_attempt, phone, script,
                                          due_at, trunk_id, state, outcome, settled, dialed_at, ended_at)
           SELECT gen_random_uuid(), $1, c.id, 1, 1, '13800000001', c.script, now(), c.trunk_id, 'finished',
                  'answered-complete', true, now(), now() FROM campaigns c WHERE c.id = $2""", ticket, campaign_id)
    await conn.execute("UPDATE tickets SET status = 'called_back' WHERE id = $1", ticket)
    capsys.readouterr()
    assert await cli("campaign", "status", "c") == 0
    assert "note: done: every ticket's callback is over" in capsys.readouterr().out


def test_quiet_reads_the_counters():
    always, now = CallingWindows.parse(["00:00-23:59"]), datetime(2026, 12, 7, 12, tzinfo=OFFICE_TZ)
    morning = CallingWindows.parse(["09:00-10:00"])
    assert quiet("running", False, always, {"tickets": 0}, 0, now).nothing_matches
    assert not quiet("running", False, always, {"tickets": 0}, 3, now).nothing_matches
    assert quiet("running", False, morning, {"tickets": 2, "open_tickets": 2}, 0, now).next_call_at == \
        datetime(2026, 12, 8, 9, tzinfo=OFFICE_TZ)
    assert quiet("paused", False, morning, {"tickets": 2, "open_tickets": 2}, 0, now).next_call_at is None
    assert quiet("running", False, always, {"tickets": 2, "open_tickets": 0}, 0, now).done
    assert not quiet("running", True, always, {"tickets": 2, "open_tickets": 0}, 0, now).done     # standing
    assert not quiet("running", False, always, {"tickets": 2, "open_tickets": 1}, 0, now).done
    assert quiet("finished", False, always, {}, 0, now) == quiet("finished", True, morning, {"tickets": 1}, 5, now)
    busy = {"tickets": 2, "open_tickets": 1}
    assert quiet("running", False, always, busy, 0, now, heartbeat=None).no_dialer_ever
    assert quiet("running", False, always, busy, 0, now, heartbeat=now - timedelta(minutes=1)).no_dialer_since
    assert not quiet("running", False, always, busy, 0, now, heartbeat=now - timedelta(seconds=5)).no_dialer_since
    assert not quiet("running", False, always, {"tickets": 2, "open_tickets": 0}, 0, now, heartbeat=None).no_dialer_ever


async def test_the_web_page_says_why_a_running_campaign_dials_nothing(client, db):
    window, opens = shut_window()
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001", category_l1="物业管理")
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        ids = {}
        for name, category, windows in (("夜间", None, (window,)), ("供暖", "供暖", ("00:00-23:59",)),
                                        ("物业", "物业管理", ("00:00-23:59",))):
            ids[name] = await campaigns.create_campaign(conn, campaigns.CampaignSpec(
                name=name, trunk="main", category_l1=category, windows=windows))
            await campaigns.change_state(conn, ids[name], "start", actor="test")
    await sign_in(client, "supervisor")
    night = await (await client.get(f"/campaigns/{ids['夜间']}")).text()
    assert 'id="window-closed"' in night and f"下一次拨打时间 {opens}" in night and window in night
    assert 'id="no-eligible"' not in night
    heating = await (await client.get(f"/campaigns/{ids['供暖']}")).text()
    assert 'id="no-eligible"' in heating and "没有符合条件的待回访工单" in heating
    assert 'id="window-closed"' not in heating              # nothing to call: the window is beside the point
    fine = await (await client.get(f"/campaigns/{ids['物业']}")).text()
    assert 'id="no-eligible"' not in fine and 'id="window-closed"' not in fine


async def test_a_call_held_by_the_daily_cap_is_named_on_status_and_the_page(conn, db, client, capsys):
    ticket = await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001")
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    await cli("campaign", "create", "c", "--trunk", "main", "--window", "00:00-23:59", "--daily-cap", "1")
    await cli("campaign", "start", "c")
    campaign_id = await conn.fetchval("SELECT id FROM campaigns")
    for no, (state, dialed) in enumerate((("finished", "now()"), ("pending", "NULL")), start=1):
        await conn.execute(
            f"""INSERT INTO callback_attempts (id, ticket_id, campaign_id, attempt_no, round_attempt, phone, script,
                                               due_at, trunk_id, state, outcome, settled, dialed_at)
                SELECT gen_random_uuid(), $1, c.id, {no}, {no}, '13800000001', c.script, now(), c.trunk_id, $3,
                       CASE WHEN $3 = 'finished' THEN 'busy' END, $3 = 'finished', {dialed}
                  FROM campaigns c WHERE c.id = $2""", ticket, campaign_id, state)
    capsys.readouterr()
    assert await cli("campaign", "status", "c") == 0
    out = capsys.readouterr().out
    assert "note: 1 call(s) wait for tomorrow: their number was called 1 time(s) today" in out, out
    await sign_in(client, "supervisor")
    page = await (await client.get(f"/campaigns/{campaign_id}")).text()
    assert 'id="capped"' in page and "1 个电话今天已达每号每天 1 次的上限" in page


async def test_a_standing_campaign_with_nothing_waiting_starts_without_the_empty_warning(client, db):
    """Nothing at 待回访 is normal for a standing campaign (tickets join as they pass 结案审核): the page says
    so, and 开始 needs no 仍然开始 — while a filtered campaign with nothing to call still does."""
    async with db.pool.acquire() as conn:
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        standing = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="日常", trunk="main",
                                                                                standing=True))
        filtered = await campaigns.create_campaign(conn, campaigns.CampaignSpec(name="供暖", trunk="main",
                                                                                category_l1="供暖"))
    token = await sign_in(client, "supervisor")
    page = await (await client.get(f"/campaigns/{standing}")).text()
    assert "新工单通过结案审核即自动加入" in page and 'id="no-eligible"' not in page
    assert 'name="confirm_empty"' not in page
    for campaign_id, state in ((standing, "running"), (filtered, "draft")):
        await client.post(f"/campaigns/{campaign_id}/state", data={"command": "start", "csrf_token": token})
        async with db.pool.acquire() as conn:
            assert await conn.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == state


async def test_a_campaign_stopped_or_paused_just_before_the_dialers_enrolment_takes_in_no_ticket(db):
    """The dialer enrols the campaigns it loaded as running a moment before; one stopped or paused in that
    moment must take in nothing (a stopped one showed tickets it never called; a paused one held them
    from the campaign running beside it)."""
    from callcenter.db import dialer
    async with db.pool.acquire() as conn:
        await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001")
        await campaigns.upsert_trunk(conn, "main", "PJSIP/{number}@trunk", 4, 1.0)
        ids = [await campaigns.create_campaign(conn, campaigns.CampaignSpec(name=n, trunk="main"))
               for n in ("停", "停2", "开")]
        for campaign_id, last in zip(ids, ("stop", "pause", None)):
            await campaigns.change_state(conn, campaign_id, "start", actor="test")
            if last:
                await campaigns.change_state(conn, campaign_id, last, actor="test")
            await dialer.enrol(conn, campaign_id, due_at=datetime.now(OFFICE_TZ))
        taken = await conn.fetch("SELECT campaign_id, state FROM callback_attempts")
    assert [(r["campaign_id"], r["state"]) for r in taken] == [(ids[2], "pending")]


async def test_status_says_when_no_dialer_is_running(conn, capsys):
    """The CLI works on the database alone: a campaign started with no `serve` running dials nothing, and says so."""
    await insert_ticket(conn, "Q1", status="awaiting_callback", phone="13800000001")
    await cli("trunk", "add", "main", "--dial", "PJSIP/{number}@trunk")
    await cli("campaign", "create", "c", "--trunk", "main", "--window", "00:00-23:59")
    capsys.readouterr()
    await cli("campaign", "start", "c")
    assert "no dialer is running: nothing is dialled until `callcenter serve` runs" in capsys.readouterr().out
    await conn.execute("INSERT INTO service_instances (name, last_seen) VALUES ('a', now() - interval '5 minutes')")
    await cli("campaign", "status", "c")
    out = capsys.readouterr().out
    assert "no dialer is running" in out and "(the last one checked in at " in out, out
    await conn.execute("UPDATE service_instances SET last_seen = now()")
    await cli("campaign", "status", "c")
    assert "no dialer" not in capsys.readouterr().out
