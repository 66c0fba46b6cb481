package hugepages

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestReserveAdvisesTheAllocationsThatFollow(t *testing.T) {
	const reserved, each = 64 << 20, 1 << 20
	if err := Reserve(reserved); errors.Is(err, unix.EINVAL) {
		t.Skip("this kernel has no transparent huge pages:", err)
	} else if err != nil {
		t.Fatal(err)
	}
	// What a restart allocates next: blocks of a shard's households, each
	// a span of its own.
	blocks := make([][]byte, reserved/each/2)
	for i := range blocks {
		blocks[i] = make([]byte, each)
	}
	advised := advisedRanges(t)
	inside := 0
	for _, b := range blocks {
		at := uintptr(unsafe.Pointer(&b[0]))
		for _, r := range advised {
			if at >= r[0] && at+each <= r[1] {
				inside++
				break
			}
		}
	}
	if inside < len(blocks)/2 {
		t.Errorf("%d of %d blocks allocated after Reserve are in memory advised for huge pages (%x)", inside, len(blocks), advised)
	}
}

func TestReserveNothing(t *testing.T) {
	for _, n := range []int{0, -1} {
		if err := Reserve(n); err != nil {
			t.Errorf("Reserve(%d) = %v", n, err)
		}
	}
}

// advisedRanges are the process's mappings marked MADV_HUGEPAGE ("hg" in
// their VmFlags, proc(5)).
func advisedRanges(t *testing.T) [][2]uintptr {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ranges [][2]uintptr
	var start, end uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if strings.Contains(" "+flags+" ", " hg ") {
				ranges = append(ranges, [2]uintptr{start, end})
			}
			continue
		}
		if _, err := fmt.Sscanf(line, "%x-%x ", &start, &end); err != nil {
			continue // a field of the mapping above, not a mapping
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ranges
}
