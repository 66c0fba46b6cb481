//go:build unix

package broker

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ownerFor is who a file written to path should belong to: the owner and
// group of the file there, or for a new file written by root, root and
// Mosquitto's group. False: leave the writer's.
func ownerFor(path string) (uid, gid int, ok bool) {
	if fi, err := os.Stat(path); err == nil {
		if st, isUnix := fi.Sys().(*syscall.Stat_t); isUnix {
			return int(st.Uid), int(st.Gid), true
		}
		return 0, 0, false
	}
	if os.Geteuid() != 0 {
		return 0, 0, false
	}
	g, err := user.LookupGroup(mosquittoGroup)
	if err != nil {
		return 0, 0, false
	}
	gid, err = strconv.Atoi(g.Gid)
	return 0, gid, err == nil
}
