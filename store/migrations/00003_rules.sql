-- eldersafe schema, version 3: what the rules engine needs across restarts.
--
-- Same portable style as 00001_init.sql: times are INTEGER Unix milliseconds
-- UTC in columns ending in _at; JSON documents are TEXT; seq gives insertion
-- order and the public id is TEXT UNIQUE. One addition: rule_state.data is
-- the engine's binary checkpoint, a BLOB (PostgreSQL: BYTEA).

-- +goose Up

-- The rules engine's checkpoint: one binary record per household
-- (rules.State.Data, versioned by its first byte). No foreign key: a
-- checkpoint batch must never fail on one household, and households are
-- never deleted.
CREATE TABLE rule_state (
    household_id TEXT    NOT NULL PRIMARY KEY,
    data         BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- A household's threshold overrides, JSON {"rule": {"param": value}}, as
-- PUT /api/v1/households/{id}/thresholds set them. No row: no overrides.
CREATE TABLE household_thresholds (
    household_id TEXT    NOT NULL PRIMARY KEY REFERENCES households (id),
    thresholds   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Periods during which a household is away: welfare rules open no task.
CREATE TABLE away_periods (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    household_id TEXT    NOT NULL REFERENCES households (id),
    from_at      INTEGER NOT NULL,
    until_at     INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX away_periods_household ON away_periods (household_id, until_at);
CREATE INDEX away_periods_until ON away_periods (until_at);

-- +goose Down

DROP TABLE away_periods;
DROP TABLE household_thresholds;
DROP TABLE rule_state;
