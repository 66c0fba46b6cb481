-- The audit log: every read and change of personal data through the API.
-- Append-only by convention and verifiable by construction: each row carries
-- the hash of the row before it (see package audit), and the newest row's
-- position is kept apart in audit_head, so removing rows from the end is
-- noticed too. Rows are never updated or deleted by eldersafe.

-- +goose Up

CREATE TABLE audit_log (
    -- Numbered from 1 without gaps: a gap is a removed entry.
    seq       BIGINT  PRIMARY KEY,
    at        BIGINT  NOT NULL,
    actor     TEXT    NOT NULL,
    role      TEXT    NOT NULL DEFAULT '',
    action    TEXT    NOT NULL,
    object    TEXT    NOT NULL,
    remote    TEXT    NOT NULL DEFAULT '',
    reason    TEXT    NOT NULL DEFAULT '',
    prev_hash TEXT    NOT NULL DEFAULT '',
    hash      TEXT    NOT NULL
);

CREATE INDEX audit_log_object ON audit_log (object, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- One row: where the log ends.
CREATE TABLE audit_head (
    id   BIGINT  PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL,
    -- HMAC of seq and hash with the audit key: the head cannot be moved back.
    mac  TEXT    NOT NULL
);

-- +goose Down

DROP TABLE audit_head;
DROP TABLE audit_log;
