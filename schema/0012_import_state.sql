-- Imported tickets enter the flow at the state the city's file names (callcenter/ledger/city_status.py).
-- The file carries no 签收 or 首次联系 time, so a ticket that entered past one of those steps
-- (or past 办结 without a 办结时间) has that step's time unknown (时间未知): it leaves the
-- on-time rates rather than counting as late, and 超期预警 does not list it.
ALTER TABLE tickets
    ADD COLUMN sign_time_unknown    boolean NOT NULL DEFAULT false,
    ADD COLUMN contact_time_unknown boolean NOT NULL DEFAULT false,
    ADD COLUMN close_time_unknown   boolean NOT NULL DEFAULT false;

-- The city's 回访时间, when its export carries one: a city result is dated by it (else by
-- 办结时间), here and in callcenter/scoring/answers.py, which mirrors this function rule for rule.
ALTER TABLE tickets ADD COLUMN city_callback_at timestamptz;

CREATE OR REPLACE FUNCTION scoring_refresh(ids bigint[]) RETURNS void
    LANGUAGE sql AS $$
    WITH wanted AS (          -- a join, not "= ANY(ids)": a bulk load passes a million ids
        SELECT DISTINCT id FROM unnest(ids) AS u(id)
    ), latest AS (            -- the newest version of each rate question, per attempt
        SELECT DISTINCT ON (x.attempt_id, x.question) x.attempt_id, x.question, x.intent
          FROM wanted w
          JOIN callback_attempts a ON a.ticket_id = w.id
          JOIN callback_answers x ON x.attempt_id = a.id
         WHERE x.question IN ('contacted', 'solved', 'satisfaction')
         ORDER BY x.attempt_id, x.question, x.version DESC
    ), complete AS (          -- attempts where all three are understood
        SELECT a.ticket_id, a.id AS attempt_id, a.attempt_no,
               coalesce(a.answered_at, a.ended_at, a.dialed_at, a.created_at) AS at,
               max(l.intent) FILTER (WHERE l.question = 'contacted') AS contacted,
               max(l.intent) FILTER (WHERE l.question = 'solved') AS solved,
               max(l.intent) FILTER (WHERE l.question = 'satisfaction') AS satisfaction
          FROM callback_attempts a JOIN latest l ON l.attempt_id = a.id
         GROUP BY a.ticket_id, a.id, a.attempt_no
    ), own AS (               -- the latest complete attempt wins
        SELECT DISTINCT ON (ticket_id) *
          FROM complete
         WHERE contacted IN ('yes', 'no') AND solved IN ('solved', 'partly', 'unsolved')
           AND satisfaction IN ('satisfied', 'basic', 'dissatisfied')
         ORDER BY ticket_id, attempt_no DESC
    ), resolved AS (
        SELECT t.id, t.called_at, t.closed_at, t.city_callback_at, t.status, t.city_effective_callback,
               t.ticket_type = '咨询' AS consult, t.department_id, t.community_id, t.category_l1,
               own.attempt_id, own.at AS own_at, own.contacted AS own_contacted,
               own.solved AS own_solved, own.satisfaction AS own_satisfaction,
               scoring_city_contacted(t.city_contacted) AS city_contacted,
               scoring_city_solved(t.city_solved) AS city_solved,
               scoring_city_satisfied(t.city_satisfied) AS city_satisfaction
          FROM wanted w JOIN tickets t ON t.id = w.id LEFT JOIN own ON own.ticket_id = t.id
    ), decided AS (
        SELECT r.*,
               CASE WHEN r.attempt_id IS NOT NULL THEN 'own'
                    WHEN coalesce(r.city_effective_callback, true) AND r.city_contacted IS NOT NULL
                         AND r.city_solved IS NOT NULL AND r.city_satisfaction IS NOT NULL THEN 'city'
                    WHEN r.status = 'callback_failed' OR r.city_effective_callback = false THEN 'failed'
                    ELSE 'pending' END AS source
          FROM resolved r
    )
    INSERT INTO ticket_scores AS s (ticket_id, scored_at, source, attempt_id, consult, contacted, solved,
                                    satisfaction, department_id, community_id, category_l1)
    SELECT d.id,
           CASE WHEN d.source = 'own' THEN d.own_at
                WHEN d.source = 'city' THEN coalesce(d.city_callback_at, d.closed_at, d.called_at)
                ELSE coalesce(d.closed_at, d.called_at) END,
           d.source, d.attempt_id, d.consult,
           CASE d.source WHEN 'own' THEN d.own_contacted WHEN 'city' THEN d.city_contacted END,
           CASE d.source WHEN 'own' THEN d.own_solved WHEN 'city' THEN d.city_solved END,
           CASE d.source WHEN 'own' THEN d.own_satisfaction WHEN 'city' THEN d.city_satisfaction END,
           d.department_id, d.community_id, d.category_l1
      FROM decided d
    ON CONFLICT (ticket_id) DO UPDATE
       SET scored_at = excluded.scored_at, source = excluded.source, attempt_id = excluded.attempt_id,
           consult = excluded.consult, contacted = excluded.contacted, solved = excluded.solved,
           satisfaction = excluded.satisfaction, department_id = excluded.department_id,
           community_id = excluded.community_id, category_l1 = excluded.category_l1
     WHERE (s.scored_at, s.source, s.attempt_id, s.consult, s.contacted, s.solved, s.satisfaction,
            s.department_id, s.community_id, s.category_l1)
           IS DISTINCT FROM
           (excluded.scored_at, excluded.source, excluded.attempt_id, excluded.consult, excluded.contacted,
            excluded.solved, excluded.satisfaction, excluded.department_id, excluded.community_id,
            excluded.category_l1)
$$;
