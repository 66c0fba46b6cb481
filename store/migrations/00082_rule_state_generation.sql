-- What a standby follows (CONTRACT §15): each saved rule state carries the
-- state generation of the transaction that wrote it, so that a standby
-- which loaded the store's state reads only the states written since, and
-- a takeover loads seconds of writes rather than every household (about
-- 21 s at 1,000,000 households on PostgreSQL: docs/performance.md,
-- "Thirty-sixth round"). SaveCheckpoint moves the generation first and
-- holds its row lock until it commits, so a state's generation orders
-- commits: one written by a transaction the reader cannot see yet is
-- always above the generation the reader sees. households_removed is the
-- generation of the last erasure, which a follower cannot read from the
-- rows that are left. The indexes are PostgreSQL's only: only a standby
-- reads by generation every second, and a standby needs PostgreSQL
-- (device_changes has a row for every household given a device since
-- migration 00080: a million after an import of a million).

-- +goose Up
ALTER TABLE rule_state ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state_generation ADD COLUMN households_removed INTEGER NOT NULL DEFAULT 0;
--postgres CREATE INDEX rule_state_generation ON rule_state (generation);
--postgres CREATE INDEX device_changes_generation ON device_changes (generation);

-- +goose Down
--postgres DROP INDEX device_changes_generation;
--postgres DROP INDEX rule_state_generation;
ALTER TABLE state_generation DROP COLUMN households_removed;
ALTER TABLE rule_state DROP COLUMN generation;
