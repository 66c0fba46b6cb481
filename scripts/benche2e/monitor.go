package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// pollEvery is how often /metrics is read while the load runs: the end of
// the run is known to within this (1 % of a 20 s run), and a fall is
// published within this of the backlog reaching its turn. A scrape is not
// free (the process collector reads /proc, the task gauges query the store):
// read every 50 ms, it took 9 % of the monitor's CPU in a profile.
const pollEvery = 200 * time.Millisecond

// monitor times the monitor taking the same load as the ceiling: from the
// publishers' start until /metrics counts every message handled or rejected.
// Meanwhile it publishes one fall per wristband, spread evenly over the
// backlog (fall k when k+1 of falls+1 equal parts are handled), and times
// each from its publish to the family's push reaching the receiver.
func monitor(args []string) error {
	fs := flag.NewFlagSet("monitor", flag.ExitOnError)
	var l loadFlags
	l.register(fs)
	metricsURL := fs.String("metrics", "", "the monitor's /metrics URL")
	falls := fs.Int("falls", 20, "falls to publish during the run, one per wristband")
	receiver := fs.String("receiver", "", "address the push receiver listens on, host:port (as given to provision)")
	stall := fs.Duration("stall", 30*time.Second, "give up when the monitor handles nothing for this long")
	fs.Parse(args)
	if err := l.check(); err != nil {
		return err
	}
	if *metricsURL == "" || *receiver == "" {
		return errors.New("-metrics and -receiver are required")
	}

	pushes, falling, err := startFalls(&l, *falls, *receiver)
	if err != nil {
		return err
	}
	defer falling.disconnect()
	scraper := metricsScraper{url: *metricsURL, http: &http.Client{Timeout: 5 * time.Second}}
	before, err := scraper.scrape()
	if err != nil {
		return err
	}

	pubs, start, err := startPublishers(&l)
	if err != nil {
		return err
	}
	stalls := watchStalls()
	defer stalls.stop()
	pubDone := make(chan error, 1)
	go func() { pubDone <- pubs.wait(start.Add(l.timeout)) }()

	var (
		done     time.Time // when every telemetry message was handled or rejected
		got      counts
		gaveUp   bool
		lastMove = start
		moved    float64
	)
	ticker := time.NewTicker(pollEvery)
	for ; ; <-ticker.C {
		s, err := scraper.scrape()
		if err != nil {
			pubs.kill()
			return err
		}
		got = s.minus(before)
		taken := got.telemetry + got.rejected()
		for k := falling.published(); k < *falls && taken >= float64((k+1)*l.total())/float64(*falls+1); k++ {
			falling.publish()
		}
		if done.IsZero() && taken >= float64(l.total()) {
			done = time.Now()
		}
		if !done.IsZero() && falling.published() == *falls && got.events >= float64(*falls) && pushes.count() == *falls {
			break
		}
		if p := got.handled + got.rejected() + float64(pushes.count()); p != moved {
			moved, lastMove = p, time.Now()
		}
		if time.Since(lastMove) > *stall {
			logf("monitor: nothing handled for %s; giving up", *stall)
			gaveUp = true
			break
		}
		if time.Since(start) > l.timeout {
			logf("monitor: not done within %s; giving up", l.timeout)
			gaveUp = true
			break
		}
	}
	ticker.Stop()
	if gaveUp {
		pubs.kill() // their "killed" errors say nothing new
		<-pubDone
	} else if err := errors.Join(<-pubDone, falling.wait()); err != nil {
		return err
	}

	sent := float64(l.total() + falling.published())
	fmt.Printf("sent=%.0f\nhandled=%.0f\nrejected=%.0f\nrejected_by_reason=%s\nlost=%.0f\n",
		sent, got.handled, got.rejected(), got.reasons(), sent-got.handled-got.rejected())
	if done.IsZero() {
		fmt.Printf("done=false\nseconds=%.3f\nrate=%.0f\n", time.Since(start).Seconds(), got.telemetry/time.Since(start).Seconds())
	} else {
		secs := done.Sub(start).Seconds()
		fmt.Printf("done=true\nseconds=%.3f\nrate=%.0f\n", secs, float64(l.total())/secs)
	}
	n, longest := stalls.stop()
	fmt.Printf("stalls=%d\nstall_max_ms=%.1f\n", n, ms(longest))
	latencies := falling.pushed(pushes)
	fmt.Printf("falls_published=%d\nfalls_pushed=%d\n", falling.published(), len(latencies))
	if len(latencies) > 0 {
		slices.Sort(latencies)
		fmt.Printf("fall_p50_ms=%.1f\nfall_p99_ms=%.1f\nfall_max_ms=%.1f\n",
			ms(percentile(latencies, 0.50)), ms(percentile(latencies, 0.99)), ms(latencies[len(latencies)-1]))
	}
	logf("monitor: %.0f handled, %.0f rejected of %.0f sent; %d of %d falls pushed", got.handled, got.rejected(), sent, len(latencies), falling.published())
	return nil
}

