-- How many households (not deleted) and devices are registered, kept by
-- triggers as rows come and go, so that /metrics reads one row instead of
-- counting a million (docs/performance.md, "Toward a million households").
-- Triggers rather than the store's own bookkeeping: every writer, every
-- monitor sharing a PostgreSQL database and every rollback stays counted.
-- Triggers have no spelling common to both databases: SQLite's are in a
-- sqlite-only block, PostgreSQL's (a function each) on --postgres lines.

-- +goose Up
CREATE TABLE registry_counts (
    name TEXT    NOT NULL PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO registry_counts (name, n) SELECT 'households', COUNT(*) FROM households WHERE deleted_at IS NULL;
INSERT INTO registry_counts (name, n) SELECT 'devices', COUNT(*) FROM devices;

-- sqlite only {
-- +goose StatementBegin
CREATE TRIGGER households_counted AFTER INSERT ON households WHEN NEW.deleted_at IS NULL
BEGIN
    UPDATE registry_counts SET n = n + 1 WHERE name = 'households';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER households_uncounted AFTER DELETE ON households WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE registry_counts SET n = n - 1 WHERE name = 'households';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER households_recounted AFTER UPDATE OF deleted_at ON households
WHEN (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
BEGIN
    UPDATE registry_counts SET n = n + CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE -1 END WHERE name = 'households';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_counted AFTER INSERT ON devices
BEGIN
    UPDATE registry_counts SET n = n + 1 WHERE name = 'devices';
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_uncounted AFTER DELETE ON devices
BEGIN
    UPDATE registry_counts SET n = n - 1 WHERE name = 'devices';
END;
-- +goose StatementEnd
-- } sqlite only

-- +goose StatementBegin
--postgres CREATE FUNCTION households_count() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres DECLARE
--postgres     delta BIGINT := 0;
--postgres BEGIN
--postgres     IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
--postgres         delta := delta + 1;
--postgres     END IF;
--postgres     IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.deleted_at IS NULL THEN
--postgres         delta := delta - 1;
--postgres     END IF;
--postgres     IF delta <> 0 THEN
--postgres         UPDATE registry_counts SET n = n + delta WHERE name = 'households';
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER households_counted AFTER INSERT OR DELETE OR UPDATE OF deleted_at ON households
--postgres     FOR EACH ROW EXECUTE FUNCTION households_count();
-- +goose StatementBegin
--postgres CREATE FUNCTION devices_count() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     UPDATE registry_counts SET n = n + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END WHERE name = 'devices';
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER devices_counted AFTER INSERT OR DELETE ON devices
--postgres     FOR EACH ROW EXECUTE FUNCTION devices_count();

-- +goose Down
-- sqlite only {
DROP TRIGGER devices_uncounted;
DROP TRIGGER devices_counted;
DROP TRIGGER households_recounted;
DROP TRIGGER households_uncounted;
DROP TRIGGER households_counted;
-- } sqlite only
--postgres DROP TRIGGER devices_counted ON devices;
--postgres DROP FUNCTION devices_count();
--postgres DROP TRIGGER households_counted ON households;
--postgres DROP FUNCTION households_count();
DROP TABLE registry_counts;
