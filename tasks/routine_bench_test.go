package tasks_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/notify"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/store"
	"github.com/eldersafe/eldersafe/tasks"
	"github.com/eldersafe/eldersafe/testkit"
)

// BenchmarkScheduleRoutine is what scheduling a household's routine visits
// costs after an import (ScheduleRoutineFor, 500 households a transaction)
// and at a month's start (ScheduleRoutine, 50): b.N households of one
// grid, self_care (two visits a month, both in what is left of t0's
// March), on SQLite and on PostgreSQL (when ./scripts/test.sh's is there).
func BenchmarkScheduleRoutine(b *testing.B) {
	for _, pass := range []struct {
		name     string
		schedule func(context.Context, *tasks.Service, []string) (int, error)
	}{
		{"import", func(ctx context.Context, svc *tasks.Service, ids []string) (int, error) {
			return svc.ScheduleRoutineFor(ctx, ids...)
		}},
		{"month", func(ctx context.Context, svc *tasks.Service, _ []string) (int, error) {
			return svc.ScheduleRoutine(ctx)
		}},
	} {
		b.Run("sqlite/"+pass.name, func(b *testing.B) { benchmarkScheduleRoutine(b, "", pass.schedule) })
		b.Run("postgres/"+pass.name, func(b *testing.B) { benchmarkScheduleRoutine(b, testkit.PostgresURL(b), pass.schedule) })
	}
}

func benchmarkScheduleRoutine(b *testing.B, url string, schedule func(context.Context, *tasks.Service, []string) (int, error)) {
	// Cancellable, as the monitor's is.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, b.TempDir(), nil, store.WithURL(url))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateGrid(ctx, registry.Grid{ID: gridMain, Name: "Xingfu Road"}); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateWorker(ctx, registry.Worker{ID: ownerID, Name: "Wang Fang", Phone: "+8613900000001",
		GridIDs: []string{gridMain}, Role: registry.RoleGridWorker}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, b.N)
	in := make([]registry.HouseholdImport, 0, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("h%07d", i)
		in = append(in, registry.HouseholdImport{Household: registry.Household{ID: ids[i], Name: "Resident", Address: "1 Road",
			GridID: gridMain, Contacts: contacts[:1]}})
		if len(in) == cap(in) || i == len(ids)-1 {
			if _, _, err := db.ImportHouseholds(ctx, in); err != nil {
				b.Fatal(err)
			}
			in = in[:0]
		}
	}
	tpl, err := notify.NewTemplates()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := tasks.NewService(tasks.Options{Store: db, Clock: clock.NewEvent(t0), Composer: tpl, Wall: clock.NewEvent(wall0)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n, err := schedule(ctx, svc, slices.Clone(ids))
	if err != nil || n < b.N {
		b.Fatalf("scheduled %d visits (%v), want at least %d", n, err, b.N)
	}
}