// stallAtLeast is how late a wake must be to count as the machine's stall:
// well above what a busy scheduler makes a runnable thread wait (up to 16 ms
// for the monitor's, by perf sched, in the twenty-third round), well below
// the ~100 ms this virtual machine was seen stopping, every process at once.
const stallAtLeast = 50 * time.Millisecond

// stallWatch counts the machine's stalls while the load runs: a goroutine
// asks to wake every millisecond and notes each wake over stallAtLeast
// late. A fall caught in one waits as long, in whoever's code it is.
type stallWatch struct {
	once    sync.Once
	quit    chan struct{}
	done    chan struct{}
	n       int
	longest time.Duration
}

func watchStalls() *stallWatch {
	w := &stallWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
				now := time.Now()
				if d := now.Sub(last); d >= stallAtLeast {
					w.n++
					w.longest = max(w.longest, d)
				}
				last = now
			}
		}
	}()
	return w
}

// stop ends the watch, if it has not ended yet, and says how many stalls it
// saw, and the longest.
func (w *stallWatch) stop() (int, time.Duration) {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return w.n, w.longest
}

// fallPublisher publishes the falls, one per wristband in turn, and notes
// when each was published.
type fallPublisher struct {
	clients []paho.Client // wristband k's connection, made before the load
	at      []time.Time   // when fall k was published
	acks    sync.WaitGroup
	mu      sync.Mutex
	acked   []time.Duration // each fall's wait for its PUBACK, in the order they came
	errs    []error
}

// startFalls starts the families' push receiver on addr and connects the
// falls' wristbands.
func startFalls(l *loadFlags, falls int, addr string) (*receiver, *fallPublisher, error) {
	pushes, err := startReceiver(addr)
	if err != nil {
		return nil, nil, err
	}
	falling, err := connectWristbands(l, falls)
	if err != nil {
		return nil, nil, err
	}
	return pushes, falling, nil
}

// pushed is how long each fall pushed so far took from its publish to its
// family's push.
func (f *fallPublisher) pushed(pushes *receiver) []time.Duration {
	var waits []time.Duration
	for k, at := range f.at {
		if arrived, ok := pushes.arrival(householdID(k)); ok {
			waits = append(waits, arrived.Sub(at))
		}
	}
	return waits
}

// connectWristbands connects one MQTT client per wristband before the load
// starts, so a fall's time is its publish and not a connection's set-up.
func connectWristbands(l *loadFlags, falls int) (*fallPublisher, error) {
	f := &fallPublisher{}
	for k := range falls {
		id := wristbandID(k)
		o := paho.NewClientOptions().AddBroker("tcp://" + l.mqtt).SetClientID("bench-" + id).
			SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
		if l.auth {
			o.SetUsername(id).SetPassword(secret(id))
		}
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			f.disconnect()
			return nil, fmt.Errorf("connect wristband %s: %v", id, tok.Error())
		}
		f.clients = append(f.clients, c)
	}
	return f, nil
}

func (f *fallPublisher) published() int { return len(f.at) }

