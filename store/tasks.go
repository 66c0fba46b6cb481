package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

var (
	_ tasks.Store = (*DB)(nil)
	_ tasks.Tx    = (*taskTx)(nil)
)

// Listing limits of Tasks.
const (
	DefaultTaskLimit = 500
	MaxTaskLimit     = 5000
)

// Update runs fn in one IMMEDIATE transaction: everything fn writes through the
// tasks.Tx is committed together, or nothing is when fn returns an error (or
// panics). fn's error is returned as is. fn must not use the Tx after it
// returns, nor call the DB's write methods (see the package documentation).
func (db *DB) Update(ctx context.Context, fn func(tasks.Tx) error) error {
	tx, done, err := db.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("update tasks: %w", err)
	}
	defer done()
	defer tx.Rollback()
	if err := fn(&taskTx{tx: db.prepared(tx), fields: db.fields, dialect: db.dialect}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update tasks: commit: %w", err)
	}
	return nil
}

// Task loads one task with its evidence and timeline, both in insertion order.
func (db *DB) Task(ctx context.Context, id string) (tasks.Task, error) {
	var t tasks.Task
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = getTask(ctx, tx, id); err != nil {
			return err
		}
		if t.Evidence, err = taskEvidence(ctx, tx, db.fields, id); err != nil {
			return fmt.Errorf("load evidence of task %s: %w", id, err)
		}
		if t.Timeline, err = taskTimeline(ctx, tx, db.fields, id); err != nil {
			return fmt.Errorf("load timeline of task %s: %w", id, err)
		}
		t.Answers = tasks.AnswersOf(t.Timeline)
		return nil
	})
	return t, err
}

// Tasks lists the tasks matching f, newest first (by opened_at, then by
// insertion), without evidence and timeline. f.Limit defaults to
// DefaultTaskLimit and is capped at MaxTaskLimit.
func (db *DB) Tasks(ctx context.Context, f tasks.Filter) ([]tasks.Task, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, val string }{
		{"state", string(f.State)},
		{"household_id", f.HouseholdID},
		{"rule", f.Rule},
		{"assignee_id", f.AssigneeID},
		{"kind", string(f.Kind)},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.Kind == "" && !f.WithRoutine && f.Rule != rules.RuleRoutineVisit {
		where = append(where, "kind <> ?")
		args = append(args, string(rules.RoutineVisit))
	}
	if !f.DueBefore.IsZero() {
		where = append(where, "due_at < ?")
		args = append(args, toMS(f.DueBefore))
	}
	if f.GridIDs != nil {
		// A caller scoped to some grids; none at all sees nothing.
		where = append(where, `household_id IN (SELECT id FROM households WHERE grid_id `+db.dialect.inList()+`)`)
		args = append(args, listArg(f.GridIDs))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultTaskLimit
	}
	limit = min(limit, MaxTaskLimit)
	query := `SELECT ` + taskCols + ` FROM tasks`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY opened_at DESC, seq DESC LIMIT ?`
	args = append(args, limit)

	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	list := []tasks.Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return list, nil
}

// OpenTaskCounts counts the tasks that are not closed (resolved or cancelled)
// by {severity, kind}. Combinations without tasks are absent from the map.
// Triggers keep the counts (migration 00072): a scrape reads a few rows.
func (db *DB) OpenTaskCounts(ctx context.Context) (map[[2]string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT severity, kind, n FROM open_task_counts WHERE n > 0`)
	if err != nil {
		return nil, fmt.Errorf("count open tasks: %w", err)
	}
	defer rows.Close()
	counts := map[[2]string]int{}
	for rows.Next() {
		var (
			severity, kind string
			n              int
		)
		if err := rows.Scan(&severity, &kind, &n); err != nil {
			return nil, fmt.Errorf("count open tasks: %w", err)
		}
		counts[[2]string{severity, kind}] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count open tasks: %w", err)
	}
	return counts, nil
}

