-- 考核申诉 (appeals) in full, the daily candidate list, and 城市管理 / 网格 cases.
--
-- The scoring engine (0003) reads only appeals.ticket_id / state / decided_at; this migration
-- adds columns with defaults and leaves those three, their CHECKs and indexes untouched, so
-- rows written the 0003 way stay valid and the 剔除后 queries keep working.

ALTER TABLE appeals
    ADD COLUMN handling_record text NOT NULL DEFAULT '',     -- 办理情况: what the street did
    ADD COLUMN decision_note   text NOT NULL DEFAULT '',     -- the 分中心's reason (查否) or note
    ADD COLUMN due_at          timestamptz,                  -- submission deadline
    ADD COLUMN candidate_id    bigint,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT appeals_grounds_known
        CHECK (grounds IN ('', '不合理诉求', '非本辖区', '超职责范围', '重复诉求', '无法联系'));
-- One live appeal per ticket (a denied one may be followed by a new one).
CREATE UNIQUE INDEX appeals_one_live_idx ON appeals (ticket_id) WHERE state IN ('draft', 'submitted', 'granted');
COMMENT ON COLUMN appeals.grounds IS 'one of callcenter.ledger.appeals.GROUNDS; required at 提交';

-- Every state change with who, when and why (the appeal's 办理记录 for auditors).
CREATE TABLE appeal_events (
    id          bigserial PRIMARY KEY,
    appeal_id   bigint NOT NULL REFERENCES appeals(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,             -- create | edit | submit | grant | deny | withdraw | evidence
    from_state  text,
    to_state    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX appeal_events_appeal_idx ON appeal_events (appeal_id, id);

-- Evidence: an uploaded file (stored under <home>/attachments by its sha256) or one of our
-- own call recordings, linked by attempt id and never copied.
CREATE TABLE appeal_evidence (
    id            bigserial PRIMARY KEY,
    appeal_id     bigint NOT NULL REFERENCES appeals(id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('file', 'recording')),
    sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename      text NOT NULL DEFAULT '',
    content_type  text NOT NULL DEFAULT '',
    size_bytes    bigint CHECK (size_bytes >= 0),
    attempt_id    uuid REFERENCES callback_attempts(id) ON DELETE RESTRICT,
    note          text NOT NULL DEFAULT '',
    added_by      text NOT NULL,
    added_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'file' AND sha256 IS NOT NULL AND attempt_id IS NULL)
        OR (kind = 'recording' AND attempt_id IS NOT NULL AND sha256 IS NULL)),
    UNIQUE (appeal_id, attempt_id)
);
CREATE INDEX appeal_evidence_appeal_idx ON appeal_evidence (appeal_id, id);

-- The candidate rules' configuration (callcenter.ledger.appeals.AppealRules), one row.
CREATE TABLE appeal_rule_config (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    config      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_by  text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO appeal_rule_config (config, updated_by) VALUES ('{}', 'migration');

-- 每日不合理诉求清单: what the rules proposed for a report day, and the supervisor's decision.
CREATE TABLE appeal_candidates (
    id           bigserial PRIMARY KEY,
    day          date NOT NULL,
    ticket_id    bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    rule         text NOT NULL,
    reason       text NOT NULL,
    grounds      text NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'dismissed')),
    decided_by   text,
    decided_at   timestamptz,
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (day, ticket_id, rule),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX appeal_candidates_day_idx ON appeal_candidates (day, status);
ALTER TABLE appeals ADD CONSTRAINT appeals_candidate_fk
    FOREIGN KEY (candidate_id) REFERENCES appeal_candidates(id) ON DELETE SET NULL;

-- 城市管理考核 / 网格 cases.  State changes only through callcenter.ledger.urban (db/urban.py).
CREATE TABLE urban_cases (
    id              bigserial PRIMARY KEY,
    case_no         text NOT NULL UNIQUE,
    source          text NOT NULL CHECK (source IN ('platform', 'grid', 'api')),
    case_type       text NOT NULL,                          -- 案件类型, e.g. 暴露垃圾
    description     text NOT NULL DEFAULT '',
    address         text NOT NULL DEFAULT '',
    community_name  text NOT NULL DEFAULT '',
    community_id    integer REFERENCES units(id),
    reporter        text NOT NULL DEFAULT '',
    reported_at     timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'review'
                    CHECK (state IN ('review', 'rejected', 'accepted', 'dispatched', 'handled', 'closed')),
    reject_reason   text NOT NULL DEFAULT '',
    unit_id         integer REFERENCES units(id),
    deadline_at     timestamptz,
    dispatched_at   timestamptz,
    result_text     text NOT NULL DEFAULT '',
    handled_at      timestamptz,
    closed_at       timestamptz,
    closed_by       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (state NOT IN ('dispatched', 'handled', 'closed') OR (unit_id IS NOT NULL AND deadline_at IS NOT NULL)),
    CHECK (state <> 'closed' OR closed_at IS NOT NULL)
);
CREATE INDEX urban_cases_reported_idx ON urban_cases (reported_at);
CREATE INDEX urban_cases_open_idx ON urban_cases (deadline_at) WHERE state IN ('dispatched', 'handled');

CREATE TABLE urban_case_events (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES urban_cases(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,          -- create | accept | reject | dispatch | handle | close | send_back
    from_state  text,
    to_state    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX urban_case_events_case_idx ON urban_case_events (case_id, id);

-- After photos of a 处置 (files under <home>/attachments by sha256).
CREATE TABLE urban_case_photos (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES urban_cases(id) ON DELETE CASCADE,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename      text NOT NULL DEFAULT '',
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    added_by      text NOT NULL,
    added_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX urban_case_photos_case_idx ON urban_case_photos (case_id, id);
