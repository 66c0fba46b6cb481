package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

func TestUsersAndSessions(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	must(t, db.CreateGrid(ctx, registry.Grid{ID: "g1", Name: "G"}))
	must(t, db.CreateWorker(ctx, registry.Worker{ID: "w1", Name: "Wang", Role: registry.RoleGridWorker, GridIDs: []string{"g1"}, CreatedBy: registry.AdminID}))
	if w, err := db.Worker(ctx, "w1"); err != nil || w.CreatedBy != registry.AdminID {
		t.Fatalf("Worker = %+v, %v; want created by the admin", w, err)
	}
	must(t, db.CreateHousehold(ctx, registry.Household{ID: "h1", Name: "Li", Address: "A", GridID: "g1"}))

	for _, tt := range []struct {
		name string
		u    registry.User
		want error
	}{
		{"grid worker", registry.User{ID: "u-w1", Role: registry.RoleGridWorker, WorkerID: "w1", PasswordHash: "x", CreatedBy: "u-op"}, nil},
		{"family", registry.User{ID: "u-f1", Role: registry.RoleFamily, HouseholdID: "h1", PasswordHash: "x"}, nil},
		{"operator", registry.User{ID: "u-op", Role: registry.RoleOperator, PasswordHash: "x"}, nil},
		{"taken id", registry.User{ID: "u-op", Role: registry.RoleOperator, PasswordHash: "x"}, registry.ErrConflict},
		{"unknown worker", registry.User{ID: "u-w9", Role: registry.RoleGridWorker, WorkerID: "w9", PasswordHash: "x"}, registry.ErrUnknownReference},
		{"unknown household", registry.User{ID: "u-f9", Role: registry.RoleFamily, HouseholdID: "h9", PasswordHash: "x"}, registry.ErrUnknownReference},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.CreateUser(ctx, tt.u)
			if !errors.Is(err, tt.want) {
				t.Errorf("CreateUser: %v, want %v", err, tt.want)
			}
		})
	}
	u, err := db.User(ctx, "u-w1")
	if err != nil || u.WorkerID != "w1" || u.Role != registry.RoleGridWorker || u.PasswordHash != "x" || u.CreatedBy != "u-op" {
		t.Fatalf("User = %+v, %v", u, err)
	}
	if logins, err := db.WorkerUsers(ctx, "w1"); err != nil || len(logins) != 1 || logins[0].ID != "u-w1" {
		t.Errorf("WorkerUsers(w1) = %+v, %v", logins, err)
	}
	if logins, err := db.WorkerUsers(ctx, "w9"); err != nil || len(logins) != 0 {
		t.Errorf("WorkerUsers(w9) = %+v, %v", logins, err)
	}
	if _, err := db.User(ctx, "nobody"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}

	now := time.Now()
	must(t, db.CreateSession(ctx, "hash-1", "u-w1", now.Add(time.Hour)))
	if got, err := db.SessionUser(ctx, "hash-1", now); err != nil || got.ID != "u-w1" {
		t.Errorf("session: %+v, %v", got, err)
	}
	_, err = db.SessionUser(ctx, "hash-1", now.Add(2*time.Hour))
	if ee, ok := errors.AsType[*registry.ExpiredSessionError](err); !ok || ee.User.ID != "u-w1" || !ee.Expired.Equal(now.Add(time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("expired session: %v, want it named with its user once", err)
	}
	if _, err := db.SessionUser(ctx, "hash-1", now.Add(2*time.Hour)); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("expired session used again: %v, want it unknown", err)
	}
	if _, err := db.SessionUser(ctx, "hash-2", now); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}

	// A log-in drops sessions long expired, and keeps one that expired
	// lately: its next use still names its user.
	must(t, db.CreateSession(ctx, "hash-old", "u-w1", time.Now().Add(-8*24*time.Hour)))
	must(t, db.CreateSession(ctx, "hash-late", "u-w1", time.Now().Add(-time.Hour)))
	must(t, db.CreateSession(ctx, "hash-new", "u-w1", time.Now().Add(time.Hour)))
	if _, err := db.SessionUser(ctx, "hash-old", time.Now()); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("session expired 8 days ago: %v, want it dropped", err)
	}
	if _, err := db.SessionUser(ctx, "hash-late", time.Now()); !errors.As(err, new(*registry.ExpiredSessionError)) {
		t.Errorf("session expired an hour ago: %v, want it named", err)
	}
}