// dueForEscalationQuery takes, for each of open, verifying and
// acknowledged: the state, now and the limit; then the limit. Each part
// reads its earliest tasks alone, in its index's order, up to the limit:
// sorting all of them, as one ORDER BY over the union did, read every open
// task to find the next deadline (a third of a second with 255,000 routine
// visits open, at every move of the clock; docs/performance.md).
const dueForEscalationQuery = `
	SELECT ` + taskCols + ` FROM (
		SELECT * FROM (
			SELECT ` + taskCols + `, ack_due_at AS due, seq FROM tasks
			WHERE state = ? AND ack_due_at <= ?
			ORDER BY ack_due_at, seq LIMIT ?) AS opened
		UNION ALL
		SELECT * FROM (
			SELECT ` + taskCols + `, ack_due_at AS due, seq FROM tasks
			WHERE state = ? AND ack_due_at <= ?
			ORDER BY ack_due_at, seq LIMIT ?) AS verifying
		UNION ALL
		SELECT * FROM (
			SELECT ` + taskCols + `, resolve_due_at AS due, seq FROM tasks
			WHERE state = ? AND resolve_due_at <= ? AND (escalated_at IS NULL OR escalated_at < resolve_due_at)
			ORDER BY resolve_due_at, seq LIMIT ?) AS acknowledged
	) AS due_tasks
	ORDER BY due, seq LIMIT ?`

// Listing limits of DueForEscalation.
const (
	DefaultEscalationLimit = 100
	MaxEscalationLimit     = 1000
)

// DueForEscalation lists the tasks that must escalate at now (see
// tasks.Store), earliest deadline first, without evidence and timeline. Each
// half of the query runs on its own (state, deadline) index, so a tick costs
// a range lookup, not a scan. limit defaults to DefaultEscalationLimit and is
// capped at MaxEscalationLimit.
func (db *DB) DueForEscalation(ctx context.Context, now time.Time, limit int) ([]tasks.Task, error) {
	if limit <= 0 {
		limit = DefaultEscalationLimit
	}
	limit = min(limit, MaxEscalationLimit)
	rows, err := db.r.QueryContext(ctx, dueForEscalationQuery,
		string(tasks.Open), toMS(now), limit, string(tasks.Verifying), toMS(now), limit, string(tasks.Acknowledged), toMS(now), limit, limit)
	if err != nil {
		return nil, fmt.Errorf("list tasks due for escalation: %w", err)
	}
	defer rows.Close()
	list := []tasks.Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks due for escalation: %w", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks due for escalation: %w", err)
	}
	return list, nil
}

// SLASamples lists the tasks opened in [from, to), with the grid of their
// household, in grid gridID only unless it is empty. Order is unspecified.
func (db *DB) SLASamples(ctx context.Context, from, to time.Time, gridID string) ([]tasks.SLASample, error) {
	// Routine visits have a report of their own (RoutineSamples): a planned
	// call is not measured against an alarm's deadlines.
	query := `
		SELECT h.grid_id, t.severity, t.state, t.opened_at, t.ack_due_at, t.resolve_due_at, t.acked_at, t.closed_at,
			COALESCE(r.n, 0), COALESCE(r.stars, 0)
		FROM tasks t JOIN households h ON h.id = t.household_id
		LEFT JOIN (SELECT task_id, COUNT(*) AS n, SUM(stars) AS stars FROM task_ratings GROUP BY task_id) r ON r.task_id = t.id
		WHERE t.opened_at >= ? AND t.opened_at < ? AND t.kind <> ?`
	args := []any{toMS(from), toMS(to), string(rules.RoutineVisit)}
	if gridID != "" {
		query += ` AND h.grid_id = ?`
		args = append(args, gridID)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list SLA samples: %w", err)
	}
	defer rows.Close()
	list := []tasks.SLASample{}
	for rows.Next() {
		var (
			s                          tasks.SLASample
			severity, state            string
			opened, ackDue, resolveDue int64
			acked, closed              sql.NullInt64
		)
		if err := rows.Scan(&s.GridID, &severity, &state, &opened, &ackDue, &resolveDue, &acked, &closed, &s.Ratings, &s.RatingStars); err != nil {
			return nil, fmt.Errorf("list SLA samples: %w", err)
		}
		s.Severity, s.State = rules.Severity(severity), tasks.State(state)
		s.OpenedAt, s.AckDueAt, s.ResolveDueAt = fromMS(opened), fromMS(ackDue), fromMS(resolveDue)
		s.AckedAt, s.ClosedAt = fromNullMS(acked), fromNullMS(closed)
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list SLA samples: %w", err)
	}
	return list, nil
}

