-- The rules' saved states still in plaintext, as migrations 00073 and 00074
-- did for households, notices and task documents: written by a store
-- opened without a key, they are sealed at the next start with it
-- (store.encryptRuleStates), which without this index read every state
-- there is to find none (at 1,000,000 households a 730 MB scan: 0.6 s of
-- every restart from the page cache; docs/performance.md, "Restart, tenth
-- round"). The state is a blob: its first seven bytes are compared with
-- the prefix's bytes, spelt as the query spells them (fields.go), which
-- SQLite and PostgreSQL spell each their own way.

-- +goose Up
-- sqlite only {
CREATE INDEX rule_state_plaintext ON rule_state (household_id)
    WHERE length(data) > 0 AND substr(data, 1, 7) <> X'656E633A76313A';
-- } sqlite only
--postgres CREATE INDEX rule_state_plaintext ON rule_state (household_id) WHERE length(data) > 0 AND substr(data, 1, 7) <> '\x656e633a76313a'::bytea;

-- +goose Down
DROP INDEX rule_state_plaintext;
