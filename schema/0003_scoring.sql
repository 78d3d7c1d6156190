-- Three-rate scoring (三率): dated rule sets, the calendar of assessment periods, a minimal
-- appeals table, and ticket_scores: one row per ticket with its resolved callback answers.
--
-- Why a materialised table: the answers that count for a ticket come from our own
-- versioned callback answers (latest version per question of the latest complete attempt)
-- or, failing that, from the city's imported result columns.  Resolving that on the fly
-- for a 1,000,000-ticket ledger is too slow for an interactive ranking, so statement-level
-- triggers keep ticket_scores current and the rankings aggregate one narrow table.
-- The resolution below is mirrored, rule for rule, by callcenter/scoring/answers.py;
-- tests/test_scoring_sql_agreement.py checks that both agree on random data.

-- Rule sets are dated: a period is scored with the rule set in force on its first day.
CREATE TABLE rule_sets (
    id               serial PRIMARY KEY,
    name             text NOT NULL,
    effective_from   date NOT NULL UNIQUE,
    k                numeric NOT NULL CHECK (k >= 0 AND k <= 1),          -- 基本满意 factor
    w_response       numeric NOT NULL CHECK (w_response >= 0),
    w_solved         numeric NOT NULL CHECK (w_solved >= 0),
    w_satisfied      numeric NOT NULL CHECK (w_satisfied >= 0),
    partly_counts_as numeric NOT NULL DEFAULT 0 CHECK (partly_counts_as >= 0 AND partly_counts_as <= 1),
    exclude_consult  boolean NOT NULL DEFAULT true,     -- 咨询 tickets leave the assessment
    exclude_failed   boolean NOT NULL DEFAULT true,     -- 回访不成功 leaves the denominator
    note             text NOT NULL DEFAULT '',
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (w_response + w_solved + w_satisfied = 1)
);
INSERT INTO rule_sets (name, effective_from, k, w_response, w_solved, w_satisfied, partly_counts_as,
                       exclude_consult, exclude_failed, note, created_by)
VALUES ('默认 (北京)', '2021-01-01', 0.9, 0.10, 0.50, 0.40, 0, true, true,
        'k = 0.9; 综合成绩 = (0.10×响应率 + 0.50×解决率 + 0.40×满意率)×100; 部分解决按未解决计', 'migration');

-- The assessment calendar: one row.  Month "YYYY-MM" runs from day period_start_day of the
-- previous month 00:00 to day period_start_day of MM 00:00 (Asia/Shanghai); the daily
-- report for day D runs from D-1 daily_cut_hour:00 to D daily_cut_hour:00.
CREATE TABLE scoring_calendar (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    period_start_day  integer NOT NULL DEFAULT 19 CHECK (period_start_day BETWEEN 1 AND 28),
    daily_cut_hour    integer NOT NULL DEFAULT 12 CHECK (daily_cut_hour BETWEEN 0 AND 23),
    timezone          text NOT NULL DEFAULT 'Asia/Shanghai'
);
INSERT INTO scoring_calendar DEFAULT VALUES;

-- 考核申诉, minimal: scoring needs to know which tickets were granted (核减).  The appeals
-- issue extends this table.
CREATE TABLE appeals (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'submitted', 'granted', 'denied')),
    grounds       text NOT NULL DEFAULT '',
    statement     text NOT NULL DEFAULT '',
    submitted_at  timestamptz,
    decided_at    timestamptz,
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (state NOT IN ('granted', 'denied') OR decided_at IS NOT NULL)
);
CREATE INDEX appeals_ticket_idx ON appeals (ticket_id);
CREATE INDEX appeals_open_idx ON appeals (ticket_id, decided_at) WHERE state IN ('submitted', 'granted');

