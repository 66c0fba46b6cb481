-- Devices that speak their own formats (CONTRACT.md §14): the format, the
-- device's name on that format's topics, and the gateway that publishes for
-- it. Existing devices are native.

-- +goose Up
ALTER TABLE devices ADD COLUMN source TEXT NOT NULL DEFAULT 'native';
ALTER TABLE devices ADD COLUMN source_topic TEXT NOT NULL DEFAULT '';
-- A gateway's id, not a foreign key: deleting the household a gateway is
-- registered to must not fail because another household's devices name it.
ALTER TABLE devices ADD COLUMN gateway_id TEXT NOT NULL DEFAULT '';

-- Ingest finds a device by its topic: one device per topic of a source.
CREATE UNIQUE INDEX devices_source_topic ON devices (source, source_topic) WHERE source_topic <> '';

-- +goose Down
DROP INDEX devices_source_topic;
ALTER TABLE devices DROP COLUMN gateway_id;
ALTER TABLE devices DROP COLUMN source_topic;
ALTER TABLE devices DROP COLUMN source;
