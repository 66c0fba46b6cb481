package simulator

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// Message is one thing the simulator sends at a simulated moment: a device's
// MQTT message, a clock tick (Device empty), or an away period to record
// through the API (Away set).
type Message struct {
	// At is the simulated moment it is sent. A device message's own ts is
	// in its payload; it differs from At only for messages a gateway held
	// back (out_of_order) or a skewed clock stamped (clock_skew).
	At      time.Time
	Device  string
	Topic   string
	Payload []byte
	Away    *Away
	// Alarm marks a fall or an SOS: a runner that waits for the monitor
	// waits right after it, so that no later message reaches the monitor
	// first and the task is stamped with the alarm's own time.
	Alarm bool
}

// Away is an away period, as POST /api/v1/households/{id}/away takes it.
type Away struct {
	HouseholdID string
	From, Until time.Time
	Reason      string
}

// World is every household of a scenario, merged into one stream of messages
// in time order. Ties go to the household listed first, so the stream is the
// same every time.
type World struct {
	sc         *Scenario
	idPrefix   string
	start, end int64
	households []*household
	byID       map[string]*household
	queue      worldHeap
	out        []Message
	pos        int
}

// Neighbourhood is what the world is made of, for provisioning: every
// household and device, with the ids the monitor knows them by.
type Neighbourhood struct {
	Households []HouseholdInfo
	idPrefix   string
}

// HouseholdInfo is one household to provision.
type HouseholdInfo struct {
	// ID is as the scenario names it; FullID as the monitor knows it.
	ID, FullID string
	Timezone   string
	Devices    []DeviceInfo
}

// DeviceInfo is one device to provision.
type DeviceInfo struct {
	ID   string
	Kind string
	// Source, SourceTopic and GatewayID are set for a device that speaks
	// its source's format (CONTRACT.md §14).
	Source      registry.Source
	SourceTopic string
	GatewayID   string
}

// NewWorld builds the scenario's households from its start. Device and
// household ids in the monitor are idPrefix + the scenario's ids; topics start
// with topicPrefix (eldersafe/v1).
func NewWorld(sc *Scenario, topicPrefix, idPrefix string) (*World, error) {
	start := sc.Start.Unix()
	end := int64(never)
	if sc.Duration > 0 {
		end = sc.Start.Add(sc.Duration).Unix()
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	w := &World{sc: sc, idPrefix: idPrefix, start: start, end: end, byID: make(map[string]*household)}
	var src [numDevices]registry.Source
	for name, s := range sc.Sources {
		if err := canSpeak(name, s); err != nil {
			return nil, fmt.Errorf("%s: %w", sc.file, err)
		}
		src[deviceIndex(name)] = s
	}
	for i, hs := range sc.households() {
		p := &Profiles[hs.profile]
		var hb habits
		var lived []incident
		if sc.Population {
			if end == never {
				return nil, fmt.Errorf("%s: a population needs a run with an end: give a duration", sc.file)
			}
			hb, lived = populate(sc.Seed, i, sc.Location, start, end)
		}
		h := newHousehold(i, hs.id, idPrefix+hs.id, p, hb, sc.Seed, sc.Location, start, topicPrefix, src)
		h.incidents = lived
		w.households = append(w.households, h)
		w.byID[hs.id] = h
	}
	for _, in := range sc.Incidents {
		h := w.byID[in.Household]
		at := in.At.At(sc.Start, sc.Location).Unix()
		if at < start || at >= end {
			return nil, fmt.Errorf("%s:%d: incident at %s (%s) is outside the run, %s to %s", sc.file, in.line, in.At,
				time.Unix(at, 0).In(sc.Location).Format(time.RFC3339), sc.Start.Format(time.RFC3339), sc.endString())
		}
		spec, _ := actionByName(in.Action)
		d := in.For
		if d == 0 {
			d = spec.defaultFor
		}
		var until int64
		if d > 0 {
			until = at + int64(d/time.Second)
		}
		count := in.Count
		if count == 0 {
			count = 10
		}
		h.incidents = append(h.incidents, incident{at: at, until: until, action: in.Action, dev: deviceIndex(in.Device), count: count, truth: truthOf(in.Action)})
	}
	for _, h := range w.households {
		sortIncidents(h.incidents)
		w.queue.items = append(w.queue.items, queued{next: h.nextAt(), idx: h.idx, h: h})
	}
	heap.Init(&w.queue)
	return w, nil
}

func sortIncidents(in []incident) {
	// Insertion sort: stable, and a household has few incidents.
	for i := 1; i < len(in); i++ {
		for j := i; j > 0 && in[j].at < in[j-1].at; j-- {
			in[j], in[j-1] = in[j-1], in[j]
		}
	}
}

// Next returns the next message in time order, or false at the end of the run.
func (w *World) Next() (Message, bool) {
	for w.pos >= len(w.out) {
		w.out, w.pos = w.out[:0], 0
		if len(w.queue.items) == 0 {
			return Message{}, false
		}
		q := &w.queue.items[0]
		if q.next >= w.end {
			return Message{}, false
		}
		q.h.step(q.next, &w.out)
		q.next = q.h.nextAt()
		heap.Fix(&w.queue, 0)
	}
	m := w.out[w.pos]
	w.out[w.pos] = Message{} // let the payload go once sent
	w.pos++
	return m, true
}

// Start and End bound the run; End is zero for a run without end.
func (w *World) Start() time.Time { return time.Unix(w.start, 0).In(w.sc.Location) }

func (w *World) End() time.Time {
	if w.end == never {
		return time.Time{}
	}
	return time.Unix(w.end, 0).In(w.sc.Location)
}

// Anchors reports what each household's expectations may be timed from, by
// the household's scenario id.
func (w *World) Anchors() map[string]Anchors {
	out := make(map[string]Anchors, len(w.households))
	for _, h := range w.households {
		out[h.id] = h.Anchors()
	}
	return out
}

// Neighbourhood lists the households and devices to provision.
func (w *World) Neighbourhood() Neighbourhood {
	n := Neighbourhood{Households: make([]HouseholdInfo, 0, len(w.households)), idPrefix: w.idPrefix}
	for _, h := range w.households {
		hi := HouseholdInfo{ID: h.id, FullID: h.fullID, Timezone: w.sc.Location.String()}
		if h.gateway != "" {
			// First: the devices that name it are registered after it.
			hi.Devices = append(hi.Devices, DeviceInfo{ID: h.gateway, Kind: string(registry.Gateway)})
		}
		for i := range h.dev {
			d := DeviceInfo{ID: h.dev[i].id, Kind: string(roles[i].kind)}
			if src := h.src[i]; src != "" {
				d.Source, d.SourceTopic = src, h.sourceTopic(i)
				if needsGateway(src) {
					d.GatewayID = h.gateway
				}
			}
			hi.Devices = append(hi.Devices, d)
		}
		n.Households = append(n.Households, hi)
	}
	return n
}

// worldHeap orders households by their next event, then by index.
type worldHeap struct{ items []queued }

// queued is a household in the heap with the keys it is ordered by: read
// through the household's pointer, they missed the cache at nearly every
// comparison, the simulator's largest cost at 300,000 households
// (docs/performance.md, "Fourteenth round").
type queued struct {
	next int64 // the time of the household's next event (nextAt)
	idx  int
	h    *household
}

func (q *worldHeap) Len() int { return len(q.items) }
func (q *worldHeap) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	return a.next < b.next || a.next == b.next && a.idx < b.idx
}
func (q *worldHeap) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *worldHeap) Push(x any)    { q.items = append(q.items, x.(queued)) }
func (q *worldHeap) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}
