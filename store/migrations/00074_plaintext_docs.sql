-- The task evidence and timeline documents that may hold a sensitive value
-- (a location, a heart rate) still in plaintext, as migration 00073 did
-- for households and notices: the store looks for them at every start
-- (store.encryptDocs), and a routine visit adds to both tables for each
-- visit, so without these a start read every document ever written (at
-- 1,000,000 households, a month's 2,000,000 routine visits: 2.3 s, and
-- more each month; docs/performance.md). The conditions are spelt as
-- plaintextDocsWhere (fields.go) spells them, keys and prefix included:
-- SQLite uses a partial index only then.

-- +goose Up
CREATE INDEX task_evidence_plaintext ON task_evidence (seq)
    WHERE values_json IS NOT NULL AND substr(values_json, 1, 7) <> 'enc:v1:'
      AND (values_json LIKE '%"lat"%' OR values_json LIKE '%"lon"%' OR values_json LIKE '%"accuracy_m"%' OR values_json LIKE '%"heart_rate"%');
CREATE INDEX task_timeline_plaintext ON task_timeline (seq)
    WHERE data_json IS NOT NULL AND substr(data_json, 1, 7) <> 'enc:v1:'
      AND (data_json LIKE '%"lat"%' OR data_json LIKE '%"lon"%' OR data_json LIKE '%"accuracy_m"%' OR data_json LIKE '%"heart_rate"%');

-- +goose Down
DROP INDEX task_timeline_plaintext;
DROP INDEX task_evidence_plaintext;
