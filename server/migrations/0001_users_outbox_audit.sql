-- Version 1: built-in users, the outbox, the audit trail.
-- Later versions are new numbered files, appended to MIGRATIONS in
-- server/src/store/sqlite.rs; a released file is never edited.

-- The built-in user store of the reference login screen and the demo.
CREATE TABLE users (
    username                TEXT    NOT NULL PRIMARY KEY,
    -- $pbkdf2-sha256$i=<iterations>$<salt>$<hash>
    password_hash           TEXT    NOT NULL,
    -- E.164: + and 8 to 15 digits
    phone                   TEXT    NOT NULL,
    email                   TEXT    NOT NULL,
    -- ISO 3166-1 alpha-2, upper case
    jurisdiction            TEXT    NOT NULL CHECK (length(jurisdiction) = 2),
    second_factor           TEXT    NOT NULL CHECK (second_factor IN ('phone', 'sms')),
    password_reset_required INTEGER NOT NULL DEFAULT 0 CHECK (password_reset_required IN (0, 1)),
    created_at              INTEGER NOT NULL
) STRICT;

-- Every message sent through a channel, as sent: the development outbox endpoint
-- reads it. It holds codes in clear; production deployments send through real
-- providers and should prune it.
CREATE TABLE outbox (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('push', 'sms', 'voice', 'email')),
    recipient   TEXT    NOT NULL,
    -- JSON object; its shape depends on the channel
    body        TEXT    NOT NULL
) STRICT;

-- What happened to accounts, for operators and fraud reports. Never secrets.
CREATE TABLE audit (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    username    TEXT,
    -- JSON object
    detail      TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_by_username ON audit (username, id);
