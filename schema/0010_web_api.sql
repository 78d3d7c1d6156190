-- Admin web app, part 2: API tokens for the district platform and scrapers, and the
-- index the call-review list pages by.

-- A token is shown once, when it is made; only its SHA-256 is kept, so a copy of the
-- database cannot be replayed as a token.  Revoked tokens stay for the audit trail.
CREATE TABLE api_tokens (
    id            serial PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label         text NOT NULL DEFAULT '',
    token_hash    text NOT NULL UNIQUE,                 -- sha256(token), hex
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- 回访审核: newest attempts first, keyset-paginated on (created_at, id).
CREATE INDEX callback_attempts_review_order_idx ON callback_attempts (created_at DESC, id DESC);

-- 首页 超期预警 (db/tickets.deadline_warnings): the first-contact deadline is watched only while
-- no contact has been made, like the sign and close deadlines of 0001; without this partial
-- index that branch reads every open ticket (≈ 170 ms at 1,000,000 tickets).
CREATE INDEX tickets_contact_due_idx ON tickets (contact_due_at)
    WHERE status IN ('signed', 'dispatched', 'handling') AND first_contact_at IS NULL;
