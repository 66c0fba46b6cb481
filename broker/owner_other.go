//go:build !unix

package broker

// ownerFor: files have no Unix owner to keep here.
func ownerFor(string) (uid, gid int, ok bool) { return 0, 0, false }
