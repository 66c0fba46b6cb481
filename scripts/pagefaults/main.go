// Command pagefaults measures what this machine charges for memory a
// process touches for the first time: it maps -size bytes, writes a byte
// to each 4 KiB page, then again, and prints both times. A restart builds
// its whole heap in fresh pages, so on a virtual machine whose kernel hands
// every freed page back to the host (as Firecracker's free page reporting
// does), the first touch is a large part of it (docs/performance.md,
// "Seventeenth round"). With -huge the mapping asks for transparent huge
// pages (madvise), as a kernel set to transparent_hugepage=always gives
// the Go heap: one fault for 2 MiB.
//
//	go run ./scripts/pagefaults -mib 2048 [-huge]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

func main() {
	mib := flag.Int("mib", 2048, "MiB to map and touch")
	huge := flag.Bool("huge", false, "ask for transparent huge pages")
	flag.Parse()
	size := *mib << 20
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pagefaults:", err)
		os.Exit(1)
	}
	if *huge {
		if err := syscall.Madvise(b, syscall.MADV_HUGEPAGE); err != nil {
			fmt.Fprintln(os.Stderr, "pagefaults: madvise:", err)
			os.Exit(1)
		}
	}
	const page = 4096
	pages := size / page
	first, again := touch(b, page), touch(b, page)
	fmt.Printf("pages %d first_touch %v (%v a page) second_touch %v (%v a page) %s\n",
		pages, first.Round(time.Millisecond), first/time.Duration(pages), again.Round(time.Millisecond), again/time.Duration(pages), hugeKB())
}

// hugeKB is how much of the process the kernel backs with transparent
// huge pages, from /proc/self/smaps_rollup: whether -huge got them.
func hugeKB() string {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return "huge_kb unknown"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "AnonHugePages:" {
			return "huge_kb " + f[1]
		}
	}
	return "huge_kb unknown"
}

// touch writes one byte to each page of b and returns how long it took.
func touch(b []byte, page int) time.Duration {
	start := time.Now()
	for i := 0; i < len(b); i += page {
		b[i]++
	}
	return time.Since(start)
}
