-- People who log in, and their sessions.

-- +goose Up

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    role          TEXT    NOT NULL,
    -- The worker record of a grid worker or supervisor; '' for others.
    worker_id     TEXT    NOT NULL DEFAULT '',
    -- The one household a family member sees; '' for others.
    household_id  TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

CREATE INDEX users_household ON users (household_id);

-- A session token is stored only as its SHA-256: a copy of the database
-- gives no one a way in.
CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);

CREATE INDEX sessions_expiry ON sessions (expires_at);

-- +goose Down

DROP TABLE sessions;
DROP TABLE users;
