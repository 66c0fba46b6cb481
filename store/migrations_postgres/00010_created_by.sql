-- Who registered each user and worker: a user id, or 'admin' for the admin
-- token. A supervisor may not grant sensitive fields to whoever vouched for
-- them (docs/privacy.md, "Threat model"). Rows written before this
-- migration have '' (not known).

-- +goose Up
ALTER TABLE users ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE workers ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workers DROP COLUMN created_by;
ALTER TABLE users DROP COLUMN created_by;
