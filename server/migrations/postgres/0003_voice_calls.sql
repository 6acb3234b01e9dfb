-- Version 3: voice calls waiting for the callee's keypress; see
-- server/migrations/0008_voice_calls.sql (SQLite) for the meaning of each column.
CREATE TABLE voice_calls (
    call      BYTEA   NOT NULL PRIMARY KEY,
    sealed    BYTEA   NOT NULL,
    placed_at BIGINT  NOT NULL
);

CREATE INDEX voice_calls_by_time ON voice_calls (placed_at);
