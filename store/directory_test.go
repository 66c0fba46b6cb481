package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/eldersafe/eldersafe/registry"
)

func TestDirectory_ListsAndUpdates(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	seed(t, db)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g2", Name: "Grid two"}))
	must(t, db.CreateWorker(ctx, registry.Worker{ID: "w2", Name: "Zhao", Phone: "+8613900000002", GridIDs: []string{"g2", "g1"}, Role: registry.RoleSupervisor, CreatedAt: t0}))
	_, err := db.CreateUser(ctx, registry.User{ID: "u-w1", Role: registry.RoleGridWorker, WorkerID: "w1", PasswordHash: "x"})
	must(t, err)

	grids, err := db.Grids(ctx)
	must(t, err)
	if want := []registry.Grid{{ID: "g1", Name: "Grid one", SupervisorID: "sup1", BackupWorkerID: "w2"}, {ID: "g2", Name: "Grid two"}}; !reflect.DeepEqual(grids, want) {
		t.Errorf("Grids = %+v, want %+v", grids, want)
	}
	workers, err := db.Workers(ctx)
	must(t, err)
	if len(workers) != 2 || workers[0].ID != "w1" || !reflect.DeepEqual(workers[1].GridIDs, []string{"g2", "g1"}) {
		t.Errorf("Workers = %+v", workers)
	}
	users, err := db.Users(ctx)
	must(t, err)
	if len(users) != 1 || users[0].ID != "u-w1" || users[0].WorkerID != "w1" {
		t.Errorf("Users = %+v", users)
	}

	tests := []struct {
		name    string
		update  func() error
		wantErr error
		check   func(t *testing.T)
	}{
		{"Grid", func() error {
			return db.UpdateGrid(ctx, registry.Grid{ID: "g2", Name: "Riverside", SupervisorID: "w2"})
		}, nil, func(t *testing.T) {
			g, err := db.Grid(ctx, "g2")
			must(t, err)
			if g.Name != "Riverside" || g.SupervisorID != "w2" {
				t.Errorf("grid = %+v", g)
			}
		}},
		{"UnknownGrid", func() error { return db.UpdateGrid(ctx, registry.Grid{ID: "g9", Name: "x"}) }, registry.ErrNotFound, nil},
		{"Worker", func() error {
			return db.UpdateWorker(ctx, registry.Worker{ID: "w2", Name: "Zhao Min", Phone: "+8613900000009", GridIDs: []string{"g1"}, Role: registry.RoleSupervisor, Lang: "en"})
		}, nil, func(t *testing.T) {
			w, err := db.Worker(ctx, "w2")
			must(t, err)
			want := registry.Worker{ID: "w2", Name: "Zhao Min", Phone: "+8613900000009", GridIDs: []string{"g1"}, Role: registry.RoleSupervisor, Lang: "en", CreatedAt: t0}
			if !reflect.DeepEqual(w, want) {
				t.Errorf("worker = %+v\nwant %+v", w, want)
			}
		}},
		{"WorkerUnknownGrid", func() error {
			return db.UpdateWorker(ctx, registry.Worker{ID: "w2", Name: "Zhao", GridIDs: []string{"g1", "nope"}, Role: registry.RoleSupervisor})
		}, registry.ErrUnknownReference, func(t *testing.T) {
			w, err := db.Worker(ctx, "w2")
			must(t, err)
			if w.Name != "Zhao Min" || !reflect.DeepEqual(w.GridIDs, []string{"g1"}) {
				t.Errorf("a refused update changed the worker: %+v", w)
			}
		}},
		{"UnknownWorker", func() error {
			return db.UpdateWorker(ctx, registry.Worker{ID: "w9", Name: "x", GridIDs: []string{}, Role: registry.RoleGridWorker})
		}, registry.ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.update()
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("update: %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}
