-- Ratings (CONTRACT.md §13): a family's stars for a resolved visit, one per
-- task and rater (a family user, later a contact through an answer link).

-- +goose Up
CREATE TABLE task_ratings (
    task_id  TEXT    NOT NULL REFERENCES tasks (id),
    rated_by TEXT    NOT NULL,
    stars    INTEGER NOT NULL,
    comment  TEXT    NOT NULL DEFAULT '',
    at       BIGINT  NOT NULL,
    PRIMARY KEY (task_id, rated_by)
);

-- +goose Down
DROP TABLE task_ratings;
