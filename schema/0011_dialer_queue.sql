-- Whether a no-answer retry must fall in a different calling-window segment ("another time of day",
-- as the city does).  On by default; a campaign with one short window (or the demo) may turn it off.
ALTER TABLE campaigns ADD COLUMN retry_no_answer_elsewhere boolean NOT NULL DEFAULT true;

-- The dialer reads the due queue head first, page by page, in (due_at, id) order per trunk.
CREATE INDEX callback_attempts_due_order_idx ON callback_attempts (trunk_id, due_at, id) WHERE state = 'pending';
