-- A household registered is noted in settings_changes (migration 00083) as
-- a settings write: one erased and registered again under its id while a
-- standby was not reading (the second between two reads, or its load) is
-- then rebuilt from what the store holds, settings and all, rather than
-- keeping the erased household's. A tombstone (deleted_at set) is not
-- noted. PostgreSQL's note moves the generation only when a statement
-- changed rows: an upsert fires both its INSERT and its UPDATE triggers,
-- and a DELETE of nothing fires too.

-- +goose Up
-- sqlite only {
-- +goose StatementBegin
CREATE TRIGGER households_settings_inserted AFTER INSERT ON households
WHEN NEW.deleted_at IS NULL
BEGIN
    UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
    INSERT INTO settings_changes (household_id, generation)
        SELECT NEW.id, settings FROM state_generation WHERE id = 1
        ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
END;
-- +goose StatementEnd
-- } sqlite only
-- +goose StatementBegin
--postgres CREATE OR REPLACE FUNCTION settings_changes_note() RETURNS trigger LANGUAGE plpgsql AS $$
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
--postgres CREATE TRIGGER households_insert_settings AFTER INSERT ON households
--postgres     REFERENCING NEW TABLE AS changed
--postgres     FOR EACH STATEMENT EXECUTE FUNCTION settings_changes_note_registered();

-- +goose Down
--postgres DROP TRIGGER households_insert_settings ON households;
--postgres DROP FUNCTION settings_changes_note_registered();
-- +goose StatementBegin
--postgres CREATE OR REPLACE FUNCTION settings_changes_note() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     UPDATE state_generation SET settings = settings + 1 WHERE id = 1;
--postgres     INSERT INTO settings_changes (household_id, generation)
--postgres         SELECT DISTINCT household_id, (SELECT settings FROM state_generation WHERE id = 1) FROM changed
--postgres         ON CONFLICT (household_id) DO UPDATE SET generation = excluded.generation;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
-- sqlite only {
DROP TRIGGER households_settings_inserted;
-- } sqlite only
