package registry

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string // empty: valid
	}{
		{"grid", Grid{ID: "g1", Name: "Grid 1", SupervisorID: "w9"}.Validate(), ""},
		{"grid bad supervisor", Grid{ID: "g1", Name: "Grid 1", SupervisorID: "w 9"}.Validate(), "supervisor_id"},
		{"grid bad backup", Grid{ID: "g1", Name: "Grid 1", BackupWorkerID: "/"}.Validate(), "backup_worker_id"},
		{"worker", Worker{ID: "w1", Name: "Wang", Role: RoleGridWorker, PushURL: "https://ntfy.example/w1"}.Validate(), ""},
		{"worker bad push_url", Worker{ID: "w1", Name: "Wang", Role: RoleGridWorker, PushURL: "ftp://x"}.Validate(), "push_url"},
		{"contact bad push_url", Household{ID: "h1", Name: "Li", Address: "401", GridID: "g1",
			Contacts: []Contact{{Name: "Li Wei", Relation: "son", PushURL: "mailto:x", Channels: []string{ChannelPush}}}}.Validate(), "push_url"},
		{"secret too short", ValidateSecret("short"), "at least"},
		{"secret too long", ValidateSecret(strings.Repeat("x", MaxSecretLen+1)), "at most"},
		{"secret", ValidateSecret(strings.Repeat("x", MaxSecretLen)), ""},
	}
	for _, tt := range tests {
		switch {
		case tt.wantErr == "" && tt.err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, tt.err)
		case tt.wantErr != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one naming %q", tt.name, tt.err, tt.wantErr)
		}
	}
}
