-- Core ledger: units, users, tickets, their flow history, callback attempts and answers.
-- Times are timestamptz; the office's local time is Asia/Shanghai, applied at display and in
-- period arithmetic, never stored.

CREATE TABLE units (
    id          serial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('department', 'community')),
    name        text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, name)
);
COMMENT ON TABLE units IS '科室 (department) and 社区 (community) of the street office';

CREATE TABLE users (
    id             serial PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    display_name   text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    password_hash  text NOT NULL,
    unit_id        integer REFERENCES units(id),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- First-level categories the importer accepts; an admin may add more.
CREATE TABLE categories (
    name        text PRIMARY KEY,
    is_utility  boolean NOT NULL DEFAULT false   -- 水电气热: 24 h closure deadline
);
INSERT INTO categories (name, is_utility) VALUES
    ('城乡建设', false), ('市场管理', false), ('公共服务', false), ('住房', false),
    ('医疗卫生', false), ('交通管理', false), ('社会秩序', false), ('劳动和社会保障', false),
    ('教育', false), ('环境保护', false), ('物业管理', false), ('供暖', false),
    ('水电气热', true), ('民政', false), ('文化旅游', false), ('农业农村', false),
    ('城市管理', false), ('其他', false);

CREATE TABLE tickets (
    id                  bigserial PRIMARY KEY,
    ticket_no           text NOT NULL UNIQUE,                -- 工单编号
    ticket_type         text NOT NULL DEFAULT '诉求' CHECK (ticket_type IN ('诉求', '咨询')),
    appeal_kind         text NOT NULL DEFAULT '投诉'          -- 诉求类别
                        CHECK (appeal_kind IN ('咨询', '求助', '投诉', '举报', '建议')),
    category_l1         text NOT NULL REFERENCES categories(name),
    category_l2         text NOT NULL DEFAULT '',
    category_l3         text NOT NULL DEFAULT '',
    title               text NOT NULL DEFAULT '',
    content             text NOT NULL DEFAULT '',
    urgency             text NOT NULL DEFAULT '一般' CHECK (urgency IN ('一般', '紧急')),
    caller_name         text NOT NULL DEFAULT '',
    caller_phone        text NOT NULL DEFAULT '',             -- normalised digits; '' when anonymous
    district            text NOT NULL DEFAULT '',             -- 被反映区
    street              text NOT NULL DEFAULT '',             -- 被反映街乡镇
    community_name      text NOT NULL DEFAULT '',             -- 所在社区 as written by the city
    address             text NOT NULL DEFAULT '',             -- 问题点位
    host_unit           text NOT NULL DEFAULT '',             -- 主办单位
    department_name     text NOT NULL DEFAULT '',             -- 承办科室 as written by the city
    department_id       integer REFERENCES units(id),
    community_id        integer REFERENCES units(id),
    called_at           timestamptz NOT NULL,                 -- 来电时间
    dispatched_at       timestamptz,                          -- 派单时间 (city → street)
    time_limit_hours    integer CHECK (time_limit_hours > 0), -- 办理时限
    closed_at           timestamptz,                          -- 办结时间
    city_status         text NOT NULL DEFAULT '',             -- 工单状态 as exported by the city
    handling_result     text NOT NULL DEFAULT '',             -- 办理结果
    city_effective_callback boolean,                          -- 是否有效回访 (city's figure)
    city_contacted      text NOT NULL DEFAULT '',             -- 是否联系
    city_solved         text NOT NULL DEFAULT '',             -- 是否解决
    city_satisfied      text NOT NULL DEFAULT '',             -- 是否满意
    -- The street's own flow (callcenter.ledger.flow); changed only through ticket_events.
    status              text NOT NULL DEFAULT 'received',
    signed_at           timestamptz,
    first_contact_at    timestamptz,
    is_complex          boolean NOT NULL DEFAULT false,
    sign_due_at         timestamptz,
    contact_due_at      timestamptz,
    close_due_at        timestamptz,
    extended_due_at     timestamptz,                          -- approved 延期
    reopen_count        integer NOT NULL DEFAULT 0,           -- 重新办理, counted
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_called_at_idx ON tickets (called_at);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_department_idx ON tickets (department_id, called_at);
CREATE INDEX tickets_community_idx ON tickets (community_id, called_at);
CREATE INDEX tickets_phone_idx ON tickets (caller_phone) WHERE caller_phone <> '';
-- 超期预警: only open tickets are watched, so keep the deadline indexes partial.
CREATE INDEX tickets_sign_due_idx ON tickets (sign_due_at) WHERE status = 'received';
CREATE INDEX tickets_close_due_idx ON tickets (coalesce(extended_due_at, close_due_at))
    WHERE status IN ('signed', 'dispatched', 'handling', 'feedback');

-- The audit trail: every flow step with who, when, from → to and why.
CREATE TABLE ticket_events (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

-- Numbers that must never be called (citizen asked, or number known wrong).
CREATE TABLE do_not_call (
    phone       text PRIMARY KEY,
    reason      text NOT NULL DEFAULT '',
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per dial of a citizen. State is written before the next step is taken
-- (dialing before Originate), so a crash can always be reconciled.
CREATE TABLE callback_attempts (
    id              uuid PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    campaign_id     bigint,
    attempt_no      integer NOT NULL CHECK (attempt_no >= 1),
    phone           text NOT NULL,
    script          text NOT NULL DEFAULT 'callback_three_rates',
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'dialing', 'answered', 'finished', 'cancelled')),
    outcome         text CHECK (outcome IN ('answered-complete', 'answered-partial', 'busy',
                                            'no-answer', 'failed', 'invalid-number', 'refused')),
    due_at          timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    action_id       uuid,           -- our AMI ActionID
    channel_id      uuid,           -- our ChannelId (Uniqueid of the ;1 leg)
    other_channel_id uuid,
    originate_reason integer,       -- OriginateResponse Reason
    hangup_cause    integer,
    dialed_at       timestamptz,
    answered_at     timestamptz,
    ended_at        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, attempt_no)
);
CREATE INDEX callback_attempts_due_idx ON callback_attempts (due_at) WHERE state = 'pending';
CREATE INDEX callback_attempts_live_idx ON callback_attempts (state) WHERE state IN ('dialing', 'answered');
CREATE UNIQUE INDEX callback_attempts_channel_idx ON callback_attempts (channel_id) WHERE channel_id IS NOT NULL;

-- Answers are versioned: version 1 is the citizen's, never overwritten;
-- a supervisor's correction is a new version with a reason.
CREATE TABLE callback_answers (
    id              bigserial PRIMARY KEY,
    attempt_id      uuid NOT NULL REFERENCES callback_attempts(id) ON DELETE CASCADE,
    question        text NOT NULL,      -- contacted | solved | satisfaction | dissatisfaction_reason | ...
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    intent          text,               -- yes/no, solved/partly/unsolved, satisfied/basic/dissatisfied; NULL = not understood
    source          text NOT NULL CHECK (source IN ('dtmf', 'speech', 'supervisor')),
    digits          text,
    transcript      text,
    confidence      numeric(5, 4),
    recording_path  text,
    needs_review    boolean NOT NULL DEFAULT false,
    created_by      text NOT NULL DEFAULT 'citizen',
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (attempt_id, question, version)
);
CREATE INDEX callback_answers_review_idx ON callback_answers (created_at) WHERE needs_review;

-- Who did what that an auditor must see: listened to a recording, changed a score, exported data.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Deadline rules are versioned by the date they take effect; a ticket's deadlines are
-- computed with the rules in force when it was dispatched, and stored on the ticket.
CREATE TABLE deadline_policies (
    effective_from          date PRIMARY KEY,
    sign_hours              integer NOT NULL CHECK (sign_hours > 0),
    contact_hours           integer NOT NULL CHECK (contact_hours > 0),
    contact_hours_urgent    integer NOT NULL CHECK (contact_hours_urgent > 0),
    close_days              integer NOT NULL CHECK (close_days > 0),
    close_days_complex      integer NOT NULL CHECK (close_days_complex > 0),
    close_hours_urgent      integer NOT NULL CHECK (close_hours_urgent > 0),
    note                    text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deadline_policies VALUES
    ('2021-01-01', 2, 24, 2, 7, 15, 24, '《北京市接诉即办工作条例》(2021) defaults', now());
