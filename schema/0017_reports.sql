-- Generated reports (日报 / 周报 / 月报 / 专报): the 报表 page lists them for download.
CREATE TABLE reports (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly', 'special')),
    label       text NOT NULL,                     -- 2024-05-20, 2024-W21, 2024-05, or the special's range
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    filters     jsonb NOT NULL DEFAULT '{}'::jsonb,
    docx_path   text NOT NULL,
    xlsx_path   text NOT NULL,
    created_by  text NOT NULL,                     -- a username, or 'service' for the scheduled ones
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_created_idx ON reports (created_at);
-- The service writes each scheduled report once, however many instances run.
CREATE UNIQUE INDEX reports_scheduled_once ON reports (kind, label) WHERE created_by = 'service';
