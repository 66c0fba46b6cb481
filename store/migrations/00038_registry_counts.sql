-- How many households (not deleted) and devices are registered, kept by
-- triggers as rows come and go, so that /metrics reads one row instead of
-- counting a million (docs/performance.md, "Toward a million households").
-- Triggers rather than the store's own bookkeeping: every writer, every
-- monitor sharing a PostgreSQL database and every rollback stays counted.

-- +goose Up
CREATE TABLE registry_counts (
    name TEXT    NOT NULL PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO registry_counts (name, n) SELECT 'households', COUNT(*) FROM households WHERE deleted_at IS NULL;
INSERT INTO registry_counts (name, n) SELECT 'devices', COUNT(*) FROM devices;

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

-- +goose Down
DROP TRIGGER devices_uncounted;
DROP TRIGGER devices_counted;
DROP TRIGGER households_recounted;
DROP TRIGGER households_uncounted;
DROP TRIGGER households_counted;
DROP TABLE registry_counts;
