package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/eldersafe/eldersafe/registry"
)

// stateVersion is written into every saved state, so a later format can
// still read an older one.
const stateVersion = 1

// savedHousehold is a household's rule state as checkpointed to the store.
// Settings (zone, overrides, away periods) are not in it: they are kept by
// the store in their own right and set again at start.
type savedHousehold struct {
	V           int           `json:"v"`
	Newest      int64         `json:"newest,omitempty"`
	Firing      uint8         `json:"firing,omitempty"`
	LastUse     int64         `json:"last_use,omitempty"`
	LastMotion  int64         `json:"last_motion,omitempty"`
	MotionSince int64         `json:"motion_since,omitempty"`
	LastOpen    int64         `json:"last_open,omitempty"`
	DoorSince   int64         `json:"door_since,omitempty"`
	PowerStart  int64         `json:"power_start,omitempty"`
	PowerUsed   float64       `json:"power_used,omitempty"`
	Devices     []savedDevice `json:"devices,omitempty"`
}

type savedDevice struct {
	ID        string              `json:"id"`
	Kind      registry.DeviceKind `json:"kind"`
	Room      string              `json:"room,omitempty"`
	LastSeen  int64               `json:"last_seen,omitempty"`
	LastAlive int64               `json:"last_alive,omitempty"`
	A         float64             `json:"a,omitempty"`
	B         float64             `json:"b,omitempty"`
	AAt       int64               `json:"a_at,omitempty"`
	FlowStart int64               `json:"flow_start,omitempty"`
	// Battery is nil when unknown (NaN has no JSON form).
	Battery *float32 `json:"battery,omitempty"`
	Flags   uint8    `json:"flags,omitempty"`
}

// State is one household's saved rule state.
type State struct {
	HouseholdID string
	Data        []byte
}

// Checkpoint hands the state of every household changed since the last
// checkpoint to save, in one batch. If save fails they stay marked changed,
// so the next checkpoint writes them.
func (e *Engine) Checkpoint(save func([]State) error) error {
	var batch []State
	var taken []*household
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		for _, h := range s.dirty {
			data, err := json.Marshal(h.save())
			if err != nil {
				s.mu.Unlock()
				return fmt.Errorf("encode state of household %s: %w", h.id, err)
			}
			batch = append(batch, State{HouseholdID: h.id, Data: data})
			h.isDirty = false
			taken = append(taken, h)
		}
		s.dirty = nil
		s.mu.Unlock()
	}
	if len(batch) == 0 {
		return nil
	}
	if err := save(batch); err != nil {
		for _, h := range taken {
			s := e.shard(h.id)
			s.mu.Lock()
			h.dirty(s)
			s.mu.Unlock()
		}
		return err
	}
	return nil
}

func (h *household) save() savedHousehold {
	out := savedHousehold{
		V: stateVersion, Newest: h.newest, Firing: h.firing, LastUse: h.lastUse,
		LastMotion: h.lastMotion, MotionSince: h.motionSince, LastOpen: h.lastOpen, DoorSince: h.doorSince,
		PowerStart: h.powerStart, PowerUsed: h.powerUsed,
	}
	for _, d := range h.devices {
		sd := savedDevice{ID: d.id, Kind: d.kind.name(), Room: d.room, LastSeen: d.lastSeen, LastAlive: d.lastAlive,
			A: d.a, B: d.b, AAt: d.aAt, FlowStart: d.flowStart, Flags: d.flags}
		if !math.IsNaN(float64(d.battery)) {
			b := d.battery
			sd.Battery = &b
		}
		out.Devices = append(out.Devices, sd)
	}
	return out
}

// Restore sets a household's rule state from a checkpoint, before any reading
// of it is processed, and arms its countdowns as of now: one that ran out
// while the monitor was down fires at the next Advance.
func (e *Engine) Restore(st State, now time.Time) error {
	var saved savedHousehold
	if err := json.Unmarshal(st.Data, &saved); err != nil {
		return fmt.Errorf("decode state of household %s: %w", st.HouseholdID, err)
	}
	if saved.V != stateVersion {
		return fmt.Errorf("decode state of household %s: unknown version %d", st.HouseholdID, saved.V)
	}
	global := e.cfg.Load()
	s := e.shard(st.HouseholdID)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.household(st.HouseholdID)
	h.newest, h.firing, h.lastUse = saved.Newest, saved.Firing, saved.LastUse
	h.lastMotion, h.motionSince, h.lastOpen, h.doorSince = saved.LastMotion, saved.MotionSince, saved.LastOpen, saved.DoorSince
	h.powerStart, h.powerUsed = saved.PowerStart, saved.PowerUsed
	h.devices = h.devices[:0]
	for _, sd := range saved.Devices {
		d := device{id: sd.ID, kind: kindOf(sd.Kind), room: sd.Room, lastSeen: sd.LastSeen, lastAlive: sd.LastAlive,
			a: sd.A, b: sd.B, aAt: sd.AAt, flowStart: sd.FlowStart, flags: sd.Flags, battery: float32(math.NaN())}
		if sd.Battery != nil {
			d.battery = *sd.Battery
		}
		h.devices = append(h.devices, d)
	}
	h.armed = 0
	e.rearm(s, h, max(h.newest, now.UnixNano()), global)
	return nil
}
