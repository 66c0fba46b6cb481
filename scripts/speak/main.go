// Command speak has every device of scripts/scale.sh's households say one
// thing, over MQTT with QoS 1, so that the monitor's memory can be measured
// with every device heard from (issue 17): a water meter's and a power
// meter's register, a wristband's heartbeat, a PIR's motion in a room, the
// door closed. Households h{from}..h{to-1}, devices h{i}-d1..d5 in that
// order, as scale.sh imports them; the broker must take them without device
// credentials (mqtt.broker.auth: none).
//
//	go run ./scripts/speak -mqtt 127.0.0.1:1883 -from 0 -to 1000000
//
// -rate paces it (messages a second over all connections): the message rate of
// a million households in real time is about 5,000 a second, where flat out
// the monitor takes eight times that.
//
// Every 5 s it prints a progress line as `eldersafe simulate --load` does
// (scripts/loadplot reads both): messages sent, and handled, that is
// acknowledged, which the monitor does once what they changed is stored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/time/rate"

	"github.com/eldersafe/eldersafe/bufconn"
)

// kinds are scale.sh's devices d1..d5: the stream and payload each sends,
// after its ts and seq.
var kinds = []struct{ stream, payload string }{
	{"telemetry", `"total_liters":1234.5,"battery_pct":87`},       // water_meter
	{"event", `"motion":true,"room":"kitchen"`},                   // motion_sensor
	{"event", `"open":false`},                                     // door_sensor
	{"telemetry", `"battery_pct":91,"worn":true,"heart_rate":72`}, // wristband
	{"telemetry", `"total_kwh":321.25`},                           // power_meter
}

func main() {
	mqttAddr := flag.String("mqtt", "127.0.0.1:1883", "the monitor's MQTT broker, host:port")
	prefix := flag.String("prefix", "eldersafe/v1", "topic prefix (mqtt.prefix)")
	from := flag.Int("from", 0, "first household")
	to := flag.Int("to", 1000, "household after the last")
	connections := flag.Int("connections", 8, "MQTT connections, each with its share of the households")
	window := flag.Int("window", 256, "messages a connection has sent and not yet seen acknowledged, at most")
	perSecond := flag.Int("rate", 0, "messages a second over all connections; 0: as fast as the broker takes them")
	flag.Parse()
	if *from < 0 || *to <= *from || *connections < 1 || *window < 1 || *perSecond < 0 {
		fmt.Fprintln(os.Stderr, "speak: want 0 <= -from < -to, -connections and -window >= 1, -rate >= 0")
		os.Exit(2)
	}
	pace := rate.NewLimiter(rate.Inf, 0)
	if *perSecond > 0 {
		// A household's messages go at once: its five devices' a burst.
		pace = rate.NewLimiter(rate.Limit(*perSecond), max(len(kinds), *perSecond/100))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *mqttAddr, *prefix, *from, *to, *connections, *window, pace); err != nil {
		fmt.Fprintln(os.Stderr, "speak:", err)
		os.Exit(1)
	}
}

type counts struct{ sent, handled atomic.Int64 }

func run(ctx context.Context, addr, prefix string, from, to, connections, window int, pace *rate.Limiter) error {
	var c counts
	start := time.Now()
	done := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() { report(&c, start, done) })
	var wg sync.WaitGroup
	errs := make([]error, connections)
	for k := range connections {
		wg.Go(func() {
			errs[k] = speak(ctx, addr, prefix, k, connections, from, to, window, pace, &c)
		})
	}
	wg.Wait()
	close(done)
	progress.Wait()
	took := time.Since(start)
	fmt.Printf("sent %d, handled %d in %s: %.0f msg/s\n", c.sent.Load(), c.handled.Load(), took.Round(time.Millisecond), float64(c.handled.Load())/took.Seconds())
	return errors.Join(errs...)
}

// report prints a progress line every 5 s until done.
func report(c *counts, start time.Time, done <-chan struct{}) {
	const every = 5 * time.Second
	t := time.NewTicker(every)
	defer t.Stop()
	var sent, handled int64
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			s, h := c.sent.Load(), c.handled.Load()
			fmt.Printf("%s  sent %d  %.0f msg/s  handled %d  %.0f msg/s\n",
				now.Sub(start).Round(time.Second), s, float64(s-sent)/every.Seconds(), h, float64(h-handled)/every.Seconds())
			sent, handled = s, h
		}
	}
}

// speak publishes, over connection k of n, every device of the households
// i in [from, to) with i % n == k, keeping at most window unacknowledged,
// at the pace of pace.
func speak(ctx context.Context, addr, prefix string, k, n, from, to, window int, pace *rate.Limiter, c *counts) error {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("speak-%d", k)).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(bufconn.Open)
	client := paho.NewClient(o)
	if tok := client.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connection %d: connect: %v", k, tok.Error())
	}
	defer client.Disconnect(250)
	inFlight := make(chan paho.Token, window)
	var (
		acks   sync.WaitGroup
		ackErr error // the first, once acks is done
		failed atomic.Bool
	)
	acks.Go(func() {
		for tok := range inFlight {
			if !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
				if !failed.Swap(true) {
					ackErr = fmt.Errorf("connection %d: not acknowledged: %v", k, tok.Error())
				}
				continue
			}
			c.handled.Add(1)
		}
	})
	err := publish(ctx, client, prefix, k, n, from, to, inFlight, &failed, pace, c)
	close(inFlight)
	acks.Wait()
	return errors.Join(err, ackErr)
}

// publish sends the messages of speak, handing each one's token to
// inFlight, until a message is not acknowledged or ctx ends.
func publish(ctx context.Context, client paho.Client, prefix string, k, n, from, to int, inFlight chan<- paho.Token, failed *atomic.Bool, pace *rate.Limiter, c *counts) error {
	for i := from + (k+n-from%n)%n; i < to; i += n {
		if err := pace.WaitN(ctx, len(kinds)); err != nil {
			return err
		}
		if failed.Load() {
			return nil
		}
		ts := time.Now().UnixMilli()
		for j, kind := range kinds {
			topic := fmt.Sprintf("%s/devices/h%d-d%d/%s", prefix, i, j+1, kind.stream)
			inFlight <- client.Publish(topic, 1, false, fmt.Sprintf(`{"ts":%d,"seq":1,%s}`, ts, kind.payload))
			c.sent.Add(1)
		}
	}
	return nil
}
