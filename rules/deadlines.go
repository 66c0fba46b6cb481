package rules

import "container/heap"

// deadline is a moment at which an absence rule must look at a household again.
// Entries are not removed when a countdown restarts; a popped entry is checked
// against the household's current state instead, so a restart costs no heap work.
type deadline struct {
	due  int64 // Unix nanoseconds
	hh   *household
	rule uint8
}

type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = deadline{}
	*h = old[:len(old)-1]
	return d
}

func (h *deadlineHeap) push(d deadline) { heap.Push(h, d) }

// popDue removes and returns the earliest deadline if it is due at now.
func (h *deadlineHeap) popDue(now int64) (deadline, bool) {
	if len(*h) == 0 || (*h)[0].due > now {
		return deadline{}, false
	}
	return heap.Pop(h).(deadline), true
}
