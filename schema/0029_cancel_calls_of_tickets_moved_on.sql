-- A ticket that leaves 待回访 takes its robot calls not yet dialled with it.
--
-- Why: an attempt waits in the due queue for hours (a retry), and meanwhile the ticket can
-- move on by another road: a re-import in which the city says it is 已回访 or sends it back
-- to 办理, or a callback step taken elsewhere.  The claim reads only the attempts, so the
-- citizen would be called about a ticket no longer waiting for it.  Every road goes through
-- an UPDATE of tickets.status, so the rule lives here, in the same transaction as the move:
-- a claim running beside it either took the attempt first (that call goes ahead) or finds it
-- cancelled.  Row-level with a WHEN, so an update that keeps the status costs one comparison.
CREATE FUNCTION cancel_pending_calls_of_moved_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE callback_attempts SET state = 'cancelled', settled = true, updated_at = now()
     WHERE ticket_id = NEW.id AND state = 'pending';
    RETURN NULL;
END
$$;

CREATE TRIGGER tickets_left_awaiting_callback AFTER UPDATE OF status ON tickets
    FOR EACH ROW WHEN (OLD.status = 'awaiting_callback' AND NEW.status <> 'awaiting_callback')
    EXECUTE FUNCTION cancel_pending_calls_of_moved_ticket();
