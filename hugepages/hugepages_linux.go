package hugepages

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Reserve grows the heap by n bytes, asks the kernel to back them with huge
// pages when they are first touched, and frees them for the allocations
// that follow: the runtime hands out its lowest free pages first, so those
// fill them. Untouched, they cost address space only. The advice stays with
// the memory for the life of the process: the runtime maps each part of its
// heap once and only ever releases pages, never maps them again. Call it
// before the allocations it is for, while the heap is small.
func Reserve(n int) error {
	if n <= 0 {
		return nil
	}
	// Fresh from the kernel, the runtime neither zeroes nor touches it.
	heap := make([]byte, n)
	if err := unix.Madvise(heap, unix.MADV_HUGEPAGE); err != nil {
		return fmt.Errorf("advise %d bytes of heap for huge pages: %w", n, err)
	}
	// heap is dead from here: the collection frees it.
	runtime.GC()
	return nil
}
