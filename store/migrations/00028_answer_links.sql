-- Answer links and notices that follow the task (CONTRACT.md §12): a
-- notice keeps the task's state and the answers it offers (their links
-- carry tokens: sealed like the message), and each link's token is kept
-- hashed, bound to one task and one family contact.

-- +goose Up
ALTER TABLE notices ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE notices ADD COLUMN actions TEXT NOT NULL DEFAULT '';

CREATE TABLE answer_tokens (
    hash         TEXT    NOT NULL PRIMARY KEY,
    task_id      TEXT    NOT NULL REFERENCES tasks (id),
    household_id TEXT    NOT NULL REFERENCES households (id),
    contact      TEXT    NOT NULL,
    lang         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX answer_tokens_task ON answer_tokens (task_id);

-- +goose Down
DROP INDEX answer_tokens_task;
DROP TABLE answer_tokens;
ALTER TABLE notices DROP COLUMN actions;
ALTER TABLE notices DROP COLUMN state;
