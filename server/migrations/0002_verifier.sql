-- Version 2: the verifier's state. Each record is one row: its identifier and the
-- columns it is looked up by, and the rest as a JSON object (`data`), so a
-- PostgreSQL store can keep the same shape with JSONB. Secrets inside `data` are
-- only ever wrapped blobs (AES-256-GCM under the key file's wrapping key) or HMACs
-- under the pepper; never plaintext.

-- Per account: epoch, push pause, last success, opt-out.
CREATE TABLE account_state (
    username    TEXT    NOT NULL PRIMARY KEY,
    data        TEXT    NOT NULL
) STRICT;

-- Enrollments: one phone bound to one account (pending, active, disabled, revoked).
CREATE TABLE enrollments (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    data        TEXT    NOT NULL
) STRICT;
CREATE INDEX enrollments_by_username ON enrollments (username, state);
-- At most one active (or disabled-until-replaced) enrollment per account: the
-- database itself refuses a second, whatever the code does.
CREATE UNIQUE INDEX one_authenticating_phone_per_account
    ON enrollments (username) WHERE state IN ('active', 'disabled');

-- Activation and rekey tickets (with their wrapped X25519 private keys).
CREATE TABLE tickets (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    data        TEXT    NOT NULL
) STRICT;

-- Login sessions and their push requests.
CREATE TABLE sessions (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    request_id  BLOB    NOT NULL UNIQUE CHECK (length(request_id) = 16),
    username    TEXT    NOT NULL,
    enrollment  BLOB,
    expires_at  INTEGER NOT NULL,
    data        TEXT    NOT NULL
) STRICT;
CREATE INDEX sessions_by_enrollment ON sessions (enrollment, expires_at);

-- PIN-proof challenges.
CREATE TABLE proofs (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    enrollment  BLOB    NOT NULL,
    data        TEXT    NOT NULL
) STRICT;

-- Moves to a new phone.
CREATE TABLE replacements (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    data        TEXT    NOT NULL
) STRICT;
CREATE INDEX replacements_by_username ON replacements (username, status);

-- Signed notices waiting for a phone.
CREATE TABLE notices (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    enrollment  BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    data        TEXT    NOT NULL
) STRICT;
CREATE INDEX notices_by_enrollment ON notices (enrollment, expires_at);

-- Pushes sent, for the push limits.
CREATE TABLE pushes (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username    TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX pushes_by_username ON pushes (username, sent_at);
