package simulator_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/eldersafe/eldersafe/simulator"
)

// capture is a Publisher that keeps what it is given.
type capture struct {
	msgs []simulator.Message
}

func (c *capture) Publish(_ context.Context, m simulator.Message) error {
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *capture) Flush(context.Context) error { return nil }

var _ simulator.Publisher = (*capture)(nil)

// everyAction is a scenario that takes every action once, so that each
// incident's code path is part of what must repeat.
const everyAction = `
name: every action
duration: 2d
households:
  count: 4
incidents:
  - {at: day 1 09:00, household: h1, action: fall}
  - {at: day 1 09:30, household: h1, action: sos}
  - {at: day 1 10:00, household: h2, action: tap_left_running, for: 1h}
  - {at: day 1 11:00, household: h2, action: garbage, count: 9}
  - {at: day 1 12:00, household: h3, action: duplicates, for: 1h}
  - {at: day 1 13:00, household: h3, action: out_of_order, for: 40m}
  - {at: day 1 14:00, household: h3, action: clock_skew, device: water_meter}
  - {at: day 1 15:00, household: h4, action: device_offline, device: pir_hall, for: 3h}
  - {at: day 1 16:00, household: h4, action: battery_dies, device: door_sensor}
  - {at: day 1 20:00, household: h2, action: immobile, for: 10h}
  - {at: day 2 07:00, household: h1, action: hospital, for: 8h}
  - {at: day 2 08:00, household: h3, action: leaves, for: 4h}
  - {at: day 2 09:00, household: h4, action: stays_in}
  - {at: day 2 10:00, household: h4, action: sensor_stuck, device: water_meter, for: 5h}
  - {at: day 2 11:00, household: h2, action: band_off, for: 6h}
  - {at: day 2 12:00, household: h2, action: fall}
  - {at: day 2 15:00, household: h1, action: visitor, for: 2h}
`

// record runs the scenario with seed as fast as possible into a capture and
// returns every message, ticks included, as one line each.
func record(t *testing.T, seed uint64) []string {
	t.Helper()
	sc, err := simulator.Decode("every-action.yaml", []byte(everyAction))
	if err != nil {
		t.Fatal(err)
	}
	sc.Seed = seed
	w, err := simulator.NewWorld(sc, "eldersafe/v1", "sim-")
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	if _, err := simulator.Run(t.Context(), simulator.RunOptions{World: w, Publisher: &c, TopicPrefix: "eldersafe/v1"}); err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		lines[i] = fmt.Sprintf("%s %s %s", m.At.UTC().Format("2006-01-02T15:04:05"), m.Topic, m.Payload)
	}
	return lines
}

func digest(lines []string) string {
	h := sha256.New()
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSameSeedSameMessages(t *testing.T) {
	first, second := record(t, 42), record(t, 42)
	if len(first) < 1000 {
		t.Fatalf("only %d messages for four households over two days", len(first))
	}
	if len(first) != len(second) {
		t.Fatalf("two runs with seed 42 sent %d and %d messages", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("runs with seed 42 differ at message %d:\n  %s\n  %s", i, first[i], second[i])
		}
	}
	if other := record(t, 43); digest(other) == digest(first) {
		t.Error("seeds 42 and 43 sent the same messages")
	}
}

func TestMessagesInTimeOrder(t *testing.T) {
	lines := record(t, 7)
	for i := 1; i < len(lines); i++ {
		if lines[i][:19] < lines[i-1][:19] {
			t.Fatalf("message %d is sent before the one ahead of it:\n  %s\n  %s", i, lines[i-1], lines[i])
		}
	}
}
