-- The rules' saved states kept in the order of their households' ids
-- (WITHOUT ROWID: one B-tree by the key, where a table with a text key has
-- two, the key's index and the rows in the order they were first written).
-- A checkpoint writes its households in the order of their ids
-- (rules.Engine.Checkpoint), so neighbours share pages: with the journal,
-- a checkpoint of every household at 1,000,000 made a third of the system
-- calls (docs/performance.md, "Twenty-ninth round"). The triggers below
-- are 00070's, created again because they went with the old table.
-- PostgreSQL keeps its tables as heaps: nothing to change there.

-- +goose Up
-- sqlite only {
CREATE TABLE rule_state_by_id (
    household_id TEXT    NOT NULL PRIMARY KEY,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO rule_state_by_id (household_id, data, updated_at)
    SELECT household_id, data, updated_at FROM rule_state;
DROP TABLE rule_state;
ALTER TABLE rule_state_by_id RENAME TO rule_state;
-- The triggers of migration 00070 and the index of 00075 went with the
-- table; created after the copy, so that the copy does not move the state
-- generation: the states are the same, and a snapshot of them still is.
-- +goose StatementBegin
CREATE TRIGGER rule_state_inserted AFTER INSERT ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rule_state_updated AFTER UPDATE ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rule_state_deleted AFTER DELETE ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
CREATE INDEX rule_state_plaintext ON rule_state (household_id)
    WHERE length(data) > 0 AND substr(data, 1, 7) <> X'656E633A76313A';
-- } sqlite only

-- +goose Down
-- sqlite only {
CREATE TABLE rule_state_by_rowid (
    household_id TEXT    NOT NULL PRIMARY KEY,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);
INSERT INTO rule_state_by_rowid (household_id, data, updated_at)
    SELECT household_id, data, updated_at FROM rule_state;
DROP TABLE rule_state;
ALTER TABLE rule_state_by_rowid RENAME TO rule_state;
-- +goose StatementBegin
CREATE TRIGGER rule_state_inserted AFTER INSERT ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rule_state_updated AFTER UPDATE ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rule_state_deleted AFTER DELETE ON rule_state
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
CREATE INDEX rule_state_plaintext ON rule_state (household_id)
    WHERE length(data) > 0 AND substr(data, 1, 7) <> X'656E633A76313A';
-- } sqlite only
