// Command alarmprobe measures how long a fall waits for its PUBACK while a
// load runs: the monitor acknowledges a message only once its task, its
// timeline and its notices are committed (docs/architecture.md,
// "Acknowledged means stored"), so this is the wait before a family's push
// can leave. It publishes a wristband's fall
// with QoS 1 every -every, one at a time, for -duration (or until
// interrupted), then prints the waits' percentiles.
//
//	go run ./scripts/alarmprobe -mqtt 127.0.0.1:1883 -device sim-h5000-wb -ts 2026-03-02T08:05:00+08:00
//
// The falls carry the same ts and a new seq each, so none is a duplicate;
// the household's open fall task takes them as repeats.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func main() {
	mqttAddr := flag.String("mqtt", "127.0.0.1:1883", "the broker's host:port (mqtt.broker.auth: none)")
	prefix := flag.String("prefix", "eldersafe/v1", "topic prefix (mqtt.prefix)")
	device := flag.String("device", "", "the wristband's device id")
	ts := flag.String("ts", "", "the falls' time, RFC 3339 (under --clock event: near the simulated time)")
	every := flag.Duration("every", 200*time.Millisecond, "time between falls")
	duration := flag.Duration("duration", time.Minute, "how long to probe")
	flag.Parse()
	at, err := time.Parse(time.RFC3339, *ts)
	if *device == "" || err != nil || *every <= 0 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "alarmprobe: want -device, -ts in RFC 3339, and -every and -duration above 0")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	waits, err := probe(ctx, *mqttAddr, fmt.Sprintf("%s/devices/%s/event", *prefix, *device), at, *every)
	if err != nil {
		fmt.Fprintln(os.Stderr, "alarmprobe:", err)
		os.Exit(1)
	}
	if len(waits) == 0 {
		fmt.Fprintln(os.Stderr, "alarmprobe: no fall acknowledged")
		os.Exit(1)
	}
	slices.Sort(waits)
	q := func(p float64) time.Duration {
		return waits[int(p*float64(len(waits)-1))].Round(100 * time.Microsecond)
	}
	fmt.Printf("falls %d  puback p50 %s  p90 %s  p99 %s  max %s\n", len(waits), q(0.5), q(0.9), q(0.99), q(1))
}

// probe publishes falls until ctx ends and returns how long each waited
// for its PUBACK.
func probe(ctx context.Context, addr, topic string, at time.Time, every time.Duration) ([]time.Duration, error) {
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("alarmprobe-%d", os.Getpid())).
		SetCleanSession(true).SetAutoReconnect(false)
	client := paho.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", addr, tok.Error())
	}
	defer client.Disconnect(250)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var waits []time.Duration
	for seq := 1; ; seq++ {
		payload := fmt.Sprintf(`{"ts":%q,"seq":%d,"event":"fall"}`, at.Format(time.RFC3339), seq)
		sent := time.Now()
		tok := client.Publish(topic, 1, false, payload)
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return waits, nil
		}
		if err := tok.Error(); err != nil {
			return waits, fmt.Errorf("fall %d: %w", seq, err)
		}
		waits = append(waits, time.Since(sent))
		select {
		case <-tick.C:
		case <-ctx.Done():
			return waits, nil
		}
	}
}
