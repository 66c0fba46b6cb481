package rules

import "container/heap"

// deadline is a moment at which a household's countdowns must be looked at
// again. Each household has at most one live entry (household.armed); older
// ones are recognised as stale when popped.
type deadline struct {
	due int64 // Unix nanoseconds
	hh  *household
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

// earliest is the due time of the first entry, or never.
func (h deadlineHeap) earliest() int64 {
	if len(h) == 0 {
		return never
	}
	return h[0].due
}
