-- Where in the home a device is ("kitchen", "卧室"), so that the office
-- tells a home's several motion sensors apart; empty: not said.

-- +goose Up
ALTER TABLE devices ADD COLUMN location TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE devices DROP COLUMN location;
