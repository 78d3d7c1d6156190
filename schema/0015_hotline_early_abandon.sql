-- A hotline caller who hangs up during the greeting or the recording-consent prompt never reaches
-- the queue.  Such calls are kept (outcome 'abandoned', with how far the caller got), counted in the
-- day's figures, and offered to the agents as a call back: on a counseling line that caller matters.
ALTER TABLE hotline_calls
    ADD COLUMN abandoned_stage text CHECK (abandoned_stage IN ('greeting', 'consent')),
    ADD CONSTRAINT hotline_calls_stage_only_when_abandoned
        CHECK (abandoned_stage IS NULL OR outcome = 'abandoned');

ALTER TABLE callback_tasks DROP CONSTRAINT callback_tasks_reason_check;
ALTER TABLE callback_tasks ADD CONSTRAINT callback_tasks_reason_check
    CHECK (reason IN ('callback_requested', 'repeat_followup', 'abandoned_before_queue'));
