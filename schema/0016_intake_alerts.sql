-- 7×24 intake, the duty rota (值班表) and alerts to the staff on duty.

-- Every ticket file taken in, from the inbox folder, a web upload or the API.  The
-- content digest makes a re-dropped file a no-op (imported exactly once).
CREATE TABLE intake_files (
    id          bigserial PRIMARY KEY,
    file_name   text NOT NULL,
    sha256      text NOT NULL,
    source      text NOT NULL CHECK (source IN ('inbox', 'web', 'api')),
    actor       text NOT NULL DEFAULT '',
    outcome     text NOT NULL CHECK (outcome IN ('done', 'rejected')),
    rows        integer NOT NULL DEFAULT 0,
    inserted    integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    message     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX intake_files_done_once ON intake_files (sha256) WHERE outcome = 'done';
CREATE INDEX intake_files_created_idx ON intake_files (created_at);

-- 值班表: one row per person per shift.  E-mail alerts go to whoever is on duty when an alert is sent.
CREATE TABLE duty_shifts (
    id          bigserial PRIMARY KEY,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    staff_name  text NOT NULL CHECK (btrim(staff_name) <> ''),
    email       text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    note        text NOT NULL DEFAULT '',
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX duty_shifts_time_idx ON duty_shifts (starts_at, ends_at);

-- Alert rules: each on by default, each with its own threshold (minutes, or a count for 高发).
CREATE TABLE alert_rules (
    rule        text PRIMARY KEY CHECK (rule IN ('new_ticket', 'deadline_soon', 'deadline_passed',
                                                  'hotline_high_risk', 'spike')),
    enabled     boolean NOT NULL DEFAULT true,
    threshold   integer NOT NULL CHECK (threshold >= 0),
    updated_by  text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN alert_rules.threshold IS
    'new_ticket: look-back hours; deadline_soon: minutes ahead; deadline_passed: look-back hours; '
    'hotline_high_risk: look-back hours; spike: minimum count';
INSERT INTO alert_rules (rule, threshold) VALUES
    ('new_ticket', 24), ('deadline_soon', 30), ('deadline_passed', 168), ('hotline_high_risk', 24), ('spike', 5);

-- Where alerts go besides the web bell and the on-duty staff's e-mail: group-robot webhooks.
CREATE TABLE alert_channels (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    kind        text NOT NULL CHECK (kind IN ('wecom', 'dingtalk', 'webhook')),
    url         text NOT NULL CHECK (url ~ '^https?://'),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One alert per event: dedup_key makes the same alert impossible to raise twice.
CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    rule            text NOT NULL REFERENCES alert_rules(rule),
    dedup_key       text NOT NULL UNIQUE,
    title           text NOT NULL,
    body            text NOT NULL DEFAULT '',
    ticket_ids      bigint[] NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged', 'closed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    reminded_at     timestamptz NOT NULL DEFAULT now(),
    reminders       integer NOT NULL DEFAULT 0,
    acknowledged_by text,
    acknowledged_at timestamptz,
    closed_by       text,
    closed_at       timestamptz
);
CREATE INDEX alerts_open_idx ON alerts (reminded_at) WHERE state = 'new';
CREATE INDEX alerts_created_idx ON alerts (created_at);

-- One delivery per alert, target and round (0 = first notice, 1.. = reminders): never sent twice.
CREATE TABLE alert_deliveries (
    id          bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    round       integer NOT NULL DEFAULT 0,
    kind        text NOT NULL CHECK (kind IN ('wecom', 'dingtalk', 'webhook', 'email')),
    target      text NOT NULL,                 -- webhook URL or e-mail address
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text NOT NULL DEFAULT '',
    sent_at     timestamptz,
    UNIQUE (alert_id, round, kind, target)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_at) WHERE state = 'pending';
