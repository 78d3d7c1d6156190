-- The dialer's claim in one statement (db/dialer.claim_due calls it).
--
-- It used to be six round trips (BEGIN, the trunk's advisory lock, the room left on the trunk, a
-- page of the due queue, the UPDATE, COMMIT).  The service's event loop follows hundreds of calls,
-- so each reply waited its turn behind them: a claim took ≈ 120 ms under a 500-channel campaign,
-- and freed channels stayed idle all that time (bench/RESULTS.md, "Callback campaign").  The rules
-- are unchanged:
--   * one claimer per trunk at a time (the transaction-scoped advisory lock; the statement's own
--     transaction, or the caller's if it has one, holds it);
--   * never more live calls on the trunk than its max_channels, counted across every instance;
--   * the due queue is read head first, a page at a time, and each page's rows judged there (do-not-call,
--     a live call to the number, the number's daily cap, the campaign still running), so a claim costs
--     the same with 100 or 100,000 attempts waiting and a row that may not be dialled never blocks the queue;
--   * one attempt per number in a claim;
--   * FOR UPDATE SKIP LOCKED guards any other writer;
--   * rows come back in the order chosen (oldest due first).
CREATE FUNCTION claim_due_attempts(p_now timestamptz, p_trunk integer, p_campaigns bigint[],
                                   p_day_start timestamptz, p_limit integer, p_instance text,
                                   p_lock_namespace integer)
RETURNS TABLE (id uuid, ticket_id bigint, ticket_no text, campaign_id bigint, phone text, script text,
               round_attempt integer, action_id uuid, channel_id uuid, other_channel_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_want integer;
    v_page integer;
    v_seen integer;
    v_after_due timestamptz := '1970-01-01 00:00:00+00';
    v_after_id uuid := '00000000-0000-0000-0000-000000000000';
    v_chosen uuid[] := '{}';
    v_phones text[] := '{}';
    r record;
BEGIN
    IF p_limit <= 0 OR cardinality(p_campaigns) = 0 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(p_lock_namespace, p_trunk);
    SELECT least(p_limit, t.max_channels - (SELECT count(*) FROM callback_attempts a
                                              WHERE a.trunk_id = t.id AND a.state IN ('dialing', 'answered')))
      INTO v_want FROM trunks t WHERE t.id = p_trunk;
    IF coalesce(v_want, 0) <= 0 THEN
        RETURN;
    END IF;
    -- A page sized to the want: judging 200 rows to dial 2 cost more than the rest of the claim.
    v_page := least(200, 2 * v_want + 8);
    LOOP
        v_seen := 0;
        FOR r IN
            WITH page AS (
                SELECT a.id, a.phone, a.due_at, a.campaign_id FROM callback_attempts a
                 WHERE a.state = 'pending' AND a.trunk_id = p_trunk AND a.due_at <= p_now
                   AND a.campaign_id = ANY(p_campaigns) AND (a.due_at, a.id) > (v_after_due, v_after_id)
                 ORDER BY a.due_at, a.id
                 LIMIT v_page)
            SELECT page.id, page.phone, page.due_at,
                   c.state = 'running'
                   AND NOT EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone = page.phone)
                   AND NOT EXISTS (SELECT 1 FROM callback_attempts l
                                    WHERE l.phone = page.phone AND l.state IN ('dialing', 'answered'))
                   AND (SELECT count(*) FROM callback_attempts p
                         WHERE p.phone = page.phone AND p.dialed_at >= p_day_start) < c.daily_cap_per_number
                   AS eligible
              FROM page JOIN campaigns c ON c.id = page.campaign_id
             ORDER BY page.due_at, page.id
        LOOP
            v_seen := v_seen + 1;
            IF r.eligible AND NOT (r.phone = ANY(v_phones)) AND cardinality(v_chosen) < v_want THEN
                v_chosen := v_chosen || r.id;
                v_phones := v_phones || r.phone;
            END IF;
            v_after_due := r.due_at;
            v_after_id := r.id;
        END LOOP;
        EXIT WHEN cardinality(v_chosen) >= v_want OR v_seen < v_page;
        v_page := 200;          -- the head was mostly not dialable now: read further in big pages
    END LOOP;
    IF cardinality(v_chosen) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH locked AS (
            SELECT x.id FROM callback_attempts x WHERE x.id = ANY(v_chosen) AND x.state = 'pending'
               FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE callback_attempts a
               SET state = 'dialing', claimed_by = p_instance, dialed_at = p_now, updated_at = now(),
                   action_id = gen_random_uuid(), channel_id = gen_random_uuid(),
                   other_channel_id = gen_random_uuid()
              FROM locked, tickets t
             WHERE a.id = locked.id AND t.id = a.ticket_id
         RETURNING a.id, a.ticket_id, t.ticket_no, a.campaign_id, a.phone, a.script, a.round_attempt,
                   a.action_id, a.channel_id, a.other_channel_id)
        SELECT c.* FROM claimed c ORDER BY array_position(v_chosen, c.id);
END
$$;
