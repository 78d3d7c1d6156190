"""Appeals in the database: every state, the candidate list, evidence, and 剔除后 through the scoring engine."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

import asyncpg
import pytest

from callcenter.db import appeals as repo
from callcenter.db import scoring as scoring_repo
from callcenter.ledger import appeals as ap
from callcenter.scoring.rates import Counts, rates, tally_one

from . import scoring_factories as f

NO_EVIDENCE = "书面说明: 点位归属以区划图为准, 无需另附证据"
BJ = timezone(timedelta(hours=8))
MONTH_START = datetime(2024, 4, 19, tzinfo=BJ)
MONTH_END = datetime(2024, 5, 19, tzinfo=BJ)
LATER = datetime(2024, 6, 30, tzinfo=BJ)


async def states_of(conn, appeal_id):
    return [(r["action"], r["from_state"], r["to_state"]) for r in await repo.appeal_history(conn, appeal_id)]


async def test_an_appeal_goes_through_every_state_with_its_history(db):
    async with db.pool.acquire() as conn:
        t = await f.ticket(conn, called_at=datetime(2024, 5, 1, 9, tzinfo=BJ),
                           closed_at=datetime(2024, 5, 3, 9, tzinfo=BJ))
        appeal_id = await repo.create_appeal(conn, t, actor="sup")
        row = await repo.get_appeal(conn, appeal_id)
        assert row["state"] == "draft"
        assert row["due_at"] == datetime(2024, 5, 8, 9, tzinfo=BJ)          # 办结 + 5 days (default)
        with pytest.raises(ap.AppealError, match="申诉理由"):
            await repo.apply_action(conn, appeal_id, "submit", actor="sup", reason=NO_EVIDENCE)    # no grounds yet
        await repo.update_draft(conn, appeal_id, grounds="非本辖区", statement="点位属清河街道。",
                                handling_record="已核实", actor="sup")
        assert await repo.apply_action(conn, appeal_id, "submit", actor="sup", reason=NO_EVIDENCE) is ap.State.SUBMITTED
        with pytest.raises(ap.AppealError, match="只有草稿"):
            await repo.update_draft(conn, appeal_id, grounds="非本辖区", statement="改", handling_record="",
                                    actor="sup")
        assert await repo.apply_action(conn, appeal_id, "withdraw", actor="sup", reason="补证据") is ap.State.DRAFT
        await repo.apply_action(conn, appeal_id, "submit", actor="sup", reason=NO_EVIDENCE)
        assert await repo.apply_action(conn, appeal_id, "deny", actor="sup", reason="证据不足") is ap.State.DENIED
        with pytest.raises(ap.IllegalTransition, match="denied"):
            await repo.apply_action(conn, appeal_id, "grant", actor="sup")
        assert await states_of(conn, appeal_id) == [
            ("create", None, "draft"), ("edit", "draft", "draft"), ("submit", "draft", "submitted"),
            ("withdraw", "submitted", "draft"), ("submit", "draft", "submitted"), ("deny", "submitted", "denied")]
        # a denied appeal no longer blocks a new one; the new one can be granted
        second = await repo.create_appeal(conn, t, grounds="不合理诉求", statement="再次申诉", actor="sup")
        with pytest.raises(ap.AppealError, match="已有申诉"):
            await repo.create_appeal(conn, t, actor="sup")
        await repo.apply_action(conn, second, "submit", actor="sup", reason=NO_EVIDENCE)
        assert await repo.apply_action(conn, second, "grant", actor="sup") is ap.State.GRANTED
        row = await repo.get_appeal(conn, second)
        assert row["submitted_at"] is not None and row["decided_at"] is not None


async def test_a_refused_step_changes_nothing(db):
    async with db.pool.acquire() as conn:
        t = await f.ticket(conn, called_at=datetime(2024, 5, 1, 9, tzinfo=BJ))
        appeal_id = await repo.create_appeal(conn, t, grounds="不合理诉求", statement="x", actor="sup")
        before = await states_of(conn, appeal_id)
        with pytest.raises(ap.IllegalTransition):
            await repo.apply_action(conn, appeal_id, "deny", actor="sup", reason="r")
        assert await states_of(conn, appeal_id) == before
        assert (await repo.get_appeal(conn, appeal_id))["state"] == "draft"
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE appeals SET grounds = '随便' WHERE id = $1", appeal_id)


async def _month(conn, as_of):
    rule_set = (await scoring_repo.load_rule_sets(conn))[0]
    counts = await scoring_repo.group_counts(conn, MONTH_START, MONTH_END, "street", rule_set, as_of=as_of)
    return counts[None], rule_set


async def test_granting_changes_the_excluded_basis_by_exactly_the_tickets_contribution(db):
    async with db.pool.acquire() as conn:
        at = datetime(2024, 5, 2, 10, tzinfo=BJ)
        mixes = [(True, "是", "已解决", "满意"), (True, "是", "未解决", "不满意"), (True, "否", "部分解决", "基本满意"),
                 (True, "是", "已解决", "基本满意"), (False, "", "", "")]
        ids = [await f.ticket(conn, called_at=at, closed_at=at + timedelta(days=i), city=m)
               for i, m in enumerate(mixes)]
        target = ids[1]                               # 是/未解决/不满意: costs points
        appeal_id = await repo.create_appeal(conn, target, grounds="不合理诉求", statement="恶意投诉", actor="sup")
        before, rule_set = await _month(conn, LATER)
        await repo.apply_action(conn, appeal_id, "submit", actor="sup", reason=NO_EVIDENCE)
        pending, _ = await _month(conn, LATER)
        assert pending == before                      # submitted: not yet removed
        decided = datetime(2024, 6, 1, 12, tzinfo=BJ)
        await repo.apply_action(conn, appeal_id, "grant", actor="sup", at=decided)
        after, _ = await _month(conn, LATER)
        outcome = next(o for o in await scoring_repo.outcomes(conn, MONTH_START, MONTH_END) if o.ticket_id == target)
        contribution = tally_one(outcome, rule_set) - Counts(volume=1)
        assert contribution.n == 1
        assert after.all == before.all                # 全口径 never changes
        assert after.excluded == before.excluded - contribution
        assert rates(after.excluded, rule_set).composite > rates(before.excluded, rule_set).composite
        # as of a moment before the decision, the grant does not count yet
        earlier, _ = await _month(conn, decided - timedelta(seconds=1))
        assert earlier == before


async def test_candidates_are_listed_once_confirmed_into_a_draft_or_dismissed_with_a_reason(db):
    async with db.pool.acquire() as conn:
        await repo.save_rules(conn, ap.AppealRules(keywords=("退还定金",), address_keywords=("育新花园",)),
                              actor="admin")
        day_start = datetime(2024, 5, 19, 12, tzinfo=BJ)
        kw = await f.ticket(conn, called_at=day_start + timedelta(hours=1), title="要求退还定金",
                            address="育新花园1号楼")
        away = await f.ticket(conn, called_at=day_start + timedelta(hours=2), address="回龙观西大街")
        await f.ticket(conn, called_at=day_start + timedelta(hours=3), address="育新花园2号楼")
        await f.ticket(conn, called_at=day_start + timedelta(days=2), title="退还定金", address="育新花园")
        day = date(2024, 5, 20)
        assert await repo.generate_candidates(conn, day, day_start, day_start + timedelta(days=1)) == 2
        assert await repo.generate_candidates(conn, day, day_start, day_start + timedelta(days=1)) == 0
        listed = {c["ticket_id"]: c for c in await repo.list_candidates(conn, day)}
        assert set(listed) == {kw, away}
        appeal_id = await repo.decide_candidate(conn, listed[kw]["id"], confirm=True, actor="sup")
        appeal = await repo.get_appeal(conn, appeal_id)
        assert appeal["state"] == "draft" and appeal["grounds"] == "超职责范围" and appeal["ticket_id"] == kw
        with pytest.raises(ap.AppealError, match="已处理"):
            await repo.decide_candidate(conn, listed[kw]["id"], confirm=False, actor="sup", note="x")
        with pytest.raises(ap.AppealError, match="理由"):
            await repo.decide_candidate(conn, listed[away]["id"], confirm=False, actor="sup")
        assert await repo.decide_candidate(conn, listed[away]["id"], confirm=False, actor="sup",
                                           note="地址在辖区内, 录入错误") is None
        statuses = {c["ticket_id"]: (c["status"], c["decided_by"]) for c in await repo.list_candidates(conn, day)}
        assert statuses == {kw: ("confirmed", "sup"), away: ("dismissed", "sup")}


async def test_evidence_files_are_stored_by_hash_and_recordings_linked_not_copied(db, tmp_path):
    async with db.pool.acquire() as conn:
        t = await f.ticket(conn, called_at=datetime(2024, 5, 1, 9, tzinfo=BJ))
        other = await f.ticket(conn, called_at=datetime(2024, 5, 1, 9, tzinfo=BJ))
        attempt = await f.attempt(conn, t, 1, answered_at=datetime(2024, 5, 2, 9, tzinfo=BJ))
        foreign = await f.attempt(conn, other, 1, answered_at=datetime(2024, 5, 2, 9, tzinfo=BJ))
        appeal_id = await repo.create_appeal(conn, t, actor="sup")
        data = b"%PDF-1.4 evidence"
        sha = repo.store_attachment(tmp_path, data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert repo.attachment_path(tmp_path, sha).read_bytes() == data
        assert repo.store_attachment(tmp_path, data) == sha           # same content, same file
        await repo.add_file_evidence(conn, appeal_id, sha256=sha, filename="核查.pdf", content_type="application/pdf",
                                     size=len(data), actor="sup")
        await repo.link_recording(conn, appeal_id, attempt, actor="sup")
        with pytest.raises(ap.AppealError, match="已在证据"):
            await repo.link_recording(conn, appeal_id, attempt, actor="sup")
        with pytest.raises(ap.AppealError, match="不属于"):
            await repo.link_recording(conn, appeal_id, foreign, actor="sup")
        items = await repo.evidence(conn, appeal_id)
        assert [(e["kind"], e["filename"], str(e["attempt_id"]) if e["attempt_id"] else None) for e in items] == [
            ("file", "核查.pdf", None), ("recording", "", attempt)]
        with pytest.raises(ValueError):
            repo.attachment_path(tmp_path, "../../etc/passwd")


async def test_points_recovered_by_granted_and_at_stake_in_pending_appeals(db):
    async with db.pool.acquire() as conn:
        at = datetime(2024, 5, 2, 10, tzinfo=BJ)
        good = [await f.ticket(conn, called_at=at, closed_at=at, city=(True, "是", "已解决", "满意")) for _ in range(3)]
        bad = [await f.ticket(conn, called_at=at, closed_at=at, city=(True, "否", "未解决", "不满意")) for _ in range(2)]
        assert good
        rule_set = (await scoring_repo.load_rule_sets(conn))[0]
        nothing = await repo.appeal_points(conn, MONTH_START, MONTH_END, rule_set, as_of=LATER)
        assert (nothing.granted, nothing.pending, nothing.recovered, nothing.at_stake) == (0, 0, 0, 0)
        first = await repo.create_appeal(conn, bad[0], grounds="不合理诉求", statement="x", actor="sup")
        second = await repo.create_appeal(conn, bad[1], grounds="不合理诉求", statement="x", actor="sup")
        for appeal_id in (first, second):
            await repo.apply_action(conn, appeal_id, "submit", actor="sup", reason=NO_EVIDENCE)
        await repo.apply_action(conn, first, "grant", actor="sup", at=datetime(2024, 6, 1, tzinfo=BJ))
        points = await repo.appeal_points(conn, MONTH_START, MONTH_END, rule_set, as_of=LATER)
        month, _ = await _month(conn, LATER)
    # 全口径: 3 perfect of 5 → 60 points; 剔除后: 3 of 4 → 75; all granted: 3 of 3 → 100
    assert rates(month.all, rule_set).composite == 60 and rates(month.excluded, rule_set).composite == 75
    assert (points.granted, points.pending, points.recovered, points.at_stake) == (1, 1, 15, 25)


async def test_two_rules_on_one_ticket_lead_to_one_appeal(db):
    async with db.pool.acquire() as conn:
        await repo.save_rules(conn, ap.AppealRules(keywords=("退还定金",), address_keywords=("育新花园",)),
                              actor="admin")
        day_start = datetime(2024, 5, 19, 12, tzinfo=BJ)
        both = await f.ticket(conn, called_at=day_start + timedelta(hours=1), title="退还定金", address="回龙观")
        assert await repo.generate_candidates(conn, date(2024, 5, 20), day_start, day_start + timedelta(days=1)) == 2
        first, second = await repo.list_candidates(conn, date(2024, 5, 20))
        a = await repo.decide_candidate(conn, first["id"], confirm=True, actor="sup")
        b = await repo.decide_candidate(conn, second["id"], confirm=True, actor="sup")
        assert a == b and (await repo.get_appeal(conn, a))["ticket_id"] == both
        assert await conn.fetchval("SELECT count(*) FROM appeals") == 1


async def test_candidate_rules_see_our_callback_and_the_citys_results(db):
    async with db.pool.acquire() as conn:
        await repo.save_rules(conn, ap.AppealRules(keywords=("退还定金",)), actor="admin")
        day_start = datetime(2024, 5, 19, 12, tzinfo=BJ)
        at = day_start + timedelta(hours=1)
        ours = await f.ticket(conn, called_at=at, title="退还定金", status="called_back")
        await f.attempt(conn, ours, 1, answered_at=at + timedelta(days=2), answers=f.own("yes", "solved", "satisfied"))
        await f.ticket(conn, called_at=at, title="退还定金", city=(True, "是", "已解决", "满意"))
        unhappy = await f.ticket(conn, called_at=at, title="退还定金", city=(True, "是", "已解决", "基本满意"))
        await conn.execute("SELECT scoring_refresh(ARRAY(SELECT id FROM tickets))")
        day = date(2024, 5, 20)
        assert await repo.generate_candidates(conn, day, day_start, day_start + timedelta(days=1)) == 1
        assert [c["ticket_id"] for c in await repo.list_candidates(conn, day)] == [unhappy]
