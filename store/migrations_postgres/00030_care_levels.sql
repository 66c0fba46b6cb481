-- Care levels and routine visits (CONTRACT.md §13).
--
-- A household's care level picks the thresholds profile and how many
-- routine visits it gets a month. Routine visits are tasks with a due date;
-- a household has several open at once, so the one-open-task-per-rule index
-- leaves rule routine_visit out. routine_months records which months a
-- household's visits were scheduled for, so a restart or a second pass never
-- schedules them twice.

-- +goose Up
ALTER TABLE households ADD COLUMN care_level TEXT NOT NULL DEFAULT 'self_care';

ALTER TABLE tasks ADD COLUMN due_at BIGINT;
CREATE INDEX tasks_kind_due ON tasks (kind, due_at);

DROP INDEX tasks_one_open_per_rule;
CREATE UNIQUE INDEX tasks_one_open_per_rule ON tasks (household_id, rule)
    WHERE state NOT IN ('resolved', 'cancelled') AND rule <> 'routine_visit';

CREATE TABLE routine_months (
    household_id TEXT    NOT NULL,
    month        TEXT    NOT NULL, -- YYYY-MM in the monitor's time zone
    visits       INTEGER NOT NULL,
    scheduled_at BIGINT  NOT NULL,
    PRIMARY KEY (household_id, month)
);

-- +goose Down
DROP TABLE routine_months;
DROP INDEX tasks_one_open_per_rule;
CREATE UNIQUE INDEX tasks_one_open_per_rule ON tasks (household_id, rule)
    WHERE state NOT IN ('resolved', 'cancelled');
DROP INDEX tasks_kind_due;
ALTER TABLE tasks DROP COLUMN due_at;
ALTER TABLE households DROP COLUMN care_level;
