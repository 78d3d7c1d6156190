-- A confirm in the review queue asks "did this supervisor play this recording?": one indexed probe
-- into the audit log by its object, instead of a scan of the whole log.
CREATE INDEX IF NOT EXISTS audit_log_object_idx ON audit_log (object_type, object_id);
