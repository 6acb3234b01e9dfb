-- Version 8: voice calls waiting for the callee's keypress (docs/ARCHITECTURE.md,
-- "The dispatcher"). The voice provider calls back `POST /v1/voice-calls/{call}/code`
-- after the keypress; the callback may reach any node sharing this store, so what
-- it needs is here, not in one node's memory. `call` is the SHA-256 of the random
-- call id that is in the callback URL (the id itself is never stored); `sealed`
-- is the code, an AEAD blob under the server's wrapping key bound to the call id.
-- A row is deleted when its code is read (once) or when its wait has passed.
CREATE TABLE voice_calls (
    call      BLOB    NOT NULL PRIMARY KEY,
    sealed    BLOB    NOT NULL,
    placed_at INTEGER NOT NULL
) STRICT;

CREATE INDEX voice_calls_by_time ON voice_calls (placed_at);