// SLAWorkerSamples sums the ratings of the tasks opened in [from, to), per
// assignee and the grid of the task's household, in grid gridID only unless
// it is empty. Unlike SLASamples it counts routine visits: their ratings
// are of the worker who called. Order is unspecified.
func (db *DB) SLAWorkerSamples(ctx context.Context, from, to time.Time, gridID string) ([]tasks.SLAWorkerSample, error) {
	query := `
		SELECT t.assignee_id, h.grid_id, COUNT(*), SUM(r.stars)
		FROM task_ratings r JOIN tasks t ON t.id = r.task_id JOIN households h ON h.id = t.household_id
		WHERE t.opened_at >= ? AND t.opened_at < ? AND t.assignee_id <> ''`
	args := []any{toMS(from), toMS(to)}
	if gridID != "" {
		query += ` AND h.grid_id = ?`
		args = append(args, gridID)
	}
	rows, err := db.r.QueryContext(ctx, query+` GROUP BY t.assignee_id, h.grid_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list SLA worker samples: %w", err)
	}
	defer rows.Close()
	list := []tasks.SLAWorkerSample{}
	for rows.Next() {
		var s tasks.SLAWorkerSample
		if err := rows.Scan(&s.WorkerID, &s.GridID, &s.Ratings, &s.RatingStars); err != nil {
			return nil, fmt.Errorf("list SLA worker samples: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list SLA worker samples: %w", err)
	}
	return list, nil
}

// taskTx is tasks.Tx on one SQL transaction.
type taskTx struct {
	tx      *preparedTx
	fields  *fieldCipher
	dialect *dialect
}

func (t *taskTx) OpenTaskFor(ctx context.Context, householdID, rule string) (tasks.Task, bool, error) {
	task, err := scanTask(t.tx.QueryRowContext(ctx, `
		SELECT `+taskCols+` FROM tasks
		WHERE household_id = ? AND rule = ? AND state NOT IN (?, ?)
		ORDER BY seq DESC LIMIT 1`,
		householdID, rule, string(tasks.Resolved), string(tasks.Cancelled)))
	if errors.Is(err, sql.ErrNoRows) {
		return tasks.Task{}, false, nil
	}
	if err != nil {
		return tasks.Task{}, false, fmt.Errorf("find open %s task of household %s: %w", rule, householdID, err)
	}
	return task, true, nil
}

func (t *taskTx) Task(ctx context.Context, id string) (tasks.Task, error) {
	return getTask(ctx, t.tx, id)
}

// InsertTask stores a new task (its Evidence and Timeline are ignored: add them
// with AddEvidence and AddTimeline). A task id already taken, or a second task
// not closed for the same household and rule, is registry.ErrConflict; an
// unknown household is registry.ErrUnknownReference.
func (t *taskTx) InsertTask(ctx context.Context, task tasks.Task) error {
	if task.ID == "" {
		return errors.New("insert task: id is required")
	}
	if err := conflict(ctx, t.tx, `SELECT 1 FROM tasks WHERE id = ?`, task.ID); err != nil {
		return fmt.Errorf("insert task %s: %w", task.ID, err)
	}
	err := savepoint(ctx, t.tx, func() error {
		_, err := t.tx.ExecContext(ctx, insertTaskQuery, taskArgs(task)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert task %s: %w", task.ID, taskWriteError(task, err))
	}
	return nil
}

// InsertTasks stores new tasks with their Evidence and Timeline, up to
// batchRows rows a statement and without a savepoint each: the month's
// routine visits, two or more a household for every household, paid five
// round trips and a savepoint a visit, which held PostgreSQL to 430
// households a second (docs/performance.md, "Thirty-seventh round"). A
// task refused (as InsertTask refuses it) fails the call without saying
// which: a caller that must know inserts fewer at a time.
func (t *taskTx) InsertTasks(ctx context.Context, ts []tasks.Task) error {
	if err := t.insertTasks(ctx, ts); err != nil {
		return fmt.Errorf("insert %d tasks: %w", len(ts), err)
	}
	return nil
}

func (t *taskTx) insertTasks(ctx context.Context, ts []tasks.Task) error {
	rows := newRowBatch(t.tx.Tx, "tasks", taskCols)
	defer rows.close()
	for _, task := range ts {
		if task.ID == "" {
			return errors.New("a task's id is required")
		}
		if err := rows.add(taskArgs(task)...); err != nil {
			return err
		}
	}
	if err := rows.flush(ctx); err != nil {
		switch {
		case isUniqueViolation(err):
			return fmt.Errorf("a task's id is taken, or its household has an open task of its rule: %w: %w", registry.ErrConflict, err)
		case isForeignKeyViolation(err):
			return fmt.Errorf("a task's household is not registered: %w: %w", registry.ErrUnknownReference, err)
		}
		return err
	}
	// The tasks' rows first: the documents refer to them.
	evidence := newDocBatch(t, evidenceDocs)
	defer evidence.rows.close()
	timeline := newDocBatch(t, timelineDocs)
	defer timeline.rows.close()
	for _, task := range ts {
		for _, ev := range task.Evidence {
			if err := evidence.add(ctx, ev.Values, task.ID, toMS(ev.At), ev.DeviceID, ev.Summary); err != nil {
				return fmt.Errorf("evidence of task %s: %w", task.ID, err)
			}
		}
		for _, e := range task.Timeline {
			if err := timeline.add(ctx, e.Data, task.ID, toMS(e.At), e.Actor, e.Type, e.Message); err != nil {
				return fmt.Errorf("timeline of task %s: %w", task.ID, err)
			}
		}
	}
	if err := evidence.rows.flush(ctx); err != nil {
		return err
	}
	return timeline.rows.flush(ctx)
}

// docBatch queues rows of a table whose last column is a JSON document, as
// insertDoc writes them; a document to be sealed is written by insertDoc
// itself, after the rows queued before it, so that seq keeps their order.
type docBatch struct {
	t    *taskTx
	docs docTable
	rows *rowBatch
}

func newDocBatch(t *taskTx, docs docTable) *docBatch {
	return &docBatch{t: t, docs: docs, rows: newRowBatch(t.tx.Tx, docs.table, docs.cols)}
}

// add queues a row: args, then doc.
func (b *docBatch) add(ctx context.Context, doc map[string]any, args ...any) error {
	if sealsDoc(b.t.fields, doc) {
		if err := b.rows.flush(ctx); err != nil {
			return err
		}
		return insertDoc(ctx, b.t.tx, b.t.fields, b.docs, doc, args...)
	}
	text, err := jsonObject(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", b.docs.column, err)
	}
	return b.rows.add(append(args, text)...)
}

// UpdateTask saves every field of an existing task but its id (Evidence and
// Timeline are ignored).
func (t *taskTx) UpdateTask(ctx context.Context, task tasks.Task) error {
	args := taskArgs(task)
	var res sql.Result
	err := savepoint(ctx, t.tx, func() (err error) {
		res, err = t.tx.ExecContext(ctx, `
			UPDATE tasks SET household_id = ?, rule = ?, severity = ?, kind = ?, state = ?, assignee_id = ?,
				opened_at = ?, ack_due_at = ?, resolve_due_at = ?, acked_at = ?, on_site_at = ?, closed_at = ?,
				escalated_at = ?, outcome = ?, note = ?, due_at = ?, verify_until = ?
			WHERE id = ?`, append(append([]any{}, args[1:]...), args[0])...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update task %s: %w", task.ID, taskWriteError(task, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update task %s: %w", task.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update task %s: %w", task.ID, registry.ErrNotFound)
	}
	return nil
}

func taskWriteError(task tasks.Task, err error) error {
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("household %s already has an open %s task: %w", task.HouseholdID, task.Rule, registry.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("household_id %q: %w", task.HouseholdID, registry.ErrUnknownReference)
	}
	return err
}

func (t *taskTx) AddEvidence(ctx context.Context, taskID string, ev rules.Evidence) error {
	err := insertDoc(ctx, t.tx, t.fields, evidenceDocs, ev.Values, taskID, toMS(ev.At), ev.DeviceID, ev.Summary)
	if err != nil {
		return fmt.Errorf("add evidence to task %s: %w", taskID, childError(err))
	}
	return nil
}

func (t *taskTx) AddTimeline(ctx context.Context, taskID string, e tasks.TimelineEntry) error {
	if err := addTimeline(ctx, t.tx, t.fields, taskID, e); err != nil {
		return fmt.Errorf("add timeline entry to task %s: %w", taskID, err)
	}
	return nil
}

func addTimeline(ctx context.Context, q querier, c *fieldCipher, taskID string, e tasks.TimelineEntry) error {
	err := insertDoc(ctx, q, c, timelineDocs, e.Data, taskID, toMS(e.At), e.Actor, e.Type, e.Message)
	return childError(err)
}

// insertDoc inserts a row of docs.table, args then doc, the row's JSON
// document (evidence values, timeline data). A document holding a
// sensitive value is sealed with the row's seq as additional data, so the
// row goes in without it and then gets it.
func insertDoc(ctx context.Context, q querier, c *fieldCipher, docs docTable, doc map[string]any, args ...any) error {
	text, err := jsonObject(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", docs.column, err)
	}
	if !sealsDoc(c, doc) {
		_, err := q.ExecContext(ctx, docs.insert, append(args, text)...)
		return err
	}
	var seq int64
	if err := q.QueryRowContext(ctx, docs.insert+` RETURNING seq`, append(args, nil)...).Scan(&seq); err != nil {
		return err
	}
	sealedDoc, err := c.seal(text.String, docAAD(docs.table, docs.column, seq))
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE `+docs.table+` SET `+docs.column+` = ? WHERE seq = ?`, sealedDoc, seq)
	return err
}

