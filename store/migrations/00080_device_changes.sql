-- Which households' devices were written since a device generation: a
-- start after a crash takes the devices from the last clean stop's
-- snapshot, and reads from the store only those of the households
-- registered, or given a device, since (docs/performance.md,
-- "Thirty-third round"), instead of all nine million at a million
-- households. One row a household, its generation the device counter's
-- value after the write. A device removed (its household erased), moved to
-- another household, renamed or made another kind (by hand: the API does
-- none of these) is not a change a snapshot can be mended with: devices_removed
-- records the generation, and a start after it reads every device from
-- the store. changes_from is the generation from which the
-- table is complete: a snapshot older than it (taken before this
-- migration) is not mended. The row is the household's, so an erasure
-- deletes it (store/erase.go sweeps every household_id column).

-- +goose Up
CREATE TABLE device_changes (
    household_id TEXT NOT NULL PRIMARY KEY,
    generation   INTEGER NOT NULL
);
ALTER TABLE state_generation ADD COLUMN devices_removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state_generation ADD COLUMN changes_from INTEGER NOT NULL DEFAULT 0;
UPDATE state_generation SET changes_from = devices WHERE id = 1;
-- sqlite only {
DROP TRIGGER devices_inserted;
DROP TRIGGER devices_updated;
DROP TRIGGER devices_deleted;
-- +goose StatementBegin
CREATE TRIGGER devices_inserted AFTER INSERT ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
    INSERT INTO device_changes (household_id, generation)
        SELECT NEW.household_id, devices FROM state_generation WHERE id = 1
        ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_updated AFTER UPDATE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1 WHERE id = 1;
    UPDATE state_generation SET devices_removed = devices
        WHERE id = 1 AND (OLD.id <> NEW.id OR OLD.household_id <> NEW.household_id OR OLD.kind <> NEW.kind);
    INSERT INTO device_changes (household_id, generation)
        SELECT NEW.household_id, devices FROM state_generation WHERE id = 1
        ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_deleted AFTER DELETE ON devices
BEGIN
    UPDATE state_generation SET n = n + 1, devices = n + 1, devices_removed = n + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- } sqlite only
-- PostgreSQL's triggers run by name: these after devices_generation, which
-- moves the counters, so they read its new value (and hold its row lock:
-- a writer beside them waits, and notes its own value).
-- +goose StatementBegin
--postgres CREATE FUNCTION device_changes_note() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     INSERT INTO device_changes (household_id, generation)
--postgres         SELECT DISTINCT household_id, (SELECT devices FROM state_generation WHERE id = 1) FROM written_devices
--postgres         ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
-- +goose StatementBegin
--postgres CREATE FUNCTION device_moves_note() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF EXISTS (SELECT id, household_id, kind FROM before_devices EXCEPT SELECT id, household_id, kind FROM written_devices) THEN
--postgres         UPDATE state_generation SET devices_removed = devices WHERE id = 1;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
-- +goose StatementBegin
--postgres CREATE FUNCTION device_removals_note() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF EXISTS (SELECT 1 FROM removed_devices) THEN
--postgres         UPDATE state_generation SET devices_removed = devices WHERE id = 1;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER devices_inserted_note AFTER INSERT ON devices
--postgres     REFERENCING NEW TABLE AS written_devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION device_changes_note();
--postgres CREATE TRIGGER devices_updated_note AFTER UPDATE ON devices
--postgres     REFERENCING NEW TABLE AS written_devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION device_changes_note();
--postgres CREATE TRIGGER devices_updated_moves AFTER UPDATE ON devices
--postgres     REFERENCING OLD TABLE AS before_devices NEW TABLE AS written_devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION device_moves_note();
--postgres CREATE TRIGGER devices_removed_note AFTER DELETE ON devices
--postgres     REFERENCING OLD TABLE AS removed_devices
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION device_removals_note();

-- +goose Down
--postgres DROP TRIGGER devices_removed_note ON devices;
--postgres DROP TRIGGER devices_updated_moves ON devices;
--postgres DROP TRIGGER devices_updated_note ON devices;
--postgres DROP TRIGGER devices_inserted_note ON devices;
--postgres DROP FUNCTION device_removals_note();
--postgres DROP FUNCTION device_moves_note();
--postgres DROP FUNCTION device_changes_note();
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
ALTER TABLE state_generation DROP COLUMN changes_from;
ALTER TABLE state_generation DROP COLUMN devices_removed;
DROP TABLE device_changes;
