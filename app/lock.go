package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in the data directory that one monitor holds locked.
const lockFile = "eldersafe.lock"

// ErrDataDirInUse: another monitor runs on the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// lockDataDir takes the data directory for this process: two monitors on one
// store would each believe they alone saved the rules' state and sent the
// notices. The lock is the kernel's (flock), so it goes with the process,
// however it ends; the file keeps the holder's pid to name it.
func lockDataDir(dir string) (unlock func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w by pid %s (%s)", ErrDataDirInUse, strings.TrimSpace(string(pid)), dir)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return f.Close, nil // closing the file releases the lock
}
