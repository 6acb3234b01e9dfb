-- Version 2: an account may wait for its activation to complete. A replacing
-- activation (the account already has a phone) completes later: when the old
-- phone approves, or after the lost-phone hold period. Until then the account
-- is 'pending' at epoch 0, with its sealed seed, and the replacement it waits
-- for; its receipt (and its real epoch, suite and matching mode) arrives in a
-- later sync answer. Accounts also keep their device public key (65 bytes,
-- uncompressed P-256; NULL for accounts written by version 1), so that a receipt
-- that arrives later can be checked against it. SQLite cannot change a CHECK,
-- so the table is rebuilt.

CREATE TABLE account_v2 (
    id                      INTEGER PRIMARY KEY,
    label                   TEXT    NOT NULL,
    server_profile          TEXT    NOT NULL,
    enrollment_id           BLOB    NOT NULL UNIQUE CHECK (length(enrollment_id) = 16),
    epoch                   INTEGER NOT NULL CHECK (epoch >= 0),
    -- The signed activation receipt, exactly as received (empty while pending).
    receipt                 BLOB    NOT NULL,
    ocra_suite              TEXT    NOT NULL,
    matching_mode           TEXT    NOT NULL CHECK (matching_mode IN ('code', 'tap')),
    device_key_alias        TEXT    NOT NULL UNIQUE,
    device_public_key       BLOB    CHECK (device_public_key IS NULL OR length(device_public_key) = 65),
    seal_key_alias          TEXT    NOT NULL UNIQUE,
    sealed_seed             BLOB,
    biometric_key_alias     TEXT    UNIQUE,
    sealed_biometric_k_user BLOB,
    clock_offset            INTEGER NOT NULL DEFAULT 0,
    last_sync_at            INTEGER,
    push_token              TEXT,
    state                   TEXT    NOT NULL
        CHECK (state IN ('active', 'pending', 'replaced', 'locked', 'disabled', 'wiped')),
    replaced_by             TEXT,
    state_changed_at        INTEGER NOT NULL,
    fraud_report_until      INTEGER,
    created_at              INTEGER NOT NULL,
    -- For 'pending': the replacement the activation waits for, whether it is the
    -- lost-phone hold ("held") or waits for the old phone's approval, and when a
    -- hold ends.
    pending_replacement     BLOB    CHECK (pending_replacement IS NULL OR length(pending_replacement) = 16),
    pending_held            INTEGER CHECK (pending_held IS NULL OR pending_held IN (0, 1)),
    pending_effective_at    INTEGER,
    CHECK ((state = 'replaced') = (replaced_by IS NOT NULL)),
    CHECK ((biometric_key_alias IS NULL) = (sealed_biometric_k_user IS NULL)),
    CHECK ((state = 'pending') = (pending_replacement IS NOT NULL)),
    CHECK ((pending_replacement IS NULL) = (pending_held IS NULL)),
    CHECK (pending_replacement IS NOT NULL OR pending_effective_at IS NULL),
    CHECK (state <> 'pending' OR epoch = 0),
    CHECK (CASE WHEN state IN ('replaced', 'wiped')
                THEN sealed_seed IS NULL AND sealed_biometric_k_user IS NULL
                     AND push_token IS NULL AND fraud_report_until IS NOT NULL
                ELSE sealed_seed IS NOT NULL AND fraud_report_until IS NULL
           END)
);

INSERT INTO account_v2 (id, label, server_profile, enrollment_id, epoch, receipt, ocra_suite,
    matching_mode, device_key_alias, seal_key_alias, sealed_seed, biometric_key_alias,
    sealed_biometric_k_user, clock_offset, last_sync_at, push_token, state, replaced_by,
    state_changed_at, fraud_report_until, created_at)
SELECT id, label, server_profile, enrollment_id, epoch, receipt, ocra_suite,
    matching_mode, device_key_alias, seal_key_alias, sealed_seed, biometric_key_alias,
    sealed_biometric_k_user, clock_offset, last_sync_at, push_token, state, replaced_by,
    state_changed_at, fraud_report_until, created_at
FROM account;

DROP TABLE account;
ALTER TABLE account_v2 RENAME TO account;
