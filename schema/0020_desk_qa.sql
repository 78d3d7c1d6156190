-- 质检 (quality checks) of agents' calls — human callbacks and hotline calls — and the talk time
-- of desk calls.  Forms are dated and versioned; a grade is immutable once saved (the trigger below
-- refuses UPDATE and DELETE): a correction is a new version of the grade with a reason.

ALTER TABLE desk_items ADD COLUMN call_ended_at timestamptz;

CREATE TABLE qa_forms (
    id             serial PRIMARY KEY,
    name           text NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    effective_from date NOT NULL,
    items          jsonb NOT NULL,      -- [{"key": "script", "label": "…", "max": 10}, …]
    created_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
INSERT INTO qa_forms (name, version, effective_from, items, created_by) VALUES
    ('回访质检', 1, '2024-01-01',
     '[{"key": "script", "label": "按脚本准确读题", "max": 30},
       {"key": "courtesy", "label": "礼貌用语与耐心", "max": 20},
       {"key": "faithful", "label": "如实记录市民答案", "max": 30},
       {"key": "privacy", "label": "核实身份、保护隐私", "max": 10},
       {"key": "closing", "label": "结束语与后续安排", "max": 10}]', 'schema');

CREATE TABLE qa_grades (
    id          bigserial PRIMARY KEY,
    call_kind   text NOT NULL CHECK (call_kind IN ('desk', 'hotline')),
    call_ref    text NOT NULL,           -- callback_attempts.id (desk) or hotline_calls' uniqueid
    agent       text NOT NULL,
    form_id     integer NOT NULL REFERENCES qa_forms(id),
    version     integer NOT NULL CHECK (version >= 1),
    scores      jsonb NOT NULL,
    total       numeric(6, 2) NOT NULL,
    comment     text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    graded_by   text NOT NULL,
    graded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_kind, call_ref, version),
    CHECK (version = 1 OR reason <> '')
);
CREATE INDEX qa_grades_agent_idx ON qa_grades (agent, graded_at);

CREATE FUNCTION qa_grades_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '质检评分保存后不可修改; 更正请新增一个版本并说明原因'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER qa_grades_no_update BEFORE UPDATE OR DELETE ON qa_grades
    FOR EACH ROW EXECUTE FUNCTION qa_grades_immutable();

-- The weekly random sample of each agent's calls offered for grading.
CREATE TABLE qa_samples (
    week        date NOT NULL,           -- the Monday (Beijing) of the sampled week
    call_kind   text NOT NULL CHECK (call_kind IN ('desk', 'hotline')),
    call_ref    text NOT NULL,
    agent       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (week, call_kind, call_ref)
);
