-- eldersafe schema, version 2: task deadlines and notice events.
--
-- Escalation looks for tasks whose deadline passed every second (wall clock)
-- or at every move of the event clock, so both lookups are indexed: open
-- tasks by ack_due_at, acknowledged ones by resolve_due_at. escalated_at keeps
-- a task from escalating twice for the same deadline.
--
-- The rate limit looks for an earlier notice of the same event of a task to
-- the same person on the same channel; a task has few notices, so the
-- existing notices_task index serves it.

-- +goose Up

ALTER TABLE tasks ADD COLUMN escalated_at BIGINT;

CREATE INDEX tasks_state_ack_due ON tasks (state, ack_due_at);
CREATE INDEX tasks_state_resolve_due ON tasks (state, resolve_due_at);

ALTER TABLE notices ADD COLUMN event TEXT NOT NULL DEFAULT '';
-- Before version 2, every notice told of a task opening.
UPDATE notices SET event = 'opened';

-- +goose Down

ALTER TABLE notices DROP COLUMN event;
DROP INDEX tasks_state_resolve_due;
DROP INDEX tasks_state_ack_due;
ALTER TABLE tasks DROP COLUMN escalated_at;
