-- A robot call not yet dialled follows its ticket: a ticket that leaves 待回访 takes its pending
-- attempts with it (cancelled), and a corrected 来电人电话 is the number they will dial.
--
-- Why: an attempt waits in the due queue for hours (a retry), and meanwhile the ticket can
-- change by another road: a re-import in which the city says it is 已回访, sends it back to
-- 办理, or corrects the caller's number (to none, or to one on the do-not-call list: cancelled
-- too); a callback step taken elsewhere.  The claim reads only
-- the attempts, so the citizen would be called about a ticket no longer waiting for it, or the
-- wrong number dialled.  Every road goes through an UPDATE of tickets, so the rule lives here,
-- in the same transaction as the change: a claim running beside it either took the attempt
-- first (that call goes ahead) or finds it changed.  Row-level with a WHEN, so an update that
-- keeps status and number costs two comparisons.
CREATE FUNCTION pending_calls_follow_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'awaiting_callback' OR NEW.caller_phone = ''
       OR EXISTS (SELECT 1 FROM do_not_call WHERE phone = NEW.caller_phone) THEN
        UPDATE callback_attempts SET state = 'cancelled', settled = true, updated_at = now()
         WHERE ticket_id = NEW.id AND state = 'pending';
    ELSE
        UPDATE callback_attempts SET phone = NEW.caller_phone, updated_at = now()
         WHERE ticket_id = NEW.id AND state = 'pending';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tickets_pending_calls_follow AFTER UPDATE OF status, caller_phone ON tickets
    FOR EACH ROW WHEN (OLD.status = 'awaiting_callback'
                       AND (NEW.status <> 'awaiting_callback' OR NEW.caller_phone <> OLD.caller_phone))
    EXECUTE FUNCTION pending_calls_follow_ticket();
