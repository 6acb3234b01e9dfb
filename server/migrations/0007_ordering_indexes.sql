-- Version 7: indexes on the ordering column `seq` (migration 0005). Each insert
-- numbers its row `MAX(seq) + 1`, which without an index reads the whole table:
-- at load, every opened login session scanned every session kept. With them it
-- is one index lookup; "oldest first" reads walk the index as well
-- (docs/adr/0005-store-contract.md). The pending-replacement sweep reads by
-- status in `seq` order.
CREATE INDEX enrollments_by_seq ON enrollments (seq);
CREATE INDEX sessions_by_seq ON sessions (seq);
CREATE INDEX replacements_by_seq ON replacements (seq);
CREATE INDEX replacements_by_status ON replacements (status, seq);
CREATE INDEX login_codes_by_seq ON login_codes (seq);
