-- The human callback desk (人工回访): what the robot could not finish goes to a queue that
-- agents claim with SKIP LOCKED under a lease; their calls are stored as callback attempts whose
-- answers have source 'agent' (or 'manual' for a call made outside the system).

-- Which robot results a campaign escalates to people.  The defaults are the office's rule set;
-- unreached_after: escalate a never-reached citizen once this many robot attempts were made
-- (NULL: never).
ALTER TABLE campaigns
    ADD COLUMN desk_enabled         boolean NOT NULL DEFAULT true,
    ADD COLUMN desk_unreached_after integer DEFAULT 3 CHECK (desk_unreached_after BETWEEN 1 AND 10),
    ADD COLUMN desk_partial         boolean NOT NULL DEFAULT true,
    ADD COLUMN desk_refused         boolean NOT NULL DEFAULT true,
    ADD COLUMN desk_dissatisfied    boolean NOT NULL DEFAULT true,
    ADD COLUMN desk_low_confidence  boolean NOT NULL DEFAULT true;

ALTER TABLE callback_answers DROP CONSTRAINT callback_answers_source_check;
ALTER TABLE callback_answers ADD CONSTRAINT callback_answers_source_check
    CHECK (source IN ('dtmf', 'speech', 'supervisor', 'agent', 'manual'));

-- 'callback-requested': the citizen asked to be called at another time (a dated desk task follows).
ALTER TABLE callback_attempts DROP CONSTRAINT callback_attempts_outcome_check;
ALTER TABLE callback_attempts ADD CONSTRAINT callback_attempts_outcome_check
    CHECK (outcome IN ('answered-complete', 'answered-partial', 'busy', 'no-answer', 'failed',
                       'invalid-number', 'refused', 'callback-requested'));

-- Who made a human attempt, how, and whether a supervisor rejected it (a manual entry only).
ALTER TABLE callback_attempts
    ADD COLUMN agent          text,
    ADD COLUMN desk_kind      text CHECK (desk_kind IN ('agent', 'manual')),
    ADD COLUMN recording_path text,
    ADD COLUMN rejected_by    text,
    ADD COLUMN rejected_at    timestamptz,
    ADD COLUMN reject_reason  text;
CREATE INDEX callback_attempts_agent_idx ON callback_attempts (agent, created_at) WHERE agent IS NOT NULL;

-- One open desk item per ticket.  held_by/lease_until: the agent holding it and until when;
-- a lease not renewed (the agent went away) lapses and the item is free again.  call_live: a
-- call is up for it, so nobody else may take it even if the lease lapses mid-call.
CREATE TABLE desk_items (
    id           bigserial PRIMARY KEY,
    ticket_id    bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    campaign_id  bigint REFERENCES campaigns(id),
    reason       text NOT NULL CHECK (reason IN ('unreached', 'partial', 'refused', 'dissatisfied',
                                                 'low-confidence', 'manual', 'callback-requested')),
    note         text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
    due_at       timestamptz NOT NULL DEFAULT now(),
    held_by      text,
    lease_until  timestamptz,
    call_live    boolean NOT NULL DEFAULT false,
    call_id      uuid,                  -- the agent's channel (our ChannelId) of the call up or last made
    call_started_at timestamptz,
    call_recording text,               -- MixMonitor's absolute path for that call
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    CHECK ((held_by IS NULL) = (lease_until IS NULL)),
    CHECK (NOT call_live OR held_by IS NOT NULL)
);
CREATE UNIQUE INDEX desk_items_one_open_per_ticket ON desk_items (ticket_id) WHERE state = 'open';
CREATE INDEX desk_items_due_idx ON desk_items (due_at, id) WHERE state = 'open';
