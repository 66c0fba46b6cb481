-- A second counter beside 00070's, moved by every write of a device only
-- (the triggers on devices move both): a snapshot whose rules' states are
-- older than the store's, after a crash or a start that ran on, still holds
-- the registered devices while this one has not moved, and a start reads
-- them from it and only the states from the store (docs/performance.md,
-- "Thirty-second round"). The devices' triggers are 00070's, made again to
-- move both counters in one update. The device counter takes the state
-- counter's new value rather than counting on its own: it then never comes
-- back to a value it had unless the state counter does (a database
-- restored from a backup, then written to), and a snapshot of the devices
-- before is not taken for the devices after.

-- +goose Up
ALTER TABLE state_generation ADD COLUMN devices INTEGER NOT NULL DEFAULT 0;
UPDATE state_generation SET devices = n WHERE id = 1;
-- sqlite only {
DROP TRIGGER devices_inserted;
DROP TRIGGER devices_updated;
DROP TRIGGER devices_deleted;
-- +goose StatementBegin
CREATE TRIGGER devices_inserted AFTER INSERT ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_updated AFTER UPDATE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_deleted AFTER DELETE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- } sqlite only
-- +goose StatementBegin
--postgres CREATE FUNCTION device_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres DROP TRIGGER devices_generation ON devices;
--postgres CREATE TRIGGER devices_generation AFTER INSERT OR UPDATE OR DELETE ON devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION device_generation_bump();

-- +goose Down
-- sqlite only {
DROP TRIGGER devices_inserted;
DROP TRIGGER devices_updated;
DROP TRIGGER devices_deleted;
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
--postgres DROP TRIGGER devices_generation ON devices;
--postgres CREATE TRIGGER devices_generation AFTER INSERT OR UPDATE OR DELETE ON devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION state_generation_bump();
--postgres DROP FUNCTION device_generation_bump();
ALTER TABLE state_generation DROP COLUMN devices;
