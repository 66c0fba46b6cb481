-- Rating links (CONTRACT.md §13): a family notice's link token serves one
-- purpose, the answer to a verifying task's check (as before) or the rating
-- of a resolved visit; a token never does the other's work.

-- +goose Up
ALTER TABLE answer_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'answer';

-- +goose Down
ALTER TABLE answer_tokens DROP COLUMN purpose;
