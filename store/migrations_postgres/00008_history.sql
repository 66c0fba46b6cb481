-- The readings roll-up: the console's charts when InfluxDB is not
-- configured (history.Rollup, docs/operations.md#readings-history).
--
-- Same portable style as 00001_init.sql. Both tables have a household_id
-- column, so erasing a household (store/erase.go) sweeps them too.

-- +goose Up

-- Per household and hour (hour_at: the hour's start, Unix ms UTC), what the
-- household's readings amount to: litres of water and kWh of power the
-- meters counted, motion events and door openings. Rows are added to, never
-- rewritten, and pruned after 31 days.
CREATE TABLE reading_hourly (
    household_id  TEXT    NOT NULL,
    hour_at       BIGINT  NOT NULL,
    water_liters  DOUBLE PRECISION    NOT NULL DEFAULT 0,
    motion_events BIGINT  NOT NULL DEFAULT 0,
    door_openings BIGINT  NOT NULL DEFAULT 0,
    power_kwh     DOUBLE PRECISION    NOT NULL DEFAULT 0,
    PRIMARY KEY (household_id, hour_at)
);

CREATE INDEX reading_hourly_hour ON reading_hourly (hour_at);

-- The last reading of every meter's cumulative register (field: total_liters
-- or total_kwh), so that what a meter counts next is not lost to a restart.
CREATE TABLE meter_registers (
    device_id    TEXT    NOT NULL PRIMARY KEY,
    household_id TEXT    NOT NULL,
    field        TEXT    NOT NULL,
    value        DOUBLE PRECISION    NOT NULL,
    read_at      BIGINT  NOT NULL
);

CREATE INDEX meter_registers_household ON meter_registers (household_id);

-- +goose Down

DROP TABLE meter_registers;
DROP TABLE reading_hourly;
