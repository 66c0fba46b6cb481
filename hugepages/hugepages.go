// Package hugepages has the kernel back the heap a monitor is about to build
// with transparent huge pages: one fault for each 2 MiB instead of one for
// each 4 KiB page. The Go runtime asks for them only for its own metadata,
// so on a kernel that gives them only where asked (transparent_hugepage
// set to madvise, Debian's and Ubuntu's default) its heap is faulted in a
// small page at a time. On a virtual machine where a first touch costs
// 10–50 µs, a restart at 1,000,000 households spent 3–8 of its 10 CPU-seconds
// on 275,000 such faults (docs/performance.md, "Twentieth round").
package hugepages

// Reserved is heap memory advised for huge pages, until Done.
type Reserved struct {
	start, size uintptr
}

// Size is how many bytes were reserved: 0 when nothing was.
func (r Reserved) Size() int { return int(r.size) }
