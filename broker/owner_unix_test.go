//go:build unix

package broker

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestMosquittoExport_Readable: Mosquitto, running as its own user, can
// enter the directory and read the files as docs/operations.md sets them up,
// and a second export (after devices were registered) keeps the owner an
// operator gave the password file.
func TestMosquittoExport_Readable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "eldersafe")
	export := func() {
		t.Helper()
		if err := WriteMosquittoFiles(dir, MosquittoCredentials{Prefix: prefix, Devices: map[string]string{}, MonitorUsername: "monitor", MonitorPassword: "monitor-secret-0123456789"}); err != nil {
			t.Fatal(err)
		}
	}
	export()
	for _, c := range []struct {
		name string
		want os.FileMode
	}{{".", 0o755}, {MosquittoPasswordFile, 0o640}, {MosquittoACLFile, 0o644}, {MosquittoConfFile, 0o644}} {
		fi, err := os.Stat(filepath.Join(dir, c.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%s: mode %o, want %o", c.name, got, c.want)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("owners: only root exports to another user's group")
	}
	pw := filepath.Join(dir, MosquittoPasswordFile)
	if g, err := user.LookupGroup(mosquittoGroup); err == nil {
		if gid, _ := strconv.Atoi(g.Gid); groupOf(t, pw) != gid {
			t.Errorf("password_file group %d, want mosquitto's %d", groupOf(t, pw), gid)
		}
	}
	// As the docs say: chown mosquitto: password_file; then export again.
	if err := os.Chown(pw, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	export()
	fi, err := os.Stat(pw)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
		t.Errorf("after a second export the password file is %d:%d, want 4242:4343 kept", st.Uid, st.Gid)
	}
}

func groupOf(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Gid)
}
