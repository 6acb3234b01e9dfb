-- Version 6: the transactional outbox of real delivery (docs/ARCHITECTURE.md,
-- "The dispatcher"). A ceremony writes one row per message in its own
-- transaction; the dispatcher sends it after the commit, retries it, and ends it
-- as sent or dead. What is secret in a message (the recipient's address, a code,
-- a cancel link's token) is only in `sealed`, an AEAD blob under the server's
-- wrapping key bound to `key` and `channel`; it is set to NULL once the row is
-- sent or dead. `recipient` is the masked recipient, for operators.
CREATE TABLE outbound (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- the idempotency key (32 hex digits), also sent to providers that take one
    key             TEXT    NOT NULL UNIQUE,
    channel         TEXT    NOT NULL CHECK (channel IN ('push', 'sms', 'voice', 'email')),
    recipient       TEXT    NOT NULL,
    sealed          BLOB,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    -- while `sending`: when the claim lapses and another attempt may take it
    lease_until     INTEGER,
    expires_at      INTEGER NOT NULL,
    last_error      TEXT,
    finished_at     INTEGER
) STRICT;

CREATE INDEX outbound_due ON outbound (state, next_attempt_at);
