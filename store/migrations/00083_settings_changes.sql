-- What a standby follows of the households' rule settings (CONTRACT §15):
-- a household's time zone, care level, threshold overrides and away
-- periods. Each write of them, and each household registered, notes the
-- household here, with the settings generation that write moved (holding
-- state_generation's row lock until it commits, as the rule states'
-- generation does, migration 00082), so that a standby reads the
-- settings of the households changed since instead of every household's
-- at its takeover: with 300,000 households in a care level with rules of
-- its own at 1,000,000, that read took 6.2 s of the takeover
-- (docs/performance.md, "Thirty-sixth round"). A registration is noted so
-- that a household erased and registered again under its id while a
-- standby was not reading is rebuilt from what the store holds; a
-- tombstone (deleted_at set) is not noted. A household's row goes with
-- the household (an erasure). On SQLite every trigger inserts into the
-- view settings_noted, whose one trigger does the noting; on PostgreSQL
-- a function for each kind of row does, and moves the generation only when the
-- statement changed rows (an upsert fires both its INSERT and its UPDATE
-- triggers, a DELETE of nothing fires too).

-- +goose Up
ALTER TABLE state_generation ADD COLUMN settings INTEGER NOT NULL DEFAULT 0;
CREATE TABLE settings_changes (
    household_id TEXT    NOT NULL PRIMARY KEY REFERENCES households (id) ON DELETE CASCADE,
    generation   INTEGER NOT NULL
);
--postgres CREATE INDEX settings_changes_generation ON settings_changes (generation);
-- sqlite only {
CREATE VIEW settings_noted AS SELECT household_id FROM settings_changes;
-- +goose StatementBegin
CREATE TRIGGER settings_noted_insert INSTEAD OF INSERT ON settings_noted
BEGIN
    UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
    INSERT INTO settings_changes (household_id, generation)
        SELECT NEW.household_id, settings FROM state_generation WHERE id = 1
        ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER household_thresholds_inserted_settings AFTER INSERT ON household_thresholds
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER household_thresholds_updated_settings AFTER UPDATE ON household_thresholds
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER household_thresholds_deleted_settings AFTER DELETE ON household_thresholds
BEGIN INSERT INTO settings_noted (household_id) VALUES (OLD.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER away_periods_inserted_settings AFTER INSERT ON away_periods
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER away_periods_updated_settings AFTER UPDATE ON away_periods
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER away_periods_deleted_settings AFTER DELETE ON away_periods
BEGIN INSERT INTO settings_noted (household_id) VALUES (OLD.household_id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER households_settings_updated AFTER UPDATE OF timezone, care_level ON households
WHEN NEW.timezone IS NOT OLD.timezone OR NEW.care_level IS NOT OLD.care_level
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.id); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER households_settings_inserted AFTER INSERT ON households
WHEN NEW.deleted_at IS NULL
BEGIN INSERT INTO settings_noted (household_id) VALUES (NEW.id); END;
-- +goose StatementEnd
-- } sqlite only
-- +goose StatementBegin
--postgres CREATE FUNCTION settings_changes_note() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF EXISTS (SELECT 1 FROM changed) THEN
--postgres         UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
--postgres         INSERT INTO settings_changes (household_id, generation)
--postgres             SELECT DISTINCT household_id, (SELECT settings FROM state_generation WHERE id = 1) FROM changed
--postgres             ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
-- +goose StatementBegin
--postgres CREATE FUNCTION settings_changes_note_household() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF EXISTS (SELECT 1 FROM changed c JOIN before_change b ON b.id = c.id
--postgres             WHERE c.timezone IS DISTINCT FROM b.timezone OR c.care_level IS DISTINCT FROM b.care_level) THEN
--postgres         UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
--postgres         INSERT INTO settings_changes (household_id, generation)
--postgres             SELECT c.id, (SELECT settings FROM state_generation WHERE id = 1) FROM changed c JOIN before_change b ON b.id = c.id
--postgres                 WHERE c.timezone IS DISTINCT FROM b.timezone OR c.care_level IS DISTINCT FROM b.care_level
--postgres             ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
-- +goose StatementBegin
--postgres CREATE FUNCTION settings_changes_note_registered() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF EXISTS (SELECT 1 FROM changed WHERE deleted_at IS NULL) THEN
--postgres         UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
--postgres         INSERT INTO settings_changes (household_id, generation)
--postgres             SELECT id, (SELECT settings FROM state_generation WHERE id = 1) FROM changed WHERE deleted_at IS NULL
--postgres             ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER household_thresholds_insert_settings AFTER INSERT ON household_thresholds
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER household_thresholds_update_settings AFTER UPDATE ON household_thresholds
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER household_thresholds_delete_settings AFTER DELETE ON household_thresholds
--postgres     REFERENCING OLD TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER away_periods_insert_settings AFTER INSERT ON away_periods
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER away_periods_update_settings AFTER UPDATE ON away_periods
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER away_periods_delete_settings AFTER DELETE ON away_periods
--postgres     REFERENCING OLD TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note();
--postgres CREATE TRIGGER households_update_settings AFTER UPDATE ON households
--postgres     REFERENCING OLD TABLE AS before_change NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note_household();
--postgres CREATE TRIGGER households_insert_settings AFTER INSERT ON households
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note_registered();

-- +goose Down
--postgres DROP TRIGGER households_insert_settings ON households;
--postgres DROP TRIGGER households_update_settings ON households;
--postgres DROP TRIGGER household_thresholds_insert_settings ON household_thresholds;
--postgres DROP TRIGGER household_thresholds_update_settings ON household_thresholds;
--postgres DROP TRIGGER household_thresholds_delete_settings ON household_thresholds;
--postgres DROP TRIGGER away_periods_insert_settings ON away_periods;
--postgres DROP TRIGGER away_periods_update_settings ON away_periods;
--postgres DROP TRIGGER away_periods_delete_settings ON away_periods;
--postgres DROP FUNCTION settings_changes_note_registered();
--postgres DROP FUNCTION settings_changes_note_household();
--postgres DROP FUNCTION settings_changes_note();
-- sqlite only {
DROP TRIGGER household_thresholds_inserted_settings;
DROP TRIGGER household_thresholds_updated_settings;
DROP TRIGGER household_thresholds_deleted_settings;
DROP TRIGGER away_periods_inserted_settings;
DROP TRIGGER away_periods_updated_settings;
DROP TRIGGER away_periods_deleted_settings;
DROP TRIGGER households_settings_updated;
DROP TRIGGER households_settings_inserted;
DROP TRIGGER settings_noted_insert;
DROP VIEW settings_noted;
-- } sqlite only
DROP TABLE settings_changes;
ALTER TABLE state_generation DROP COLUMN settings;
