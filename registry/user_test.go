package registry

import (
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery", PasswordCost)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batter") {
		t.Error("CheckPassword")
	}
	for _, bad := range []string{"short", string(make([]byte, 73))} {
		if _, err := HashPassword(bad, PasswordCost); err == nil {
			t.Errorf("HashPassword accepted %d bytes", len(bad))
		}
	}
}

func TestUserValidate(t *testing.T) {
	tests := []struct {
		u    User
		want string
	}{
		{User{ID: "u1", Role: RoleOperator}, ""},
		{User{ID: "u1", Role: RoleSupervisor, WorkerID: "w1"}, ""},
		{User{ID: "u1", Role: RoleGridWorker}, "worker_id: required"},
		{User{ID: "u1", Role: RoleFamily}, "household_id: required"},
		{User{ID: "u1", Role: RoleOperator, HouseholdID: "h1"}, "only for family"},
		{User{ID: "u1", Role: RoleFamily, HouseholdID: "h1", WorkerID: "w1"}, "only for a grid_worker"},
		{User{ID: "u1", Role: "admin"}, "role"},
		{User{ID: "bad id", Role: RoleOperator}, "id"},
		{User{ID: "admin", Role: RoleOperator}, `"admin" is reserved`},
		{User{ID: "Admin", Role: RoleFamily, HouseholdID: "h1"}, `"admin" is reserved`},
		{User{ID: "admin2", Role: RoleOperator}, ""},
	}
	for _, tt := range tests {
		err := tt.u.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.u, err, tt.want)
		}
	}
}
