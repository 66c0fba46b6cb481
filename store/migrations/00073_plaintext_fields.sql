-- The households and notices whose sensitive fields are still plaintext:
-- written before fields were encrypted, or by a store opened without a
-- key on a database that had none. Opened with its key, the store
-- encrypts them (store.encryptPlaintext) at every start; these indexes
-- hold exactly those rows, none once encrypted, so that a start reads no
-- row instead of every household and notice (at 1,000,000 households a
-- 1.5 GB scan: 0.6 s from the page cache, 4.4 s from disk;
-- docs/performance.md, "Import, fifth round"). The conditions are spelt as
-- the queries spell them (fields.go): SQLite uses a partial index only then.

-- +goose Up
CREATE INDEX households_plaintext ON households (id)
    WHERE (contacts NOT IN ('', '[]') AND substr(contacts, 1, 7) <> 'enc:v1:')
       OR (medical_notes <> '' AND substr(medical_notes, 1, 7) <> 'enc:v1:');
CREATE INDEX notices_plaintext ON notices (id)
    WHERE (address <> '' AND substr(address, 1, 7) <> 'enc:v1:')
       OR (message <> '' AND substr(message, 1, 7) <> 'enc:v1:');

-- +goose Down
DROP INDEX notices_plaintext;
DROP INDEX households_plaintext;
