-- Counseling hotline (心理疏导专线) and repeat complainants (重复诉求人).

-- One row per queue call, written when its outcome is known.  The Asterisk
-- Uniqueid is unique, so a replayed event or a second service instance on the
-- same PBX cannot write a call twice.
CREATE TABLE hotline_calls (
    id                   bigserial PRIMARY KEY,
    uniqueid             text NOT NULL UNIQUE,
    queue                text NOT NULL,
    caller_phone         text NOT NULL DEFAULT '',
    channel              text NOT NULL DEFAULT '',
    joined_at            timestamptz NOT NULL,
    ended_at             timestamptz NOT NULL,
    wait_seconds         numeric(10, 3) NOT NULL CHECK (wait_seconds >= 0),
    talk_seconds         numeric(10, 3) NOT NULL DEFAULT 0 CHECK (talk_seconds >= 0),
    agent                text,                                   -- queue MemberName = staff username
    agent_user_id        integer REFERENCES users(id),
    outcome              text NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'callback_requested')),
    recording_path       text,
    transcription_status text NOT NULL DEFAULT 'none'
                         CHECK (transcription_status IN ('none', 'pending', 'done', 'failed')),
    transcript           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'answered') = (agent IS NOT NULL))
);
CREATE INDEX hotline_calls_phone_idx ON hotline_calls (caller_phone) WHERE caller_phone <> '';
CREATE INDEX hotline_calls_joined_idx ON hotline_calls (joined_at);

-- 情绪疏导记录: written by the agent after a call (call_id may be NULL for a walk-in or a callback).
CREATE TABLE counseling_records (
    id              bigserial PRIMARY KEY,
    call_id         bigint REFERENCES hotline_calls(id),
    caller_phone    text NOT NULL DEFAULT '',
    agent_user_id   integer REFERENCES users(id),
    topic           text NOT NULL CHECK (btrim(topic) <> ''),
    emotional_state text NOT NULL CHECK (emotional_state IN ('平稳', '焦虑', '愤怒', '低落', '激动')),
    risk_level      text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
    next_step       text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX counseling_records_phone_idx ON counseling_records (caller_phone);

-- Calls an agent must place: a caller's "press 1" or a scheduled repeat-complainant follow-up.
CREATE TABLE callback_tasks (
    id              bigserial PRIMARY KEY,
    call_id         bigint REFERENCES hotline_calls(id),
    caller_phone    text NOT NULL CHECK (caller_phone <> ''),
    reason          text NOT NULL CHECK (reason IN ('callback_requested', 'repeat_followup')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    assigned_to     integer REFERENCES users(id),
    due_at          timestamptz NOT NULL DEFAULT now(),
    note            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE UNIQUE INDEX callback_tasks_one_per_call ON callback_tasks (call_id) WHERE call_id IS NOT NULL;
CREATE INDEX callback_tasks_open_idx ON callback_tasks (due_at) WHERE status = 'open';

-- Detection rules, editable by a supervisor: N tickets within D days, by phone or by address + category.
CREATE TABLE repeat_rules (
    kind         text PRIMARY KEY CHECK (kind IN ('phone', 'address_category')),
    min_tickets  integer NOT NULL CHECK (min_tickets >= 2),
    window_days  integer NOT NULL CHECK (window_days BETWEEN 1 AND 3650),
    enabled      boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO repeat_rules (kind, min_tickets, window_days) VALUES ('phone', 3, 30), ('address_category', 3, 30);

-- One profile per repeat complainant, keyed by the normalised phone.
CREATE TABLE repeat_profiles (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL UNIQUE CHECK (phone <> ''),
    name        text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT '',
    flagged_by  text NOT NULL CHECK (flagged_by IN ('phone', 'address_category', 'manual')),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- 见面台账: in-person meetings with a repeat complainant.
CREATE TABLE repeat_meetings (
    id            bigserial PRIMARY KEY,
    profile_id    bigint NOT NULL REFERENCES repeat_profiles(id) ON DELETE CASCADE,
    met_on        date NOT NULL,
    place         text NOT NULL CHECK (btrim(place) <> ''),
    participants  text NOT NULL CHECK (btrim(participants) <> ''),   -- 社区参与人员
    discussion    text NOT NULL CHECK (btrim(discussion) <> ''),     -- 沟通内容
    follow_up     text NOT NULL DEFAULT '',                           -- 约定事项
    created_by    integer REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repeat_meetings_profile_idx ON repeat_meetings (profile_id, met_on);

CREATE TABLE repeat_meeting_attachments (
    id            bigserial PRIMARY KEY,
    meeting_id    bigint NOT NULL REFERENCES repeat_meetings(id) ON DELETE CASCADE,
    filename      text NOT NULL CHECK (filename <> ''),
    content_type  text NOT NULL DEFAULT 'application/octet-stream',
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Follow-up calls scheduled for a profile: by the campaign engine (an attempt row) or by an agent (a task).
CREATE TABLE repeat_followups (
    id                  bigserial PRIMARY KEY,
    profile_id          bigint NOT NULL REFERENCES repeat_profiles(id) ON DELETE CASCADE,
    due_at              timestamptz NOT NULL,
    via                 text NOT NULL CHECK (via IN ('campaign', 'agent')),
    callback_attempt_id uuid REFERENCES callback_attempts(id),
    callback_task_id    bigint REFERENCES callback_tasks(id),
    created_by          integer REFERENCES users(id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((via = 'campaign') = (callback_attempt_id IS NOT NULL)),
    CHECK ((via = 'agent') = (callback_task_id IS NOT NULL))
);
