-- eldersafe schema, version 1.
--
-- Portable by design, so that a PostgreSQL backend can follow with the same
-- tables and columns:
--   * plain types only: TEXT, INTEGER, REAL;
--   * every time is INTEGER Unix milliseconds UTC (column names end in _at);
--     a NULL is an absent optional time;
--   * JSON documents (contacts, evidence values, timeline data) are TEXT;
--   * seq columns give insertion order. SQLite spells them
--     INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL would use
--     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY. The public id of such
--     a table is then TEXT NOT NULL UNIQUE, which foreign keys refer to.

-- +goose Up

CREATE TABLE grids (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL,
    -- Workers, possibly registered after the grid: deliberately no foreign key.
    supervisor_id    TEXT    NOT NULL DEFAULT '',
    backup_worker_id TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL
);

CREATE TABLE workers (
    -- Registration order: the first grid_worker of a grid is its primary worker.
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    phone      TEXT    NOT NULL DEFAULT '',
    role       TEXT    NOT NULL,
    push_url   TEXT    NOT NULL DEFAULT '',
    lang       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE worker_grids (
    worker_id TEXT    NOT NULL REFERENCES workers (id),
    grid_id   TEXT    NOT NULL REFERENCES grids (id),
    -- Index of the grid in the worker's grid_ids, to give them back in order.
    position  INTEGER NOT NULL,
    PRIMARY KEY (worker_id, grid_id)
);

CREATE INDEX worker_grids_grid ON worker_grids (grid_id);

CREATE TABLE households (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    grid_id    TEXT    NOT NULL REFERENCES grids (id),
    timezone   TEXT    NOT NULL DEFAULT '',
    -- JSON array of registry.Contact.
    contacts   TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE INDEX households_grid ON households (grid_id);

CREATE TABLE devices (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    household_id TEXT    NOT NULL REFERENCES households (id),
    secret_hash  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);

CREATE INDEX devices_household ON devices (household_id);

CREATE TABLE tasks (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL UNIQUE,
    household_id   TEXT    NOT NULL REFERENCES households (id),
    rule           TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    assignee_id    TEXT    NOT NULL DEFAULT '',
    opened_at      INTEGER NOT NULL,
    ack_due_at     INTEGER NOT NULL,
    resolve_due_at INTEGER NOT NULL,
    acked_at       INTEGER,
    on_site_at     INTEGER,
    closed_at      INTEGER,
    outcome        TEXT    NOT NULL DEFAULT '',
    note           TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX tasks_household_rule_state ON tasks (household_id, rule, state);
-- At most one task per household and rule that is not closed, even under a race.
CREATE UNIQUE INDEX tasks_one_open_per_rule ON tasks (household_id, rule)
    WHERE state NOT IN ('resolved', 'cancelled');
CREATE INDEX tasks_opened ON tasks (opened_at, seq);
CREATE INDEX tasks_state ON tasks (state, opened_at);
CREATE INDEX tasks_assignee ON tasks (assignee_id, opened_at);

CREATE TABLE task_evidence (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT    NOT NULL REFERENCES tasks (id),
    at          INTEGER NOT NULL,
    device_id   TEXT    NOT NULL DEFAULT '',
    summary     TEXT    NOT NULL DEFAULT '',
    -- JSON object, NULL when the evidence has no values.
    values_json TEXT
);

CREATE INDEX task_evidence_task ON task_evidence (task_id, seq);

CREATE TABLE task_timeline (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT    NOT NULL REFERENCES tasks (id),
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL DEFAULT '',
    entry_type TEXT    NOT NULL,
    message    TEXT    NOT NULL DEFAULT '',
    -- JSON object, NULL when the entry has no data.
    data_json  TEXT
);

CREATE INDEX task_timeline_task ON task_timeline (task_id, seq);

-- The durable outbox: one row per message to one recipient on one channel.
CREATE TABLE notices (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    task_id         TEXT    NOT NULL REFERENCES tasks (id),
    household_id    TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    role            TEXT    NOT NULL DEFAULT '',
    recipient       TEXT    NOT NULL DEFAULT '',
    address         TEXT    NOT NULL DEFAULT '',
    lang            TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL DEFAULT '',
    message         TEXT    NOT NULL DEFAULT '',
    opened_at       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER
);

CREATE INDEX notices_task ON notices (task_id, seq);
CREATE INDEX notices_pending ON notices (next_attempt_at, seq) WHERE status = 'pending';

-- Small key/value state: admin token, event clock position, ...
CREATE TABLE settings (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down

DROP TABLE settings;
DROP TABLE notices;
DROP TABLE task_timeline;
DROP TABLE task_evidence;
DROP TABLE tasks;
DROP TABLE devices;
DROP TABLE households;
DROP TABLE worker_grids;
DROP TABLE workers;
DROP TABLE grids;
