-- Admin web app: server-side sessions, sign-in lockout, and the indexes the ticket
-- ledger pages need to stay fast at 1,000,000 tickets.

-- A session is found by the SHA-256 of the cookie's random token, so a leaked
-- database copy cannot be replayed as a cookie.
CREATE TABLE web_sessions (
    id          text PRIMARY KEY,                       -- sha256(token), hex
    user_id     integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,                   -- absolute limit; idle limit uses last_seen
    ip          text NOT NULL DEFAULT '',
    flash       jsonb NOT NULL DEFAULT '[]'::jsonb      -- messages shown once, after a redirect
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);

-- Failed sign-ins, per username and per client address, for lockout.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    username    text NOT NULL,
    ip          text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username_idx ON login_failures (username, at DESC);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at DESC);

-- 工单台账: newest first by 来电时间, keyset-paginated on (called_at, id).
CREATE INDEX tickets_ledger_order_idx ON tickets (called_at DESC, id DESC);
CREATE INDEX tickets_ledger_status_idx ON tickets (status, called_at DESC, id DESC);
CREATE INDEX tickets_ledger_department_idx ON tickets (department_id, called_at DESC, id DESC);
CREATE INDEX tickets_ledger_community_idx ON tickets (community_id, called_at DESC, id DESC);
CREATE INDEX tickets_ledger_category_idx ON tickets (category_l1, called_at DESC, id DESC);

-- Keyword search over 工单编号 / 标题 / 主要内容 (substring, any language).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tickets_ledger_keyword_idx ON tickets
    USING gin ((ticket_no || ' ' || title || ' ' || content) gin_trgm_ops);
