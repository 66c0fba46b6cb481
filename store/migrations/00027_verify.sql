-- Verification before dispatch (CONTRACT.md §12): when a task opened
-- verifying goes to a worker unless someone answers. While verifying, its
-- ack_due_at is this moment too, so the escalation index finds it.

-- +goose Up
ALTER TABLE tasks ADD COLUMN verify_until INTEGER;

-- +goose Down
ALTER TABLE tasks DROP COLUMN verify_until;
