package hugepages

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

func TestReserveAdvisesTheAllocationsThatFollowUntilDone(t *testing.T) {
	const reserved, each = 64 << 20, 1 << 20
	r, err := Reserve(reserved)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() == 0 {
		t.Skip("the kernel has no transparent huge pages, or its setting is not madvise: nothing to reserve")
	}
	if r.Size() != reserved {
		t.Fatalf("reserved %d bytes, want %d", r.Size(), reserved)
	}
	// What a restart allocates next: blocks of a shard's households, each
	// a span of its own.
	blocks := make([][]byte, reserved/each/2)
	for i := range blocks {
		blocks[i] = make([]byte, each)
	}
	if in := countIn(blocks, each, advisedRanges(t, "hg")); in < len(blocks)/2 {
		t.Errorf("%d of %d blocks allocated after Reserve are in memory advised for huge pages", in, len(blocks))
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	if in := countIn(blocks, each, advisedRanges(t, "hg")); in != 0 {
		t.Errorf("after Done, %d of %d blocks are still in memory advised for huge pages", in, len(blocks))
	}
	if in := countIn(blocks, each, advisedRanges(t, "nh")); in < len(blocks)/2 {
		t.Errorf("after Done, %d of %d blocks are in memory advised against huge pages", in, len(blocks))
	}
}

func TestReserveNothing(t *testing.T) {
	for _, n := range []int{0, -1} {
		r, err := Reserve(n)
		if err != nil || r.Size() != 0 {
			t.Errorf("Reserve(%d) = %d bytes, %v", n, r.Size(), err)
		}
		if err := r.Done(); err != nil {
			t.Errorf("Done of nothing: %v", err)
		}
	}
}

// countIn counts the blocks of size each that lie in one of ranges.
func countIn(blocks [][]byte, each uintptr, ranges [][2]uintptr) int {
	in := 0
	for _, b := range blocks {
		at := uintptr(unsafe.Pointer(&b[0]))
		for _, r := range ranges {
			if at >= r[0] && at+each <= r[1] {
				in++
				break
			}
		}
	}
	return in
}

// advisedRanges are the process's mappings with flag in their VmFlags
// (proc(5)): hg for MADV_HUGEPAGE, nh for MADV_NOHUGEPAGE.
func advisedRanges(t *testing.T, flag string) [][2]uintptr {
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
			if strings.Contains(" "+flags+" ", " "+flag+" ") {
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
