package tasks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eldersafe/eldersafe/rules"
)

// DefaultSLAPeriod is how far back an SLA report reaches when not told.
const DefaultSLAPeriod = 30 * 24 * time.Hour

// SLAQuery selects the tasks of an SLA report: those opened in [From, To),
// in grid GridID (every grid when empty). A zero To is the domain clock's
// now; a zero From is DefaultSLAPeriod before To.
type SLAQuery struct {
	From, To time.Time
	GridID   string
}

// SLASample is what the SLA report needs of one task.
type SLASample struct {
	GridID                           string
	Severity                         rules.Severity
	State                            State
	OpenedAt, AckDueAt, ResolveDueAt time.Time
	AckedAt, ClosedAt                *time.Time
	// Ratings and RatingStars are how many ratings the task has and their stars' sum.
	Ratings, RatingStars int
}

// SLARow is how one grid met its deadlines for tasks of one severity.
// Durations are seconds from opened_at; a percentile is nil (JSON null) when
// no task gives a sample.
type SLARow struct {
	GridID   string         `json:"grid_id"`
	Severity rules.Severity `json:"severity"`
	// Count is every task opened in the period, whatever its state.
	Count int `json:"count"`
	// Ack percentiles are over the acknowledged tasks: acked_at − opened_at.
	AckP50 *float64 `json:"ack_p50_s"`
	AckP90 *float64 `json:"ack_p90_s"`
	// Resolve percentiles are over the resolved tasks: closed_at − opened_at.
	ResolveP50 *float64 `json:"resolve_p50_s"`
	ResolveP90 *float64 `json:"resolve_p90_s"`
	// AckOverdue counts tasks acknowledged after ack_due_at, or not
	// acknowledged while ack_due_at passed (before now, or before they were
	// cancelled).
	AckOverdue int `json:"ack_overdue"`
	// ResolveOverdue counts tasks closed after resolve_due_at, or still open
	// with resolve_due_at before now.
	ResolveOverdue int `json:"resolve_overdue"`
	// Ratings counts the families' ratings of the tasks, RatingAvg is
	// their mean stars (null without ratings).
	RatingAvg *float64 `json:"rating_avg"`
	Ratings   int      `json:"ratings"`
}

// SLAWorkerSample is how the families rated one worker's visits in one
// grid: how many ratings and their stars' sum.
type SLAWorkerSample struct {
	WorkerID, GridID     string
	Ratings, RatingStars int
}

// SLAWorkerRow is how the families rated one worker's visits, routine ones
// included, in one grid (a worker may serve several).
type SLAWorkerRow struct {
	WorkerID string `json:"worker_id"`
	GridID   string `json:"grid_id"`
	// RatingAvg is the mean stars of the worker's Ratings.
	RatingAvg *float64 `json:"rating_avg"`
	Ratings   int      `json:"ratings"`
}

// SLA reports, per grid and severity, how fast tasks were acknowledged and
// resolved and how many missed their deadlines, judged at the domain clock's
// now. Rows come by grid id, then most severe first; a grid and severity
// without tasks has no row.
func (s *Service) SLA(ctx context.Context, q SLAQuery) ([]SLARow, error) {
	q, now, err := s.slaPeriod(q)
	if err != nil {
		return nil, err
	}
	samples, err := s.opts.Store.SLASamples(ctx, q.From, q.To, q.GridID)
	if err != nil {
		return nil, fmt.Errorf("sla report: %w", err)
	}
	return slaRows(samples, now), nil
}

// SLAWorkers reports, per worker and grid, how the families rated the
// visits of the tasks q selects, routine visits included: a worker's
// planned calls are most of what families see of them. The worker is the
// task's assignee, who resolved it. Rows come by grid id, then worker id; a
// worker without ratings has no row.
func (s *Service) SLAWorkers(ctx context.Context, q SLAQuery) ([]SLAWorkerRow, error) {
	q, _, err := s.slaPeriod(q)
	if err != nil {
		return nil, err
	}
	samples, err := s.opts.Store.SLAWorkerSamples(ctx, q.From, q.To, q.GridID)
	if err != nil {
		return nil, fmt.Errorf("sla report, workers: %w", err)
	}
	rows := make([]SLAWorkerRow, 0, len(samples))
	for _, x := range samples {
		row := SLAWorkerRow{WorkerID: x.WorkerID, GridID: x.GridID, Ratings: x.Ratings}
		if x.Ratings > 0 {
			avg := float64(x.RatingStars) / float64(x.Ratings)
			row.RatingAvg = &avg
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b SLAWorkerRow) int {
		return cmp.Or(cmp.Compare(a.GridID, b.GridID), cmp.Compare(a.WorkerID, b.WorkerID))
	})
	return rows, nil
}

// slaPeriod fills q's defaults (see SLAQuery) and checks it, answering the
// domain clock's now too.
func (s *Service) slaPeriod(q SLAQuery) (SLAQuery, time.Time, error) {
	now := s.opts.Clock.Now()
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-DefaultSLAPeriod)
	}
	if !q.From.Before(q.To) {
		return q, now, invalidf("from %s must be before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return q, now, nil
}

func slaRows(samples []SLASample, now time.Time) []SLARow {
	type group struct {
		row           SLARow
		ack, resolved []float64
		stars         int
	}
	groups := map[[2]string]*group{}
	for _, x := range samples {
		key := [2]string{x.GridID, string(x.Severity)}
		g := groups[key]
		if g == nil {
			g = &group{row: SLARow{GridID: x.GridID, Severity: x.Severity}}
			groups[key] = g
		}
		g.row.Count++
		g.row.Ratings += x.Ratings
		g.stars += x.RatingStars
		// A deadline is missed when the task was still waiting for the step
		// after it: until the step was taken, the task closed, or now.
		ackEnd := cmp.Or(x.AckedAt, x.ClosedAt, &now)
		if ackEnd.After(x.AckDueAt) {
			g.row.AckOverdue++
		}
		if cmp.Or(x.ClosedAt, &now).After(x.ResolveDueAt) {
			g.row.ResolveOverdue++
		}
		if x.AckedAt != nil {
			g.ack = append(g.ack, x.AckedAt.Sub(x.OpenedAt).Seconds())
		}
		if x.State == Resolved && x.ClosedAt != nil {
			g.resolved = append(g.resolved, x.ClosedAt.Sub(x.OpenedAt).Seconds())
		}
	}
	rows := make([]SLARow, 0, len(groups))
	for _, g := range groups {
		slices.Sort(g.ack)
		slices.Sort(g.resolved)
		g.row.AckP50, g.row.AckP90 = percentile(g.ack, 50), percentile(g.ack, 90)
		g.row.ResolveP50, g.row.ResolveP90 = percentile(g.resolved, 50), percentile(g.resolved, 90)
		if g.row.Ratings > 0 {
			avg := float64(g.stars) / float64(g.row.Ratings)
			g.row.RatingAvg = &avg
		}
		rows = append(rows, g.row)
	}
	slices.SortFunc(rows, func(a, b SLARow) int {
		return cmp.Or(cmp.Compare(a.GridID, b.GridID),
			cmp.Compare(slices.Index(rules.Severities, a.Severity), slices.Index(rules.Severities, b.Severity)))
	})
	return rows
}

// percentile is the nearest-rank p-th percentile of sorted: the smallest
// sample with at least p% of the samples at or below it. No interpolation, so
// it is always a duration some task really took. Nil without samples.
func percentile(sorted []float64, p int) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := (p*len(sorted) + 99) / 100 // ⌈p/100 × n⌉ in integers, free of float rounding
	v := sorted[max(rank, 1)-1]
	return &v
}
