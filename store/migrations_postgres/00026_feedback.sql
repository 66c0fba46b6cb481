-- Outcome feedback (CONTRACT.md §12): tasks resolved false_alarm with a
-- reason, and the suggestions they made, which an operator approves (a
-- household override) or rejects.

-- +goose Up
CREATE TABLE false_alarms (
    task_id      TEXT    NOT NULL PRIMARY KEY,
    household_id TEXT    NOT NULL REFERENCES households (id),
    rule         TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    at           BIGINT  NOT NULL
);
CREATE INDEX false_alarms_recent ON false_alarms (household_id, rule, reason, at);

CREATE TABLE suggestions (
    id           TEXT    NOT NULL PRIMARY KEY,
    household_id TEXT    NOT NULL REFERENCES households (id),
    rule         TEXT    NOT NULL,
    param        TEXT    NOT NULL,
    from_value   TEXT    NOT NULL, -- JSON
    to_value     TEXT    NOT NULL, -- JSON
    because      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    decided_at   BIGINT ,
    decided_by   TEXT    NOT NULL DEFAULT ''
);
-- One pending suggestion per household and parameter: a third false alarm
-- does not pile a second one on.
CREATE UNIQUE INDEX suggestions_pending ON suggestions (household_id, rule, param) WHERE status = 'pending';

-- +goose Down
DROP INDEX suggestions_pending;
DROP TABLE suggestions;
DROP INDEX false_alarms_recent;
DROP TABLE false_alarms;
