-- A counter that moves with every write of what a restart loads in bulk:
-- the rules' saved states and the registered devices. A snapshot of both,
-- written at a clean stop, records the counter; at start it is used only if
-- the counter has not moved since (docs/performance.md, "Restart from a
-- snapshot"). Triggers rather than the store's own bookkeeping: every
-- writer, every monitor sharing a PostgreSQL database, every rollback and
-- every hand edit is seen.

-- +goose Up
CREATE TABLE state_generation (
    id INTEGER NOT NULL PRIMARY KEY,
    n  INTEGER NOT NULL
);
INSERT INTO state_generation (id, n) VALUES (1, 1);

-- sqlite only {
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
-- +goose StatementBegin
CREATE TRIGGER devices_inserted AFTER INSERT ON devices
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_updated AFTER UPDATE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_deleted AFTER DELETE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- } sqlite only

-- PostgreSQL counts statements, not rows: a checkpoint of many households is
-- one move of the counter.
-- +goose StatementBegin
--postgres CREATE FUNCTION state_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     UPDATE state_generation SET n = n + 1 WHERE id = 1;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER rule_state_generation AFTER INSERT OR UPDATE OR DELETE ON rule_state
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION state_generation_bump();
--postgres CREATE TRIGGER devices_generation AFTER INSERT OR UPDATE OR DELETE ON devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION state_generation_bump();

-- +goose Down
-- sqlite only {
DROP TRIGGER devices_deleted;
DROP TRIGGER devices_updated;
DROP TRIGGER devices_inserted;
DROP TRIGGER rule_state_deleted;
DROP TRIGGER rule_state_updated;
DROP TRIGGER rule_state_inserted;
-- } sqlite only
--postgres DROP TRIGGER devices_generation ON devices;
--postgres DROP TRIGGER rule_state_generation ON rule_state;
--postgres DROP FUNCTION state_generation_bump();
DROP TABLE state_generation;
