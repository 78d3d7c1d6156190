-- 人工回访: what became of the last desk call, so the console can tell the agent (who otherwise
-- only hears the line drop): the DialStatus of the citizen's leg (BUSY, NOANSWER, CHANUNAVAIL,
-- CONGESTION, CANCEL, ANSWER); agent-busy / agent-noanswer / agent-unreachable when the agent's own
-- phone never answered, and not-dialled when [desk-callback] found the trunk full (in both cases
-- no citizen was called).  Cleared when the next call starts or the form is sent.
ALTER TABLE desk_items ADD COLUMN call_status text;
