-- The rules' states are appended to a log before a message is acknowledged,
-- and folded into rule_state every few seconds, each household's newest
-- once, in household order (store.FoldRuleStates). Saved in place, a
-- state cost a random page of rule_state a message: at a million
-- households, the disk took 11-12 KB a message and the B-tree's lookups a
-- third of the monitor's CPU (docs/performance.md, "The rules' states
-- logged, then folded"). log_seq is the log entry a rule_state row was
-- folded from, so that a fold never replaces a newer state with an older
-- one, whoever runs it and however often.

-- +goose Up
CREATE TABLE rule_state_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);
ALTER TABLE rule_state ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;

-- What a restart loads moves with the log as with rule_state (00070).
-- sqlite only {
-- +goose StatementBegin
CREATE TRIGGER rule_state_logged AFTER INSERT ON rule_state_log
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rule_state_unlogged AFTER DELETE ON rule_state_log
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- } sqlite only
--postgres CREATE TRIGGER rule_state_log_generation AFTER INSERT OR UPDATE OR DELETE ON rule_state_log
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION state_generation_bump();

-- +goose Down
-- sqlite only {
DROP TRIGGER rule_state_unlogged;
DROP TRIGGER rule_state_logged;
-- } sqlite only
--postgres DROP TRIGGER rule_state_log_generation ON rule_state_log;
ALTER TABLE rule_state DROP COLUMN log_seq;
DROP TABLE rule_state_log;