-- The city's answer columns → the intents our IVR records (yes/no, solved/partly/unsolved,
-- satisfied/basic/dissatisfied).  Anything else is NULL: not a usable answer.
CREATE FUNCTION scoring_city_contacted(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE btrim(value) WHEN '是' THEN 'yes' WHEN '已联系' THEN 'yes'
                             WHEN '否' THEN 'no' WHEN '未联系' THEN 'no' END $$;
CREATE FUNCTION scoring_city_solved(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE btrim(value) WHEN '是' THEN 'solved' WHEN '已解决' THEN 'solved'
                             WHEN '部分解决' THEN 'partly'
                             WHEN '否' THEN 'unsolved' WHEN '未解决' THEN 'unsolved' END $$;
CREATE FUNCTION scoring_city_satisfied(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE btrim(value) WHEN '满意' THEN 'satisfied' WHEN '基本满意' THEN 'basic'
                             WHEN '不满意' THEN 'dissatisfied' END $$;

-- One row per ticket: where its answers come from and what they are.
--   source: own (our complete callback) | city (the city's imported result) |
--           failed (回访不成功) | pending (no result yet)
--   scored_at: the instant that places the ticket in a period: our callback's answer time,
--           else 办结时间, else 来电时间.
CREATE TABLE ticket_scores (
    ticket_id      bigint PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    scored_at      timestamptz NOT NULL,
    source         text NOT NULL CHECK (source IN ('own', 'city', 'failed', 'pending')),
    attempt_id     uuid,
    consult        boolean NOT NULL,
    contacted      text,
    solved         text,
    satisfaction   text,
    department_id  integer,
    community_id   integer,
    category_l1    text NOT NULL
);
-- The period scan reads only this index (an index-only scan, whatever the grouping; ticket_id
-- is included for the join to granted appeals): 83,000 tickets a month in ~900 index pages
-- instead of ~14,000 heap pages.  See bench/RESULTS.md "## Scoring".
CREATE INDEX ticket_scores_period_idx ON ticket_scores (scored_at)
    INCLUDE (ticket_id, source, consult, contacted, solved, satisfaction, department_id, community_id, category_l1);

CREATE FUNCTION scoring_refresh(ids bigint[]) RETURNS void
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
        SELECT t.id, t.called_at, t.closed_at, t.status, t.city_effective_callback,
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
           CASE WHEN d.source = 'own' THEN d.own_at ELSE coalesce(d.closed_at, d.called_at) END,
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

-- Statement-level triggers with transition tables: a bulk COPY of tickets refreshes in one
-- set-based statement instead of one call per row.
CREATE FUNCTION scoring_on_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scoring_refresh(ARRAY(SELECT id FROM changed_tickets));
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_scoring_ins AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS changed_tickets FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_tickets();
CREATE TRIGGER tickets_scoring_upd AFTER UPDATE ON tickets
    REFERENCING NEW TABLE AS changed_tickets FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_tickets();

CREATE FUNCTION scoring_on_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scoring_refresh(ARRAY(SELECT DISTINCT ticket_id FROM changed_attempts));
    RETURN NULL;
END $$;
CREATE TRIGGER attempts_scoring_ins AFTER INSERT ON callback_attempts
    REFERENCING NEW TABLE AS changed_attempts FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_attempts();
CREATE TRIGGER attempts_scoring_upd AFTER UPDATE ON callback_attempts
    REFERENCING NEW TABLE AS changed_attempts FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_attempts();
CREATE TRIGGER attempts_scoring_del AFTER DELETE ON callback_attempts
    REFERENCING OLD TABLE AS changed_attempts FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_attempts();

CREATE FUNCTION scoring_on_answers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scoring_refresh(ARRAY(SELECT DISTINCT a.ticket_id FROM changed_answers c
                                    JOIN callback_attempts a ON a.id = c.attempt_id));
    RETURN NULL;
END $$;
CREATE TRIGGER answers_scoring_ins AFTER INSERT ON callback_answers
    REFERENCING NEW TABLE AS changed_answers FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_answers();
CREATE TRIGGER answers_scoring_upd AFTER UPDATE ON callback_answers
    REFERENCING NEW TABLE AS changed_answers FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_answers();
CREATE TRIGGER answers_scoring_del AFTER DELETE ON callback_answers
    REFERENCING OLD TABLE AS changed_answers FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_answers();

-- Rows for tickets that existed before this migration.
SELECT scoring_refresh(ARRAY(SELECT id FROM tickets));
