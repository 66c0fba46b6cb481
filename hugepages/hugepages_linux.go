package hugepages

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enabledFile is the kernel's setting for transparent huge pages: which of
// always, madvise and never is in brackets.
const enabledFile = "/sys/kernel/mm/transparent_hugepage/enabled"

// Reserve grows the heap by n bytes, asks the kernel to back them with huge
// pages when they are first touched, and frees them for the allocations
// that follow: the runtime hands out its lowest free pages first, so those
// fill them. Untouched, they cost address space only. The advice stays with
// the memory until Done: the runtime maps each part of its heap once and
// only ever releases pages, never maps them again. Call it before the
// allocations it is for, while the heap is small.
//
// Only where the kernel gives huge pages where asked (madvise): with always
// the heap has them anyway, with never or a kernel without them it cannot;
// then Reserve reserves nothing.
func Reserve(n int) (Reserved, error) {
	if n <= 0 {
		return Reserved{}, nil
	}
	setting, err := os.ReadFile(enabledFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Reserved{}, nil
	}
	if err != nil {
		return Reserved{}, fmt.Errorf("read the kernel's setting for huge pages: %w", err)
	}
	if !bytes.Contains(setting, []byte("[madvise]")) {
		return Reserved{}, nil
	}
	// Fresh from the kernel, the runtime neither zeroes nor touches it.
	heap := make([]byte, n)
	if err := unix.Madvise(heap, unix.MADV_HUGEPAGE); err != nil {
		return Reserved{}, fmt.Errorf("advise %d bytes of heap for huge pages: %w", n, err)
	}
	r := Reserved{start: uintptr(unsafe.Pointer(&heap[0])), size: uintptr(n)}
	// heap is dead from here: the collection frees it.
	runtime.GC()
	return r, nil
}

// Done withdraws the advice once the start has built its heap there. Left
// advised, memory the runtime gives back in part at rest is made whole
// again by the kernel's khugepaged, a huge page at a time, and the resident
// set creeps up to the whole reserve (docs/performance.md, "Twentieth
// round"). The pages already huge stay so.
func (r Reserved) Done() error {
	if r.size == 0 {
		return nil
	}
	// The range is the heap's, no longer a Go value: the system call
	// takes it as numbers.
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.size, unix.MADV_NOHUGEPAGE); errno != 0 {
		return fmt.Errorf("withdraw the advice for huge pages of %d bytes of heap: %w", r.size, errno)
	}
	return nil
}
