-- Live messages too big for one NOTIFY (PostgreSQL caps a payload at 8000 bytes): the sender stores the
-- message here and notifies its id; every web process loads it by id.  Unlogged and short-lived: a
-- live push that a crash loses is repaired by the next full-state message, and rows older than a few
-- minutes are deleted by the next sender.
CREATE UNLOGGED TABLE live_messages (
    id         bigserial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_messages_created_idx ON live_messages (created_at);
