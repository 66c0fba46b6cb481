package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"
)

// probeFalls times falls while another load runs (scripts/fallprobe.sh: every
// device of a million households speaking flat out): one fall per
// wristband registered by provision, every -every, each timed from its
// publish to its PUBACK and to the family's push reaching the receiver.
// The PUBACK waits for the fall's task and its household's rule state to be
// stored; the push, for the task and its notices only (CONTRACT §11).
func probeFalls(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	var l loadFlags
	fs.StringVar(&l.mqtt, "mqtt", "", "the broker's host:port")
	fs.BoolVar(&l.auth, "auth", false, "wristbands log in with their secret (mqtt.broker.auth: devices)")
	falls := fs.Int("falls", 300, "falls to publish, one per wristband")
	every := fs.Duration("every", 200*time.Millisecond, "time between falls")
	receiver := fs.String("receiver", "", "address the push receiver listens on, host:port (as given to provision)")
	fs.Parse(args)
	if l.mqtt == "" || *receiver == "" || *falls <= 0 || *every <= 0 {
		return errors.New("-mqtt and -receiver are required, -falls and -every above 0")
	}
	pushes, falling, err := startFalls(&l, *falls, *receiver)
	if err != nil {
		return err
	}
	defer falling.disconnect()
	tick := time.NewTicker(*every)
	for range *falls {
		falling.publish()
		<-tick.C
	}
	tick.Stop()
	if err := falling.wait(); err != nil {
		return err
	}
	// A notice leaves once its task is stored, which may come after the
	// PUBACK of a later fall: wait for the stragglers a while.
	for deadline := time.Now().Add(10 * time.Second); pushes.count() < *falls && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	pushed := falling.pushed(pushes)
	fmt.Printf("falls_published=%d\nfalls_acknowledged=%d\nfalls_pushed=%d\n", falling.published(), len(falling.acked), len(pushed))
	for _, w := range []struct {
		name  string
		waits []time.Duration
	}{{"puback", falling.acked}, {"push", pushed}} {
		if len(w.waits) == 0 {
			continue
		}
		slices.Sort(w.waits)
		fmt.Printf("%s_p50_ms=%.1f\n%s_p90_ms=%.1f\n%s_p99_ms=%.1f\n%s_max_ms=%.1f\n",
			w.name, ms(percentile(w.waits, 0.50)), w.name, ms(percentile(w.waits, 0.90)),
			w.name, ms(percentile(w.waits, 0.99)), w.name, ms(w.waits[len(w.waits)-1]))
	}
	return nil
}
