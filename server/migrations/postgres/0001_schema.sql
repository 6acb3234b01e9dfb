-- PostgreSQL version 1: the whole schema of the SQLite store at its version 5
-- (server/migrations/0001…0005), in PostgreSQL's types. Later versions are new
-- numbered files, appended to POSTGRES_MIGRATIONS in server/src/store/postgres.rs;
-- a released file is never edited. Records are JSONB (docs/adr/0004 §3); secrets
-- inside them are only wrapped blobs or HMACs under the pepper.

-- The built-in user store of the reference login screen and the demo.
CREATE TABLE users (
    username                TEXT    NOT NULL PRIMARY KEY,
    password_hash           TEXT    NOT NULL,
    phone                   TEXT    NOT NULL,
    email                   TEXT    NOT NULL,
    jurisdiction            TEXT    NOT NULL CHECK (length(jurisdiction) = 2),
    second_factor           TEXT    NOT NULL CHECK (second_factor IN ('phone', 'sms')),
    password_reset_required BOOLEAN NOT NULL DEFAULT FALSE,
    created_at              BIGINT  NOT NULL
);

-- Every message sent through a channel, as sent (codes in clear: prune it).
CREATE TABLE outbox (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  BIGINT  NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('push', 'sms', 'voice', 'email')),
    recipient   TEXT    NOT NULL,
    body        JSONB   NOT NULL
);

-- What happened to accounts. Never secrets.
CREATE TABLE audit (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    username    TEXT,
    detail      JSONB   NOT NULL
);
CREATE INDEX audit_by_username ON audit (username, id);

-- One row per account that a step has locked (StoreTx::lock_account): a step
-- that reads then writes an account's state bumps `version`, so two such steps
-- on one account conflict at REPEATABLE READ instead of both committing.
CREATE TABLE account_locks (
    username    TEXT    NOT NULL PRIMARY KEY,
    version     BIGINT  NOT NULL
);

-- Per account: epoch, push pause, last success, opt-out.
CREATE TABLE account_state (
    username    TEXT    NOT NULL PRIMARY KEY,
    data        JSONB   NOT NULL
);

-- Enrollments: one phone bound to one account.
CREATE TABLE enrollments (
    id          BYTEA   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    data        JSONB   NOT NULL,
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX enrollments_by_username ON enrollments (username, state);
-- At most one active (or disabled-until-replaced) enrollment per account.
CREATE UNIQUE INDEX one_authenticating_phone_per_account
    ON enrollments (username) WHERE state IN ('active', 'disabled');

-- Activation and rekey tickets.
CREATE TABLE tickets (
    id          BYTEA   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    data        JSONB   NOT NULL
);

-- Login sessions and their push requests.
CREATE TABLE sessions (
    id          BYTEA   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    request_id  BYTEA   NOT NULL UNIQUE CHECK (length(request_id) = 16),
    username    TEXT    NOT NULL,
    enrollment  BYTEA,
    expires_at  BIGINT  NOT NULL,
    data        JSONB   NOT NULL,
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX sessions_by_enrollment ON sessions (enrollment, expires_at);
CREATE INDEX sessions_by_username ON sessions (username, expires_at);

-- PIN-proof challenges.
CREATE TABLE proofs (
    id          BYTEA   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    enrollment  BYTEA   NOT NULL,
    data        JSONB   NOT NULL
);

-- Moves to a new phone.
CREATE TABLE replacements (
    id          BYTEA   NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    username    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    data        JSONB   NOT NULL,
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX replacements_by_username ON replacements (username, status);

-- Signed notices waiting for a phone.
CREATE TABLE notices (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enrollment  BYTEA   NOT NULL,
    expires_at  BIGINT  NOT NULL,
    data        JSONB   NOT NULL
);
CREATE INDEX notices_by_enrollment ON notices (enrollment, expires_at);

-- Pushes sent, for the push limits.
CREATE TABLE pushes (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    TEXT    NOT NULL,
    sent_at     BIGINT  NOT NULL
);
CREATE INDEX pushes_by_username ON pushes (username, sent_at);

-- SMS and voice login codes (only their HMAC under the pepper).
CREATE TABLE login_codes (
    session_id  BYTEA   NOT NULL PRIMARY KEY CHECK (length(session_id) = 16),
    username    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('live', 'used', 'replaced', 'burned')),
    data        JSONB   NOT NULL,
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX login_codes_by_username ON login_codes (username, state);

-- Every code sent, for the send limits.
CREATE TABLE code_sends (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    TEXT    NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('sms', 'voice')),
    sent_at     BIGINT  NOT NULL
);
CREATE INDEX code_sends_by_username ON code_sends (username, sent_at);

-- Per account: consecutive wrong codes and the suspension they cause.
CREATE TABLE code_guards (
    username        TEXT    NOT NULL PRIMARY KEY,
    wrong_codes     BIGINT  NOT NULL CHECK (wrong_codes >= 0),
    suspended_until BIGINT
);
