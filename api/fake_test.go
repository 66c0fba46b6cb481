package api

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/tasks"
)

// memStore is an in-memory stand-in for store.DB: the registry, tasks with
// their evidence and timelines, and the outbox. It returns the same sentinel
// errors, wrapped the same way, as the real store.
type memStore struct {
	mu    sync.Mutex
	state memState
}

type memState struct {
	grids      map[string]registry.Grid
	workers    map[string]registry.Worker
	workerSeq  []string // registration order
	households map[string]registry.Household
	devices    map[string]registry.Device
	tasks      map[string]tasks.Task
	taskSeq    map[string]int
	evidence   map[string][]rules.Evidence
	timeline   map[string][]tasks.TimelineEntry
	notices    []tasks.Notice
}

var (
	_ Registry      = (*memStore)(nil)
	_ Notifications = (*memStore)(nil)
	_ tasks.Store   = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{state: memState{
		grids:      map[string]registry.Grid{},
		workers:    map[string]registry.Worker{},
		households: map[string]registry.Household{},
		devices:    map[string]registry.Device{},
		tasks:      map[string]tasks.Task{},
		taskSeq:    map[string]int{},
		evidence:   map[string][]rules.Evidence{},
		timeline:   map[string][]tasks.TimelineEntry{},
	}}
}

func (s memState) clone() memState {
	c := memState{
		grids:      maps.Clone(s.grids),
		workers:    maps.Clone(s.workers),
		workerSeq:  slices.Clone(s.workerSeq),
		households: maps.Clone(s.households),
		devices:    maps.Clone(s.devices),
		tasks:      maps.Clone(s.tasks),
		taskSeq:    maps.Clone(s.taskSeq),
		evidence:   map[string][]rules.Evidence{},
		timeline:   map[string][]tasks.TimelineEntry{},
		notices:    slices.Clone(s.notices),
	}
	for k, v := range s.evidence {
		c.evidence[k] = slices.Clone(v)
	}
	for k, v := range s.timeline {
		c.timeline[k] = slices.Clone(v)
	}
	return c
}

func (m *memStore) CreateGrid(_ context.Context, g registry.Grid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.grids[g.ID]; ok {
		return fmt.Errorf("create grid %s: %w", g.ID, registry.ErrConflict)
	}
	m.state.grids[g.ID] = g
	return nil
}

func (m *memStore) CreateWorker(_ context.Context, w registry.Worker) error {
	if err := w.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.workers[w.ID]; ok {
		return fmt.Errorf("create worker %s: %w", w.ID, registry.ErrConflict)
	}
	for _, g := range w.GridIDs {
		if _, ok := m.state.grids[g]; !ok {
			return fmt.Errorf("create worker %s: grid_ids %q: %w", w.ID, g, registry.ErrUnknownReference)
		}
	}
	m.state.workers[w.ID] = w
	m.state.workerSeq = append(m.state.workerSeq, w.ID)
	return nil
}

func (m *memStore) CreateHousehold(_ context.Context, h registry.Household) error {
	if err := h.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.households[h.ID]; ok {
		return fmt.Errorf("create household %s: %w", h.ID, registry.ErrConflict)
	}
	if _, ok := m.state.grids[h.GridID]; !ok {
		return fmt.Errorf("create household %s: grid_id %q: %w", h.ID, h.GridID, registry.ErrUnknownReference)
	}
	m.state.households[h.ID] = h
	return nil
}

func (m *memStore) CreateDevice(_ context.Context, d registry.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.devices[d.ID]; ok {
		return fmt.Errorf("create device %s: %w", d.ID, registry.ErrConflict)
	}
	if _, ok := m.state.households[d.HouseholdID]; !ok {
		return fmt.Errorf("create device %s: household_id %q: %w", d.ID, d.HouseholdID, registry.ErrUnknownReference)
	}
	m.state.devices[d.ID] = d
	return nil
}

func (m *memStore) Household(_ context.Context, id string) (registry.Household, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.household(id)
}

func (s *memState) household(id string) (registry.Household, error) {
	h, ok := s.households[id]
	if !ok {
		return registry.Household{}, fmt.Errorf("household %s: %w", id, registry.ErrNotFound)
	}
	return h, nil
}