// sealsDoc reports whether doc is stored sealed: it holds a sensitive
// value, and the store has a field key.
func sealsDoc(c *fieldCipher, doc map[string]any) bool { return c != nil && sensitiveDoc(doc) }

// childError maps a row naming a task that does not exist to registry.ErrNotFound.
func childError(err error) error {
	if isForeignKeyViolation(err) {
		return fmt.Errorf("task: %w", registry.ErrNotFound)
	}
	return err
}

func (t *taskTx) Enqueue(ctx context.Context, n tasks.Notice) error {
	if err := enqueue(ctx, t.tx, t.fields, n); err != nil {
		return fmt.Errorf("enqueue notice %s: %w", n.ID, err)
	}
	return nil
}

// LastNoticeAt is the created_at of the newest notice with key k that has not
// failed. A task has few notices: the notices_task index narrows it to them.
// Addresses are encrypted under random nonces, so they are compared here,
// decrypted, rather than in SQL.
func (t *taskTx) LastNoticeAt(ctx context.Context, k tasks.NoticeKey) (time.Time, bool, error) {
	fail := func(err error) (time.Time, bool, error) {
		return time.Time{}, false, fmt.Errorf("find last %s notice of task %s to %s: %w", k.Event, k.TaskID, k.Recipient, err)
	}
	rows, err := t.tx.QueryContext(ctx, `
		SELECT id, address, created_at FROM notices
		WHERE task_id = ? AND event = ? AND role = ? AND recipient = ? AND channel = ? AND status != ?
		ORDER BY created_at DESC`,
		k.TaskID, k.Event, k.Role, k.Recipient, k.Channel, tasks.NoticeFailed)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, address string
			created     int64
		)
		if err := rows.Scan(&id, &address, &created); err != nil {
			return fail(err)
		}
		if address, err = t.fields.open(address, addressAAD(id)); err != nil {
			return fail(err)
		}
		if address == k.Address {
			return fromMS(created), true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return time.Time{}, false, nil
}

