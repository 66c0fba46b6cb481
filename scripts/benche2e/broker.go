package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eldersafe/eldersafe/broker"
)

// ceilingEmbedded times the embedded broker alone: the broker `eldersafe
// serve` starts, taking each publish in process and acknowledging it at once,
// with no work done on it: what the monitor's own intake would cost if it
// cost nothing. No device authentication: checking 50 device secrets at
// CONNECT is no part of the steady state being timed.
func ceilingEmbedded(l *loadFlags) error {
	c := &countingIntake{want: int64(l.total()), done: make(chan struct{})}
	b, err := broker.New(broker.Options{Addr: l.mqtt, Auth: broker.AuthNone, Prefix: prefix, Intake: c})
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Close()
	pubs, start, err := startPublishers(l)
	if err != nil {
		return err
	}
	pubErr := pubs.wait(start.Add(l.timeout))
	select {
	case <-c.done:
	case <-time.After(time.Until(start.Add(l.timeout))):
		return fmt.Errorf("the broker took %d of %d messages within %s: %w", c.taken.Load(), c.want, l.timeout, pubErr)
	}
	secs := c.last.Sub(start).Seconds()
	logf("ceiling: %d messages in %.2f s, %.0f msg/s", c.want, secs, float64(c.want)/secs)
	fmt.Printf("received=%d\nseconds=%.3f\nrate=%.0f\n", c.want, secs, float64(c.want)/secs)
	return pubErr
}

// countingIntake acknowledges every message at once and notes when the last
// of the load has arrived.
type countingIntake struct {
	want  int64
	taken atomic.Int64
	last  time.Time     // set before done closes
	done  chan struct{} // closed when want messages have arrived
}

// Takes takes the device topics, as the monitor's intake does.
func (c *countingIntake) Takes(topic string) bool {
	return strings.HasPrefix(topic, prefix+"/devices/")
}

func (c *countingIntake) Submit(_ context.Context, _ string, _ []byte, ack func(), _ time.Duration) (bool, error) {
	ack()
	if c.taken.Add(1) == c.want {
		c.last = time.Now()
		close(c.done)
	}
	return false, nil
}
