-- Version 5: an explicit ordering column, `seq`, on the records read "oldest
-- first" (enrollments, sessions, replacements, login codes), in place of SQLite's
-- rowid, so that every backend orders them alike (docs/adr/0005-store-contract.md).
-- A record keeps the `seq` of its first insert; later replacements of the row do
-- not change it. Existing rows take their rowid, which is the order they had.
ALTER TABLE enrollments ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE enrollments SET seq = rowid;
ALTER TABLE sessions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET seq = rowid;
ALTER TABLE replacements ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE replacements SET seq = rowid;
ALTER TABLE login_codes ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE login_codes SET seq = rowid;
