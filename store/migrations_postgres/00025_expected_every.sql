-- How often a device reports when not its kind's usual (expected_every,
-- docs/rules.md#sensor-health), in minutes; 0: its kind's.

-- +goose Up
ALTER TABLE devices ADD COLUMN expected_every_min BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE devices DROP COLUMN expected_every_min;