// publish publishes the next wristband's fall at QoS 1.
func (f *fallPublisher) publish() {
	k := len(f.at)
	now := time.Now()
	tok := f.clients[k].Publish(topic(wristbandID(k), "event"), 1, false, fmt.Sprintf(`{"ts":%d,"event":"fall"}`, now.UnixMilli()))
	f.at = append(f.at, now)
	f.acks.Go(func() {
		ok := tok.WaitTimeout(30*time.Second) && tok.Error() == nil
		waited := time.Since(now)
		f.mu.Lock()
		defer f.mu.Unlock()
		if !ok {
			f.errs = append(f.errs, fmt.Errorf("fall of %s not acknowledged: %v", wristbandID(k), tok.Error()))
			return
		}
		f.acked = append(f.acked, waited)
	})
}

// wait waits for the broker's acknowledgement of every fall published.
func (f *fallPublisher) wait() error {
	f.acks.Wait()
	return errors.Join(f.errs...)
}

func (f *fallPublisher) disconnect() {
	for _, c := range f.clients {
		c.Disconnect(100)
	}
}

// receiver is the families' push server: it notes when each household's
// first fall notice arrived, and answers every push 200.
type receiver struct {
	mu       sync.Mutex
	arrivals map[string]time.Time
}

func startReceiver(addr string) (*receiver, error) {
	r := &receiver{arrivals: map[string]time.Time{}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("push receiver: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /family/{household}", r.family)
	mux.HandleFunc("POST /worker", func(w http.ResponseWriter, _ *http.Request) {})
	go http.Serve(ln, mux) // lives as long as the process
	return r, nil
}

func (r *receiver) family(w http.ResponseWriter, req *http.Request) {
	at := time.Now() // before reading the body: the notice has arrived
	var notice struct{ Rule string }
	if err := json.NewDecoder(req.Body).Decode(&notice); err != nil || notice.Rule != "fall" {
		return
	}
	h := req.PathValue("household")
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.arrivals[h]; !seen { // a retry or a later notice is not the first
		r.arrivals[h] = at
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.arrivals)
}

func (r *receiver) arrival(household string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.arrivals[household]
	return at, ok
}

// counts is what the benchmark reads from /metrics: the contract's ingest
// counters (CONTRACT §7), summed over kinds.
type counts struct {
	handled   float64            // eldersafe_ingest_messages_total, every series
	telemetry float64            // the same, stream="telemetry"
	events    float64            // the same, stream="event"
	byReason  map[string]float64 // eldersafe_ingest_rejected_total
}

func (a counts) minus(b counts) counts {
	d := counts{handled: a.handled - b.handled, telemetry: a.telemetry - b.telemetry, events: a.events - b.events, byReason: map[string]float64{}}
	for r, v := range a.byReason {
		d.byReason[r] = v - b.byReason[r]
	}
	return d
}

func (a counts) rejected() float64 {
	var n float64
	for _, v := range a.byReason {
		n += v
	}
	return n
}

// reasons lists the non-zero rejection reasons, "none" when there are none.
func (a counts) reasons() string {
	var parts []string
	for r, v := range a.byReason {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s:%.0f", r, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

type metricsScraper struct {
	url  string
	http *http.Client
}

func (s metricsScraper) scrape() (counts, error) {
	req, err := http.NewRequest(http.MethodGet, s.url, nil)
	if err != nil {
		return counts{}, err
	}
	// Uncompressed: gzip would cost the monitor more CPU than the transfer saves on loopback.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.http.Do(req)
	if err != nil {
		return counts{}, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return counts{}, fmt.Errorf("scrape %s: %s", s.url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the two counters from the Prometheus text format. It
// needs only the name, one label and the value of each sample line.
func parseMetrics(r io.Reader) (counts, error) {
	out := counts{byReason: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok || (name != "eldersafe_ingest_messages_total" && name != "eldersafe_ingest_rejected_total") {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return counts{}, fmt.Errorf("metrics line %q: %w", line, err)
		}
		if name == "eldersafe_ingest_rejected_total" {
			out.byReason[label(labels, "reason")] += v
			continue
		}
		out.handled += v
		switch label(labels, "stream") {
		case "telemetry":
			out.telemetry += v
		case "event":
			out.events += v
		}
	}
	return out, sc.Err()
}

// label returns a label's value from `a="x",b="y"` (no escapes in ours).
func label(labels, name string) string {
	for part := range strings.SplitSeq(labels, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
