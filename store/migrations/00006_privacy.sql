-- Privacy: households' medical notes and privacy settings, and the grants
-- that let one person see a household's sensitive fields for a while.
--
-- Sensitive values (households.contacts, households.medical_notes,
-- notices.address) are written by the store encrypted with the field key
-- (AES-256-GCM), as TEXT "enc:v1:<base64 of nonce and ciphertext>"; a value
-- without that prefix is plaintext, written before the key was given. SQL
-- alone cannot encrypt: store.Open encrypts such rows when it is given the key
-- (see store/fields.go), so this migration only adds the columns.

-- +goose Up

ALTER TABLE households ADD COLUMN medical_notes TEXT NOT NULL DEFAULT '';
-- JSON object: signal → audiences (registry.Privacy); '{}' for the defaults.
ALTER TABLE households ADD COLUMN privacy TEXT NOT NULL DEFAULT '{}';

CREATE TABLE access_grants (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    household_id TEXT    NOT NULL REFERENCES households (id),
    -- JSON array of sensitive field names (registry.SensitiveFields).
    fields       TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    granted_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- The grant is in force from created_at until just before until_at.
    until_at     INTEGER NOT NULL
);

CREATE INDEX access_grants_user ON access_grants (user_id, household_id, until_at);
CREATE INDEX access_grants_household ON access_grants (household_id, seq);

-- +goose Down

DROP TABLE access_grants;
ALTER TABLE households DROP COLUMN privacy;
ALTER TABLE households DROP COLUMN medical_notes;
