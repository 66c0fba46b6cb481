-- The meters' registers kept in the order the readings roll-up writes
-- them: by household, then device (WITHOUT ROWID: the rows in the key's
-- B-tree, where a table with a text key keeps them in the order they were
-- first written, which in a city is any order). A flush writes up to an
-- eighth of the meters sorted so (history.Rollup), and neighbours then
-- share pages; each register was a page of its own (docs/performance.md,
-- "Thirtieth round"). A row is some 60 bytes, so the B-tree keeps few
-- levels, unlike rule_state's first try (twenty-second round). A meter's
-- id stays unique, by an index that a reading's upsert only reads; 00008's
-- index by household is the key now. PostgreSQL keeps its tables as heaps:
-- nothing to change there.

-- +goose Up
-- sqlite only {
CREATE TABLE meter_registers_by_household (
    household_id TEXT    NOT NULL,
    device_id    TEXT    NOT NULL UNIQUE,
    field        TEXT    NOT NULL,
    value        REAL    NOT NULL,
    read_at      INTEGER NOT NULL,
    PRIMARY KEY (household_id, device_id)
) WITHOUT ROWID;
INSERT INTO meter_registers_by_household (household_id, device_id, field, value, read_at)
    SELECT household_id, device_id, field, value, read_at FROM meter_registers
    ORDER BY household_id, device_id;
DROP TABLE meter_registers;
ALTER TABLE meter_registers_by_household RENAME TO meter_registers;
-- } sqlite only

-- +goose Down
-- sqlite only {
CREATE TABLE meter_registers_by_rowid (
    device_id    TEXT    NOT NULL PRIMARY KEY,
    household_id TEXT    NOT NULL,
    field        TEXT    NOT NULL,
    value        REAL    NOT NULL,
    read_at      INTEGER NOT NULL
);
INSERT INTO meter_registers_by_rowid (device_id, household_id, field, value, read_at)
    SELECT device_id, household_id, field, value, read_at FROM meter_registers;
DROP TABLE meter_registers;
ALTER TABLE meter_registers_by_rowid RENAME TO meter_registers;
CREATE INDEX meter_registers_household ON meter_registers (household_id);
-- } sqlite only
