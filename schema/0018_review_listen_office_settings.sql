-- A confirm in the review queue asks "did this supervisor play this recording?": one indexed probe
-- into the audit log by its object, instead of a scan of the whole log.
CREATE INDEX IF NOT EXISTS audit_log_object_idx ON audit_log (object_type, object_id);

-- Office-wide switches an admin flips in the web app (e.g. whether agents see the department ranking).
CREATE TABLE IF NOT EXISTS office_settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
