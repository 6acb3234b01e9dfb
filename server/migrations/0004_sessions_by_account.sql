-- Version 4: login sessions looked up by account. "This wasn't me" ends every
-- pending session of the account (docs/PROTOCOL.md §6.2), so the store finds
-- them by username without reading every session.
CREATE INDEX sessions_by_username ON sessions (username, expires_at);
