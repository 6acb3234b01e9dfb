-- The phone's store, version 1: accounts, and the hash-chained local history.
-- Secrets are stored only as blobs sealed by the platform keystore, never in
-- plaintext (the seed; the biometric copy of k_user). The PIN is never stored.

CREATE TABLE account (
    -- The local account id (this phone only; never sent to a server).
    id                      INTEGER PRIMARY KEY,
    -- What the user sees: "alice @ Example Bank".
    label                   TEXT    NOT NULL,
    -- The server profile as its JSON text (base URL and Ed25519 key).
    server_profile          TEXT    NOT NULL,
    enrollment_id           BLOB    NOT NULL UNIQUE CHECK (length(enrollment_id) = 16),
    epoch                   INTEGER NOT NULL CHECK (epoch >= 0),
    -- The signed activation receipt, exactly as received.
    receipt                 BLOB    NOT NULL,
    ocra_suite              TEXT    NOT NULL,
    matching_mode           TEXT    NOT NULL CHECK (matching_mode IN ('code', 'tap')),
    -- Keystore aliases: the ECDSA P-256 device key, the no-user-presence sealing
    -- key of the seed, and the biometric-only key of the k_user copy.
    device_key_alias        TEXT    NOT NULL UNIQUE,
    seal_key_alias          TEXT    NOT NULL UNIQUE,
    sealed_seed             BLOB,
    biometric_key_alias     TEXT    UNIQUE,
    sealed_biometric_k_user BLOB,
    -- Server time minus phone time, from the last signed server time (seconds).
    clock_offset            INTEGER NOT NULL DEFAULT 0,
    last_sync_at            INTEGER,
    push_token              TEXT,
    state                   TEXT    NOT NULL
        CHECK (state IN ('active', 'replaced', 'locked', 'disabled', 'wiped')),
    -- For 'replaced': which phone replaced this one (from the signed notice).
    replaced_by             TEXT,
    -- When the account entered its current state.
    state_changed_at        INTEGER NOT NULL,
    -- For 'replaced' and 'wiped': until when the row is kept to report fraud.
    fraud_report_until      INTEGER,
    created_at              INTEGER NOT NULL,
    CHECK ((state = 'replaced') = (replaced_by IS NOT NULL)),
    CHECK ((biometric_key_alias IS NULL) = (sealed_biometric_k_user IS NULL)),
    -- A usable account has its sealed seed; a wiped or replaced one has no
    -- secret left, only what a fraud report needs, and a retention deadline.
    CHECK (CASE WHEN state IN ('replaced', 'wiped')
                THEN sealed_seed IS NULL AND sealed_biometric_k_user IS NULL
                     AND push_token IS NULL AND fraud_report_until IS NOT NULL
                ELSE sealed_seed IS NOT NULL AND fraud_report_until IS NULL
           END)
);

-- The local history: one hash chain for the whole phone. Entries outlive the
-- accounts they name (no foreign key), so removing an account does not break
-- the chain.
CREATE TABLE history_entry (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 1),
    at             INTEGER NOT NULL,
    account_id     INTEGER,
    enrollment_id  BLOB CHECK (enrollment_id IS NULL OR length(enrollment_id) = 16),
    event          INTEGER NOT NULL,
    request_id     BLOB CHECK (request_id IS NULL OR length(request_id) = 16),
    summary        TEXT    NOT NULL,
    hash           BLOB    NOT NULL CHECK (length(hash) = 32)
);

-- The chain's head, MACed with a key that only the keystore can open.
CREATE TABLE history_head (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    key_alias      TEXT    NOT NULL,
    sealed_mac_key BLOB    NOT NULL,
    entry_count    INTEGER NOT NULL CHECK (entry_count >= 0),
    head_hash      BLOB    NOT NULL CHECK (length(head_hash) = 32),
    mac            BLOB    NOT NULL CHECK (length(mac) = 32)
);
