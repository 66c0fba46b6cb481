-- How many tasks are open (neither resolved nor cancelled) by severity and
-- kind, kept by triggers as tasks open, move and close, so that /metrics
-- reads a few rows instead of counting every open task: with two routine
-- visits a month each, a million households keep two million open
-- (docs/performance.md, "Open tasks without a count"). Triggers, as for
-- registry_counts (00038): every writer and every rollback stays counted.

-- +goose Up
CREATE TABLE open_task_counts (
    severity TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (severity, kind)
);
INSERT INTO open_task_counts (severity, kind, n)
    SELECT severity, kind, COUNT(*) FROM tasks
    WHERE state NOT IN ('resolved', 'cancelled')
    GROUP BY severity, kind;

-- sqlite only {
-- +goose StatementBegin
CREATE TRIGGER tasks_open_counted AFTER INSERT ON tasks
WHEN NEW.state NOT IN ('resolved', 'cancelled')
BEGIN
    INSERT INTO open_task_counts (severity, kind, n) VALUES (NEW.severity, NEW.kind, 1)
        ON CONFLICT (severity, kind) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_open_uncounted AFTER DELETE ON tasks
WHEN OLD.state NOT IN ('resolved', 'cancelled')
BEGIN
    UPDATE open_task_counts SET n = n - 1 WHERE severity = OLD.severity AND kind = OLD.kind;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_open_recounted AFTER UPDATE OF state, severity, kind ON tasks
WHEN OLD.state NOT IN ('resolved', 'cancelled') OR NEW.state NOT IN ('resolved', 'cancelled')
BEGIN
    UPDATE open_task_counts SET n = n - 1
        WHERE OLD.state NOT IN ('resolved', 'cancelled') AND severity = OLD.severity AND kind = OLD.kind;
    INSERT INTO open_task_counts (severity, kind, n)
        SELECT NEW.severity, NEW.kind, 1 WHERE NEW.state NOT IN ('resolved', 'cancelled')
        ON CONFLICT (severity, kind) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- } sqlite only

-- +goose StatementBegin
--postgres CREATE FUNCTION open_task_count() RETURNS trigger LANGUAGE plpgsql AS $$
--postgres BEGIN
--postgres     IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.state NOT IN ('resolved', 'cancelled') THEN
--postgres         UPDATE open_task_counts SET n = n - 1 WHERE severity = OLD.severity AND kind = OLD.kind;
--postgres     END IF;
--postgres     IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state NOT IN ('resolved', 'cancelled') THEN
--postgres         INSERT INTO open_task_counts (severity, kind, n) VALUES (NEW.severity, NEW.kind, 1)
--postgres             ON CONFLICT (severity, kind) DO UPDATE SET n = open_task_counts.n + 1;
--postgres     END IF;
--postgres     RETURN NULL;
--postgres END
--postgres $$;
-- +goose StatementEnd
--postgres CREATE TRIGGER tasks_open_counted AFTER INSERT OR DELETE OR UPDATE OF state, severity, kind ON tasks
--postgres     FOR EACH ROW EXECUTE FUNCTION open_task_count();

-- +goose Down
-- sqlite only {
DROP TRIGGER tasks_open_recounted;
DROP TRIGGER tasks_open_uncounted;
DROP TRIGGER tasks_open_counted;
-- } sqlite only
--postgres DROP TRIGGER tasks_open_counted ON tasks;
--postgres DROP FUNCTION open_task_count();
DROP TABLE open_task_counts;
