-- Erasure: deleting a household (the resident's right to be forgotten)
-- leaves a tombstone in its place, so that its tasks keep counting in the SLA
-- report without saying whose they were.
--
-- A tombstone is a households row with an anonymous id ("deleted~" and 16
-- random hex digits: not a valid registry id, so nothing can be registered
-- under it or refer to it), the deleted household's grid, no name, address,
-- contacts, medical notes or privacy settings, and deleted_at set. The
-- household's tasks and notices are moved to it, anonymised; everything else
-- of the household is deleted (store/erase.go). Lookups of a household skip
-- tombstones; the SLA report joins them for their grid.

-- +goose Up

ALTER TABLE households ADD COLUMN deleted_at BIGINT;

-- +goose Down

ALTER TABLE households DROP COLUMN deleted_at;