func (t *taskTx) AddAnswerToken(ctx context.Context, tok tasks.AnswerToken) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO answer_tokens (hash, task_id, household_id, contact, lang, purpose, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tok.Hash, tok.TaskID, tok.HouseholdID, tok.Contact, tok.Lang, tok.Purpose, toMS(tok.CreatedAt))
	if err != nil {
		return fmt.Errorf("add answer token of task %s: %w", tok.TaskID, insertError(err))
	}
	return nil
}

// AnswerToken finds an answer link's token by its hash.
func (db *DB) AnswerToken(ctx context.Context, hash string) (tasks.AnswerToken, error) {
	var (
		tok     tasks.AnswerToken
		created int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT hash, task_id, household_id, contact, lang, purpose, created_at FROM answer_tokens WHERE hash = ?`, hash).
		Scan(&tok.Hash, &tok.TaskID, &tok.HouseholdID, &tok.Contact, &tok.Lang, &tok.Purpose, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return tasks.AnswerToken{}, fmt.Errorf("answer token: %w", registry.ErrNotFound)
	}
	if err != nil {
		return tasks.AnswerToken{}, fmt.Errorf("find answer token: %w", err)
	}
	tok.CreatedAt = fromMS(created)
	return tok, nil
}

func (t *taskTx) Wristbands(ctx context.Context, householdID string) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id FROM devices WHERE household_id = ? AND kind = ? ORDER BY id`,
		householdID, string(registry.Wristband))
	if err != nil {
		return nil, fmt.Errorf("list wristbands of household %s: %w", householdID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list wristbands of household %s: %w", householdID, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (t *taskTx) AddAwayPeriod(ctx context.Context, p registry.AwayPeriod) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := insertAwayPeriod(ctx, t.tx, p); err != nil {
		return fmt.Errorf("add away period %s: %w", p.ID, err)
	}
	return nil
}

func (t *taskTx) Household(ctx context.Context, id string) (registry.Household, error) {
	return getHousehold(ctx, t.tx, t.fields, id)
}

func (t *taskTx) Grid(ctx context.Context, id string) (registry.Grid, error) {
	return getGrid(ctx, t.tx, id)
}

func (t *taskTx) Worker(ctx context.Context, id string) (registry.Worker, error) {
	return getWorker(ctx, t.tx, id)
}

func (t *taskTx) PrimaryWorker(ctx context.Context, gridID string) (registry.Worker, error) {
	return primaryWorker(ctx, t.tx, gridID)
}

// docTable is a table of a task's documents: its columns, the document
// (column) last, and the insert of one row, built once rather than at each
// piece of evidence an alarm adds.
type docTable struct {
	table, column, cols, insert string
}

func newDocTable(table, cols string) docTable {
	return docTable{table: table, column: cols[strings.LastIndex(cols, " ")+1:], cols: cols, insert: insertRows(table, cols, 1)}
}

var (
	evidenceDocs = newDocTable("task_evidence", `task_id, at, device_id, summary, values_json`)
	timelineDocs = newDocTable("task_timeline", `task_id, at, actor, entry_type, message, data_json`)
)

const taskCols = `id, household_id, rule, severity, kind, state, assignee_id, opened_at, ack_due_at, resolve_due_at, acked_at, on_site_at, closed_at, escalated_at, outcome, note, due_at, verify_until`

// insertTaskQuery inserts a task's taskArgs.
var insertTaskQuery = insertRows("tasks", taskCols, 1)

// taskArgs are a task's values in taskCols order.
func taskArgs(t tasks.Task) []any {
	return []any{
		t.ID, t.HouseholdID, t.Rule, string(t.Severity), string(t.Kind), string(t.State), t.AssigneeID,
		toMS(t.OpenedAt), toMS(t.AckDueAt), toMS(t.ResolveDueAt),
		toNullMS(t.AckedAt), toNullMS(t.OnSiteAt), toNullMS(t.ClosedAt), toNullMS(t.EscalatedAt),
		t.Outcome, t.Note, toNullMS(t.DueAt), toNullMS(t.VerifyUntil),
	}
}

func scanTask(s scanner) (tasks.Task, error) {
	var (
		t                                      tasks.Task
		severity, kind, state                  string
		opened, ackDue, resolveDue             int64
		ackedAt, onSiteAt, closedAt, escalated sql.NullInt64
		dueAt, verifyUntil                     sql.NullInt64
	)
	err := s.Scan(&t.ID, &t.HouseholdID, &t.Rule, &severity, &kind, &state, &t.AssigneeID,
		&opened, &ackDue, &resolveDue, &ackedAt, &onSiteAt, &closedAt, &escalated, &t.Outcome, &t.Note, &dueAt, &verifyUntil)
	if err != nil {
		return tasks.Task{}, err
	}
	t.Severity, t.Kind, t.State = rules.Severity(severity), rules.TaskKind(kind), tasks.State(state)
	t.OpenedAt, t.AckDueAt, t.ResolveDueAt = fromMS(opened), fromMS(ackDue), fromMS(resolveDue)
	t.AckedAt, t.OnSiteAt, t.ClosedAt = fromNullMS(ackedAt), fromNullMS(onSiteAt), fromNullMS(closedAt)
	t.EscalatedAt, t.DueAt = fromNullMS(escalated), fromNullMS(dueAt)
	t.VerifyUntil = fromNullMS(verifyUntil)
	return t, nil
}

func getTask(ctx context.Context, q querier, id string) (tasks.Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return tasks.Task{}, fmt.Errorf("task %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return tasks.Task{}, fmt.Errorf("load task %s: %w", id, err)
	}
	return t, nil
}

func taskEvidence(ctx context.Context, q querier, c *fieldCipher, taskID string) ([]rules.Evidence, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT seq, at, device_id, summary, values_json FROM task_evidence WHERE task_id = ? ORDER BY seq`, taskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []rules.Evidence
	for rows.Next() {
		var (
			ev      rules.Evidence
			seq, at int64
			values  sql.NullString
		)
		if err := rows.Scan(&seq, &at, &ev.DeviceID, &ev.Summary, &values); err != nil {
			return nil, err
		}
		ev.At = fromMS(at)
		if ev.Values, err = openDoc(c, evidenceDocs.table, evidenceDocs.column, seq, values); err != nil {
			return nil, fmt.Errorf("decode values: %w", err)
		}
		list = append(list, ev)
	}
	return list, rows.Err()
}

func taskTimeline(ctx context.Context, q querier, c *fieldCipher, taskID string) ([]tasks.TimelineEntry, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT seq, at, actor, entry_type, message, data_json FROM task_timeline WHERE task_id = ? ORDER BY seq`, taskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []tasks.TimelineEntry
	for rows.Next() {
		var (
			e       tasks.TimelineEntry
			seq, at int64
			data    sql.NullString
		)
		if err := rows.Scan(&seq, &at, &e.Actor, &e.Type, &e.Message, &data); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		if e.Data, err = openDoc(c, timelineDocs.table, timelineDocs.column, seq, data); err != nil {
			return nil, fmt.Errorf("decode data: %w", err)
		}
		list = append(list, e)
	}
	return list, rows.Err()
}

// jsonObject encodes m as JSON text, or NULL when m is nil.
func jsonObject(m map[string]any) (sql.NullString, error) {
	if m == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// openDoc decodes a document stored in table.column, row seq, opening it
// first when it is sealed.
func openDoc(c *fieldCipher, table, column string, seq int64, stored sql.NullString) (map[string]any, error) {
	if stored.Valid && sealed(stored.String) {
		plain, err := c.open(stored.String, docAAD(table, column, seq))
		if err != nil {
			return nil, err
		}
		stored.String = plain
	}
	return decodeObject(stored)
}

func decodeObject(s sql.NullString) (map[string]any, error) {
	if !s.Valid {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, err
	}
	return m, nil
}
