-- Version 3: SMS and voice login codes (docs/DESIGN.md §1.5, §5). The code itself is
-- never stored: only its HMAC under the key file's pepper, bound to its session.

-- The code of a login session (at most one per session: a new one replaces it
-- in place; a new code for another session of the account marks this one
-- 'replaced').
CREATE TABLE login_codes (
    session_id  BLOB    NOT NULL PRIMARY KEY CHECK (length(session_id) = 16),
    username    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('live', 'used', 'replaced', 'burned')),
    data        TEXT    NOT NULL
) STRICT;
CREATE INDEX login_codes_by_username ON login_codes (username, state);

-- Every code sent, for the send limits (one per 2 min, 5 per 15 min, a daily cap).
CREATE TABLE code_sends (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username    TEXT    NOT NULL,
    channel     TEXT    NOT NULL CHECK (channel IN ('sms', 'voice')),
    sent_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX code_sends_by_username ON code_sends (username, sent_at);

-- Per account: consecutive wrong codes (across sessions) and the suspension
-- they cause.
CREATE TABLE code_guards (
    username        TEXT    NOT NULL PRIMARY KEY,
    wrong_codes     INTEGER NOT NULL CHECK (wrong_codes >= 0),
    suspended_until INTEGER
) STRICT;
