package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// gen writes one file of payloads per water meter, one JSON object a line,
// for mosquitto_pub -l. Readings are a second apart and end now, with an
// increasing seq; the register rises 1 mL a reading (0.06 L/min, below the
// 0.5 L/min that counts as flow), so no rule opens a task: the monitor does
// the work of real telemetry and nothing else.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to write the files into")
	devices := fs.Int("devices", 50, "water meters")
	messages := fs.Int("messages", 4000, "messages per meter")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("-dir is required")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	first := time.Now().Add(-time.Duration(*messages) * time.Second).UnixMilli()
	for d := range *devices {
		var b bytes.Buffer
		for i := range *messages {
			fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"total_liters":%.3f}`+"\n", first+int64(i)*1000, i+1, 1000+float64(i)/1000)
		}
		if err := os.WriteFile(payloadFile(*dir, meterID(d)), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func payloadFile(dir, deviceID string) string { return filepath.Join(dir, deviceID+".jsonl") }

// publishers are the load: one mosquitto_pub -l -q 1 per meter, each reading
// its payload file (at its share of -rate, when set), all started together.
type publishers struct {
	cmds   []*exec.Cmd
	stderr []*bytes.Buffer
}

// startPublishers starts them and returns the moment just before the first
// one started: the load's start for both the ceiling and the monitor.
func startPublishers(l *loadFlags) (*publishers, time.Time, error) {
	host, port, _ := net.SplitHostPort(l.mqtt)
	p := &publishers{}
	start := time.Now()
	for d := range l.devices {
		id := meterID(d)
		in, err := payloadInput(payloadFile(l.dir, id), float64(l.rate)/float64(l.devices))
		if err != nil {
			p.kill()
			return nil, start, err
		}
		args := []string{"-h", host, "-p", port, "-q", "1", "-t", topic(id, "telemetry"), "-l"}
		if l.auth {
			args = append(args, "-u", id, "-P", secret(id))
		}
		cmd := exec.Command("mosquitto_pub", args...)
		var stderr bytes.Buffer
		cmd.Stdin, cmd.Stderr = in, &stderr
		err = cmd.Start()
		in.Close() // the child has its own descriptor
		if err != nil {
			p.kill()
			return nil, start, fmt.Errorf("start mosquitto_pub: %w", err)
		}
		p.cmds, p.stderr = append(p.cmds, cmd), append(p.stderr, &stderr)
	}
	return p, start, nil
}

// payloadInput is what a publisher reads: the payload file at path, as it
// is or, when perSecond > 0, through a pipe fed that many lines a second.
func payloadInput(path string, perSecond float64) (*os.File, error) {
	if perSecond <= 0 {
		return os.Open(path)
	}
	payload, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go pace(w, bytes.Split(bytes.TrimSuffix(payload, []byte("\n")), []byte("\n")), perSecond)
	return r, nil
}

// pace writes lines (without their newlines) to w, perSecond a second from
// now on, in batches of 10 ms of them (paced as scripts/speak paces its
// publishes), then closes it: the publisher reading the other end then ends.
func pace(w *os.File, lines [][]byte, perSecond float64) {
	defer w.Close()
	batch := max(1, int(perSecond/100))
	limit := rate.NewLimiter(rate.Limit(perSecond), batch)
	for sent := 0; sent < len(lines); {
		due := min(len(lines), sent+batch)
		if err := limit.WaitN(context.Background(), due-sent); err != nil {
			return
		}
		if _, err := w.Write(append(bytes.Join(lines[sent:due], []byte("\n")), '\n')); err != nil {
			return // the publisher is gone; wait reports why
		}
		sent = due
	}
}

// wait waits for every publisher, at most until deadline (then it kills the
// rest), and says which failed and why.
func (p *publishers) wait(deadline time.Time) error {
	timer := time.AfterFunc(time.Until(deadline), p.kill)
	defer timer.Stop()
	var errs []error
	for i, cmd := range p.cmds {
		if err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("mosquitto_pub %s: %w: %s", meterID(i), err, bytes.TrimSpace(p.stderr[i].Bytes())))
		}
	}
	return errors.Join(errs...)
}

func (p *publishers) kill() {
	for _, cmd := range p.cmds {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	}
}

// ceiling times the broker alone: a bare mosquitto_sub -q 1 on a persistent
// session (as the monitor's) takes every message, and the time runs from the
// publishers' start to the last message read from it. The load starts once
// a probe message has come through, so the consumer is known to be
// subscribed; its session is removed at the end, so the broker queues
// nothing for it during the monitor's run.
func ceiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	var l loadFlags
	l.register(fs)
	embedded := fs.Bool("embedded", false, "time the embedded broker run in this process at -mqtt instead")
	fs.Parse(args)
	if err := l.check(); err != nil {
		return err
	}
	if *embedded {
		return ceilingEmbedded(&l)
	}
	host, port, _ := net.SplitHostPort(l.mqtt)
	sub := func(extra ...string) []string {
		return append([]string{"-h", host, "-p", port, "-q", "1", "-i", ceilingClientID, "-t", prefix + "/devices/#"}, extra...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	consumer := exec.CommandContext(ctx, "mosquitto_sub", sub("-c")...)
	stdout, err := consumer.StdoutPipe()
	if err != nil {
		return err
	}
	var consumerErr bytes.Buffer
	consumer.Stderr = &consumerErr
	if err := consumer.Start(); err != nil {
		return fmt.Errorf("start mosquitto_sub: %w", err)
	}
	c := newCounter(l.total())
	go c.read(stdout)
	err = probe(host, port, c.probed)
	var (
		pubs  *publishers
		start time.Time
	)
	if err == nil {
		pubs, start, err = startPublishers(&l)
	}
	if err != nil {
		consumer.Process.Kill()
		consumer.Wait()
		return err
	}
	pubErr := pubs.wait(start.Add(l.timeout))
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	consumer.Process.Kill()
	consumer.Wait()
	if out, err := runFor(10*time.Second, "mosquitto_sub", sub("-E")...); err != nil {
		return fmt.Errorf("remove the consumer's session: %w: %s", err, out)
	}
	n := c.received.Load()
	if n < int64(l.total()) {
		return errors.Join(fmt.Errorf("mosquitto_sub took %d of %d messages within %s: %s",
			n, l.total(), l.timeout, bytes.TrimSpace(consumerErr.Bytes())), pubErr)
	}
	if pubErr != nil {
		return pubErr
	}
	secs := c.last.Sub(start).Seconds()
	logf("ceiling: %d messages in %.2f s, %.0f msg/s", n, secs, float64(n)/secs)
	fmt.Printf("received=%d\nseconds=%.3f\nrate=%.0f\n", n, secs, float64(n)/secs)
	return nil
}

// probeTopic is under the devices' wildcard, so the consumer receives it; it
// is no device's, and only the ceiling's consumer is subscribed then.
var probeTopic = topic("bench-probe", "telemetry")

// probe publishes "probe" until one comes through to the consumer (probed
// closes). A probe sent before the consumer has subscribed is dropped by
// Mosquitto and held by the embedded broker, hence the loop.
func probe(host, port string, probed <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if out, err := runFor(time.Until(deadline), "mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", probeTopic, "-m", "probe"); err != nil {
			return fmt.Errorf("publish probe: %w: %s", err, out)
		}
		select {
		case <-probed:
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	return errors.New("no probe reached mosquitto_sub within 15 s: the consumer did not subscribe")
}

// counter counts the load's payloads among the lines mosquitto_sub prints
// (JSON objects; a probe is not one) and notes when the last arrived.
type counter struct {
	want     int64
	received atomic.Int64
	last     time.Time     // set before done closes
	probed   chan struct{} // closed at the first probe
	done     chan struct{} // closed when want payloads have arrived
}

func newCounter(want int) *counter {
	return &counter{want: int64(want), probed: make(chan struct{}), done: make(chan struct{})}
}

func (c *counter) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	probed := false
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
			if !probed {
				probed = true
				close(c.probed)
			}
			continue
		}
		if c.received.Add(1) == c.want {
			c.last = time.Now()
			close(c.done)
		}
	}
}

// runFor runs a short command with a time limit and returns its output.
func runFor(limit time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return bytes.TrimSpace(out), err
}
