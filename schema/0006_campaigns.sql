-- Outbound callback campaigns, trunks and holidays.  Invariants the dialer relies on
-- are enforced here as well as in code: one live call per number, attempts numbered
-- per ticket and capped by the campaign.

CREATE TABLE trunks (
    id              serial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    dial_template   text NOT NULL CHECK (dial_template LIKE '%{number}%'),  -- e.g. PJSIP/{number}@trunk
    max_channels    integer NOT NULL CHECK (max_channels > 0),
    max_cps         numeric(8, 2) NOT NULL CHECK (max_cps > 0),            -- call setups per second
    caller_id       text NOT NULL DEFAULT ''
);

CREATE TABLE holidays (
    day     date PRIMARY KEY,
    name    text NOT NULL DEFAULT ''
);

CREATE TABLE campaigns (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    script          text NOT NULL DEFAULT 'callback_three_rates',
    state           text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'running', 'paused', 'finished')),
    standing        boolean NOT NULL DEFAULT false,   -- every newly closed ticket joins
    closed_from     timestamptz,                      -- filter: 办结时间 range, unit, category
    closed_to       timestamptz,
    department_id   integer REFERENCES units(id),
    community_id    integer REFERENCES units(id),
    category_l1     text REFERENCES categories(name),
    windows         text[] NOT NULL DEFAULT ARRAY['09:00-12:00', '14:00-20:00'],
    max_attempts    integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 10),
    retry_busy_s    integer NOT NULL DEFAULT 1800 CHECK (retry_busy_s > 0),
    retry_no_answer_s integer NOT NULL DEFAULT 7200 CHECK (retry_no_answer_s > 0),
    retry_failed_s  integer NOT NULL DEFAULT 3600 CHECK (retry_failed_s > 0),
    retry_partial_s integer NOT NULL DEFAULT 7200 CHECK (retry_partial_s > 0),
    daily_cap_per_number integer NOT NULL DEFAULT 2 CHECK (daily_cap_per_number > 0),
    trunk_id        integer NOT NULL REFERENCES trunks(id),
    caller_id       text NOT NULL DEFAULT '',
    created_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

ALTER TABLE callback_attempts
    ADD CONSTRAINT callback_attempts_campaign_fk FOREIGN KEY (campaign_id) REFERENCES campaigns(id),
    ADD COLUMN trunk_id integer REFERENCES trunks(id),
    ADD COLUMN note text NOT NULL DEFAULT '';

-- Never two live calls to the same number, whatever instance claims them.
CREATE UNIQUE INDEX callback_attempts_one_live_per_phone
    ON callback_attempts (phone) WHERE state IN ('dialing', 'answered');
CREATE INDEX callback_attempts_campaign_idx ON callback_attempts (campaign_id, state);
CREATE INDEX callback_attempts_phone_day_idx ON callback_attempts (phone, dialed_at);
CREATE INDEX callback_attempts_trunk_live_idx ON callback_attempts (trunk_id) WHERE state IN ('dialing', 'answered');

-- Service instances sharing the database; a stale heartbeat marks a dead one.
CREATE TABLE service_instances (
    name        text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- A callback round starts each time a ticket enters 待回访 (again, after 重新办理);
-- max_attempts counts the attempts of the current round.
ALTER TABLE tickets ADD COLUMN awaiting_since timestamptz;
ALTER TABLE callback_attempts
    ADD COLUMN round_attempt integer NOT NULL DEFAULT 1 CHECK (round_attempt >= 1),
    ADD COLUMN settled boolean NOT NULL DEFAULT false;   -- next step (retry / ticket flow) applied
CREATE INDEX callback_attempts_unsettled_idx ON callback_attempts (ended_at) WHERE state = 'finished' AND NOT settled;
CREATE INDEX tickets_awaiting_idx ON tickets (id) WHERE status = 'awaiting_callback';
