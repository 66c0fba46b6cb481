-- The households whose own row sets their rules apart from the defaults: a
-- time zone of their own, a care level other than self_care. A start reads
-- only these (store.HouseholdRuleFields), not a million households' rows to
-- learn that they have the defaults (docs/performance.md, "Restart, third
-- round"). The condition is spelt as the query spells it: SQLite uses a
-- partial index only then.

-- +goose Up
CREATE INDEX households_rule_fields ON households (id)
    WHERE deleted_at IS NULL AND (timezone <> '' OR care_level NOT IN ('', 'self_care'));

-- +goose Down
DROP INDEX households_rule_fields;
