-- How many households (not deleted) and devices are registered, kept by
-- triggers as rows come and go, so that /metrics reads one row instead of
-- counting a million (docs/performance.md, "Toward a million households").
-- Triggers rather than the store's own bookkeeping: every writer, every
-- monitor sharing a PostgreSQL database and every rollback stays counted.

-- +goose Up
CREATE TABLE registry_counts (
    name TEXT   NOT NULL PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO registry_counts (name, n) SELECT 'households', COUNT(*) FROM households WHERE deleted_at IS NULL;
INSERT INTO registry_counts (name, n) SELECT 'devices', COUNT(*) FROM devices;

-- +goose StatementBegin
CREATE FUNCTION households_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        delta := delta + 1;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.deleted_at IS NULL THEN
        delta := delta - 1;
    END IF;
    IF delta <> 0 THEN
        UPDATE registry_counts SET n = n + delta WHERE name = 'households';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER households_counted AFTER INSERT OR DELETE OR UPDATE OF deleted_at ON households
    FOR EACH ROW EXECUTE FUNCTION households_count();

-- +goose StatementBegin
CREATE FUNCTION devices_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registry_counts SET n = n + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END WHERE name = 'devices';
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER devices_counted AFTER INSERT OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_count();

-- +goose Down
DROP TRIGGER devices_counted ON devices;
DROP FUNCTION devices_count();
DROP TRIGGER households_counted ON households;
DROP FUNCTION households_count();
DROP TABLE registry_counts;
