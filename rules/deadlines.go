package rules

// deadline is a moment at which a household's countdowns must be looked at
// again. Each household has at most one live entry (household.armed); older
// ones are recognised as stale when popped.
type deadline struct {
	due int64 // Unix nanoseconds
	hh  *household
}

// deadlineHeap is a min-heap by due time. Its own sift rather than
// container/heap's: that one boxes every entry pushed or popped in an
// interface, an allocation each, and a restart pushes a million.
type deadlineHeap []deadline

func (h *deadlineHeap) push(d deadline) {
	*h = append(*h, d)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if q[parent].due <= q[i].due {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
}

// popDue removes and returns the earliest deadline if it is due at now.
func (h *deadlineHeap) popDue(now int64) (deadline, bool) {
	q := *h
	if len(q) == 0 || q[0].due > now {
		return deadline{}, false
	}
	d, last := q[0], len(q)-1
	q[0] = q[last]
	q[last] = deadline{} // its household may be collected
	q = q[:last]
	for i := 0; ; {
		least := i
		for _, child := range [2]int{2*i + 1, 2*i + 2} {
			if child < len(q) && q[child].due < q[least].due {
				least = child
			}
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return d, true
}

// earliest is the due time of the first entry, or never.
func (h deadlineHeap) earliest() int64 {
	if len(h) == 0 {
		return never
	}
	return h[0].due
}