func (m *memStore) DevicesOf(_ context.Context, householdID string) ([]registry.Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.state.households[householdID]; !ok {
		return nil, fmt.Errorf("devices of household %s: %w", householdID, registry.ErrNotFound)
	}
	list := []registry.Device{}
	for _, d := range m.state.devices {
		if d.HouseholdID == householdID {
			list = append(list, d)
		}
	}
	slices.SortFunc(list, func(a, b registry.Device) int { return cmp.Compare(a.ID, b.ID) })
	return list, nil
}

func (m *memStore) device(id string) registry.Device {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.devices[id]
}

func (m *memStore) worker(id string) registry.Worker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.workers[id]
}

// Update runs fn against a copy of the state and keeps the copy only when fn
// succeeds: all or nothing, as a transaction.
func (m *memStore) Update(_ context.Context, fn func(tasks.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{s: m.state.clone()}
	if err := fn(tx); err != nil {
		return err
	}
	m.state = tx.s
	return nil
}

func (m *memStore) Task(_ context.Context, id string) (tasks.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.state.tasks[id]
	if !ok {
		return tasks.Task{}, fmt.Errorf("task %s: %w", id, registry.ErrNotFound)
	}
	t.Evidence = slices.Clone(m.state.evidence[id])
	t.Timeline = slices.Clone(m.state.timeline[id])
	return t, nil
}

func (m *memStore) Tasks(_ context.Context, f tasks.Filter) ([]tasks.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := []tasks.Task{}
	for _, t := range m.state.tasks {
		if (f.State == "" || t.State == f.State) && (f.HouseholdID == "" || t.HouseholdID == f.HouseholdID) &&
			(f.Rule == "" || t.Rule == f.Rule) && (f.AssigneeID == "" || t.AssigneeID == f.AssigneeID) {
			list = append(list, t)
		}
	}
	slices.SortFunc(list, func(a, b tasks.Task) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), cmp.Compare(m.state.taskSeq[b.ID], m.state.taskSeq[a.ID]))
	})
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	return list[:min(limit, 5000, len(list))], nil
}

// DueForEscalation is store.DB's query over the map, earliest deadline first.
func (m *memStore) DueForEscalation(_ context.Context, now time.Time, limit int) ([]tasks.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type due struct {
		t  tasks.Task
		at time.Time
	}
	var list []due
	for _, t := range m.state.tasks {
		switch {
		case t.State == tasks.Open && !t.AckDueAt.After(now):
			list = append(list, due{t, t.AckDueAt})
		case t.State == tasks.Acknowledged && !t.ResolveDueAt.After(now) && (t.EscalatedAt == nil || t.EscalatedAt.Before(t.ResolveDueAt)):
			list = append(list, due{t, t.ResolveDueAt})
		}
	}
	slices.SortFunc(list, func(a, b due) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(m.state.taskSeq[a.t.ID], m.state.taskSeq[b.t.ID]))
	})
	out := []tasks.Task{}
	for _, d := range list[:min(limit, len(list))] {
		out = append(out, d.t)
	}
	return out, nil
}

// SLASamples is store.DB's join of tasks and households over the maps.
func (m *memStore) SLASamples(_ context.Context, from, to time.Time, gridID string) ([]tasks.SLASample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := []tasks.SLASample{}
	for _, t := range m.state.tasks {
		h := m.state.households[t.HouseholdID]
		if t.OpenedAt.Before(from) || !t.OpenedAt.Before(to) || (gridID != "" && h.GridID != gridID) {
			continue
		}
		list = append(list, tasks.SLASample{GridID: h.GridID, Severity: t.Severity, State: t.State, OpenedAt: t.OpenedAt,
			AckDueAt: t.AckDueAt, ResolveDueAt: t.ResolveDueAt, AckedAt: t.AckedAt, ClosedAt: t.ClosedAt})
	}
	return list, nil
}

func (m *memStore) Notifications(_ context.Context, taskID string) ([]tasks.Notice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := []tasks.Notice{}
	for _, n := range m.state.notices {
		if n.TaskID == taskID {
			list = append(list, n)
		}
	}
	return list, nil
}

// setNotice replaces a notice, as a delivery attempt would.
func (m *memStore) setNotice(n tasks.Notice) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.state.notices {
		if m.state.notices[i].ID == n.ID {
			m.state.notices[i] = n
		}
	}
}

type memTx struct{ s memState }

func (tx *memTx) OpenTaskFor(_ context.Context, householdID, rule string) (tasks.Task, bool, error) {
	for _, t := range tx.s.tasks {
		if t.HouseholdID == householdID && t.Rule == rule && !t.State.Closed() {
			return t, true, nil
		}
	}
	return tasks.Task{}, false, nil
}

