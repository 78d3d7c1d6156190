-- New tickets are scored from the rows the insert hands its trigger, not looked up again.
--
-- Why: an import of 100,000 new tickets spent about a quarter of PostgreSQL's time in the
-- statement-level scoring trigger, and scoring_refresh (0012) re-reads every ticket it is
-- given by id and looks for its callback attempts.  A ticket this very statement inserted
-- has no attempt yet (callback_attempts.ticket_id references it and is checked per
-- statement), so its score is the city's result or nothing, and every column that needs is
-- in the transition table already.  The rule is 0012's scoring_refresh with no own attempt,
-- case for case (tests/test_scoring_new_tickets.py holds the two together); updates still
-- go through scoring_refresh.  A plain INSERT: a ticket inserted now has no score row yet.
CREATE FUNCTION scoring_on_new_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_scores (ticket_id, scored_at, source, attempt_id, consult, contacted, solved,
                               satisfaction, department_id, community_id, category_l1)
    SELECT d.id,
           CASE WHEN d.source = 'city' THEN coalesce(d.city_callback_at, d.closed_at, d.called_at)
                ELSE coalesce(d.closed_at, d.called_at) END,
           d.source, NULL, d.consult,
           CASE d.source WHEN 'city' THEN d.city_contacted END,
           CASE d.source WHEN 'city' THEN d.city_solved END,
           CASE d.source WHEN 'city' THEN d.city_satisfaction END,
           d.department_id, d.community_id, d.category_l1
      FROM (SELECT r.*,
                   CASE WHEN coalesce(r.city_effective_callback, true) AND r.city_contacted IS NOT NULL
                             AND r.city_solved IS NOT NULL AND r.city_satisfaction IS NOT NULL THEN 'city'
                        WHEN r.status = 'callback_failed' OR r.city_effective_callback = false THEN 'failed'
                        ELSE 'pending' END AS source
              FROM (SELECT t.id, t.called_at, t.closed_at, t.city_callback_at, t.status, t.city_effective_callback,
                           t.ticket_type = '咨询' AS consult, t.department_id, t.community_id, t.category_l1,
                           scoring_city_contacted(t.city_contacted) AS city_contacted,
                           scoring_city_solved(t.city_solved) AS city_solved,
                           scoring_city_satisfied(t.city_satisfied) AS city_satisfaction
                      FROM changed_tickets t) r) d;
    RETURN NULL;
END $$;

DROP TRIGGER tickets_scoring_ins ON tickets;
CREATE TRIGGER tickets_scoring_ins AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS changed_tickets FOR EACH STATEMENT EXECUTE FUNCTION scoring_on_new_tickets();
