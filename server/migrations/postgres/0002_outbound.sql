-- Version 2: the transactional outbox of real delivery; see
-- server/migrations/0006_outbound.sql (SQLite) for the meaning of each column.
CREATE TABLE outbound (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    channel         TEXT    NOT NULL CHECK (channel IN ('push', 'sms', 'voice', 'email')),
    recipient       TEXT    NOT NULL,
    sealed          BYTEA,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    expires_at      BIGINT  NOT NULL,
    last_error      TEXT,
    finished_at     BIGINT
);

CREATE INDEX outbound_due ON outbound (state, next_attempt_at);