func (tx *memTx) Task(_ context.Context, id string) (tasks.Task, error) {
	t, ok := tx.s.tasks[id]
	if !ok {
		return tasks.Task{}, fmt.Errorf("task %s: %w", id, registry.ErrNotFound)
	}
	return t, nil
}

func (tx *memTx) InsertTask(_ context.Context, t tasks.Task) error {
	if _, ok := tx.s.tasks[t.ID]; ok {
		return fmt.Errorf("insert task %s: %w", t.ID, registry.ErrConflict)
	}
	t.Evidence, t.Timeline = nil, nil
	tx.s.tasks[t.ID] = t
	tx.s.taskSeq[t.ID] = len(tx.s.taskSeq) + 1
	return nil
}

func (tx *memTx) UpdateTask(_ context.Context, t tasks.Task) error {
	if _, ok := tx.s.tasks[t.ID]; !ok {
		return fmt.Errorf("update task %s: %w", t.ID, registry.ErrNotFound)
	}
	t.Evidence, t.Timeline = nil, nil
	tx.s.tasks[t.ID] = t
	return nil
}

func (tx *memTx) AddEvidence(_ context.Context, taskID string, ev rules.Evidence) error {
	if _, ok := tx.s.tasks[taskID]; !ok {
		return fmt.Errorf("task: %w", registry.ErrNotFound)
	}
	tx.s.evidence[taskID] = append(tx.s.evidence[taskID], ev)
	return nil
}

func (tx *memTx) AddTimeline(_ context.Context, taskID string, e tasks.TimelineEntry) error {
	if _, ok := tx.s.tasks[taskID]; !ok {
		return fmt.Errorf("task: %w", registry.ErrNotFound)
	}
	tx.s.timeline[taskID] = append(tx.s.timeline[taskID], e)
	return nil
}

func (tx *memTx) Enqueue(_ context.Context, n tasks.Notice) error {
	tx.s.notices = append(tx.s.notices, n)
	return nil
}

func (tx *memTx) LastNoticeAt(_ context.Context, k tasks.NoticeKey) (time.Time, bool, error) {
	var (
		last  time.Time
		found bool
	)
	for _, n := range tx.s.notices {
		if n.Key() == k && n.Status != tasks.NoticeFailed && (!found || n.CreatedAt.After(last)) {
			last, found = n.CreatedAt, true
		}
	}
	return last, found, nil
}

func (tx *memTx) Household(_ context.Context, id string) (registry.Household, error) {
	return tx.s.household(id)
}

func (tx *memTx) Grid(_ context.Context, id string) (registry.Grid, error) {
	g, ok := tx.s.grids[id]
	if !ok {
		return registry.Grid{}, fmt.Errorf("grid %s: %w", id, registry.ErrNotFound)
	}
	return g, nil
}

func (tx *memTx) Worker(_ context.Context, id string) (registry.Worker, error) {
	w, ok := tx.s.workers[id]
	if !ok {
		return registry.Worker{}, fmt.Errorf("worker %s: %w", id, registry.ErrNotFound)
	}
	return w, nil
}

func (tx *memTx) PrimaryWorker(_ context.Context, gridID string) (registry.Worker, error) {
	for _, id := range tx.s.workerSeq {
		w := tx.s.workers[id]
		if w.Role == registry.RoleGridWorker && slices.Contains(w.GridIDs, gridID) {
			return w, nil
		}
	}
	return registry.Worker{}, fmt.Errorf("primary worker of grid %s: %w", gridID, registry.ErrNotFound)
}

// fixedClock is the tasks service's clock in tests.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// plainComposer writes notices without templates.
type plainComposer struct{}

func (plainComposer) Compose(m tasks.Message) (string, string, error) {
	return m.Task.Rule, m.Event + " " + m.Task.Rule + " at " + m.Household.Name, nil
}

// fakeEventClock records the times it was advanced to; err, when set, is what
// Advance returns.
type fakeEventClock struct {
	mu       sync.Mutex
	advanced []time.Time
	err      error
}

func (c *fakeEventClock) Advance(ts time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return time.Time{}, c.err
	}
	c.advanced = append(c.advanced, ts)
	now := ts
	for _, t := range c.advanced {
		if t.After(now) {
			now = t
		}
	}
	return now, nil
}

func (c *fakeEventClock) calls() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.advanced)
}
