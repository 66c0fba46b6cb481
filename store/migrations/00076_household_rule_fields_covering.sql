-- The households set apart from the defaults (migration 00071), indexed with
-- the columns a start reads of them, so that the query reads the index
-- alone. A city's spreadsheet registers every household with its zone,
-- which is most often the monitor's own: then every household is in the
-- index, and looking up each one's row was 0.6-0.7 s of a restart at
-- 1,000,000 households; read from the index alone, 0.2 s
-- (docs/performance.md, "Twenty-first round").

-- +goose Up
DROP INDEX households_rule_fields;
CREATE INDEX households_rule_fields ON households (id, timezone, care_level, deleted_at)
    WHERE deleted_at IS NULL AND (timezone <> '' OR care_level NOT IN ('', 'self_care'));

-- +goose Down
DROP INDEX households_rule_fields;
CREATE INDEX households_rule_fields ON households (id)
    WHERE deleted_at IS NULL AND (timezone <> '' OR care_level NOT IN ('', 'self_care'));
