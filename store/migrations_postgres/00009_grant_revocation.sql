-- +goose Up
-- A supervisor may end a grant early: who and when are kept with it, and
-- until_at becomes the moment it ended.
ALTER TABLE access_grants ADD COLUMN revoked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE access_grants ADD COLUMN revoked_at BIGINT;

-- +goose Down
ALTER TABLE access_grants DROP COLUMN revoked_at;
ALTER TABLE access_grants DROP COLUMN revoked_by;
