package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/testkit"
)

// The randomized crash runs of issue 13 (CONTRACT §11, "acknowledged means
// stored"): the real binary, real devices publishing at QoS 1, SIGKILL at
// randomized instants, a restart on the same data directory, and the HTTP
// API as the judge. Each test runs CRASH_RUNS runs (default 30, as in CI)
// on the embedded broker and on the Mosquitto of ./scripts/test.sh;
// CRASH_SEED repeats a sequence of kill instants:
//
//	CRASH_RUNS=1000 CRASH_SEED=42 go test -run 'TestCrash(Falls|Motion)' -count=1 -timeout 4h ./cmd/eldersafe

const (
	crashToken = "crash-test-admin-token-0002"
	crashGrid  = "g1"
	// settleTime bounds each wait on the restarted monitor: for a fall's
	// task with every notice sent, for a message to be applied.
	settleTime = 10 * time.Second
)

// crashSettings are the runs per broker and the seed of their kill instants.
type crashSettings struct {
	runs int
	seed uint64
}

func crashSettingsFromEnv(t *testing.T) crashSettings {
	t.Helper()
	c := crashSettings{runs: positiveEnv(t, "CRASH_RUNS", 30), seed: uint64(time.Now().UnixNano())}
	if v := os.Getenv("CRASH_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED=%q: want an unsigned number", v)
		}
		c.seed = seed
	}
	return c
}

// positiveEnv is the positive number in the environment variable name, or def.
func positiveEnv(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func (c crashSettings) log(t *testing.T) {
	t.Logf("%d crash runs per broker, seed %d (CRASH_SEED=%d repeats these kill instants)", c.runs, c.seed, c.seed)
}

// rng is the i-th broker's own sequence from the seed, so that skipping one
// broker leaves the other's kill instants as they were.
func (c crashSettings) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(c.seed, uint64(i)))
}

// durationN is a random duration in [0, d).
func durationN(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)))
}

// crashBroker is a broker the devices publish to, and what serve needs to use it.
type crashBroker struct {
	name   string
	url    string // where devices connect
	prefix string // topic prefix
	env    []string
	// tag makes the devices' client ids unique to the test: other packages'
	// tests use the same Mosquitto at the same time.
	tag string
	// monitorAcks: the monitor itself sends the devices' PUBACKs (the
	// embedded broker). With Mosquitto the broker sends them, having
	// queued the message in the monitor's persistent session.
	monitorAcks bool
	// redelivery is how long the broker waits before it sends again what a
	// killed monitor left unacknowledged; zero for one that sends it as soon
	// as the session is resumed.
	redelivery time.Duration
	// describe, when set, logs what the broker knows of the monitor's
	// sessions, once a run has gone wrong.
	describe func(t *testing.T)
}

// crashBrokerNames are the brokers every crash test runs on.
var crashBrokerNames = []string{"embedded", "mosquitto"}

// durability is a way the monitor keeps what a message changed before
// acknowledging it, and the monitor's setting for it.
type durability struct{ name, env string }

// crashDurability are the ways every crash test runs in, on every broker:
// the household's state in the store, or the reading in the journal
// (checkpoint.journal).
var crashDurability = []durability{
	{"state", ""},
	{"journal", "ELDERSAFE_CHECKPOINT_JOURNAL=true"},
}

// newCrashBroker is the broker name for a monitor keeping what a message
// changed as way says.
func newCrashBroker(t *testing.T, name string, way durability) crashBroker {
	t.Helper()
	b := crashBrokerOf(t, name, "crash-"+name+"-"+way.name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if way.env != "" {
		b.env = append(b.env, way.env)
	}
	return b
}

func crashBrokerOf(t *testing.T, name, tag string) crashBroker {
	t.Helper()
	switch name {
	case "embedded":
		// One address for every start: the devices reconnect to it.
		addr := testkit.FreeAddr(t)
		return crashBroker{name: name, url: "tcp://" + addr, prefix: "eldersafe/v1", env: []string{"ELDERSAFE_MQTT_BROKER_ADDR=" + addr}, tag: tag, monitorAcks: true}
	case "mosquitto":
		url := os.Getenv("ELDERSAFE_TEST_MOSQUITTO_URL")
		if url == "" {
			t.Skip("no external broker: run ./scripts/test.sh, which starts Mosquitto and sets ELDERSAFE_TEST_MOSQUITTO_URL")
		}
		// A client id and a prefix of the test's own: Mosquitto keeps the
		// monitor's sessions (and soon `<client_id>-events` too) across
		// tests, and must route no other test's messages to this monitor.
		return crashBroker{name: name, url: url, prefix: tag, tag: tag, env: []string{
			"ELDERSAFE_MQTT_URL=" + url, "ELDERSAFE_MQTT_CLIENT_ID=" + tag, "ELDERSAFE_MQTT_PREFIX=" + tag,
		}}
	}
	t.Fatalf("unknown broker %q", name)
	return crashBroker{}
}

func (b crashBroker) topic(deviceID, stream string) string {
	return b.prefix + "/devices/" + deviceID + "/" + stream
}

func (b crashBroker) dial(t *testing.T, deviceID, secret string) mqtt.Client {
	t.Helper()
	return dialDevice(t, b.url, b.tag+"-"+deviceID, deviceID, secret)
}

// crashMonitor is `eldersafe serve` on one data directory, killed with
// SIGKILL and started again on it.
type crashMonitor struct {
	t            *testing.T
	bin, dataDir string
	flags, env   []string
	s            *server
	api          apiClient
	killedAt     time.Time // set by kill
	redelivery   time.Duration
}

func startCrashMonitor(t *testing.T, bin, dataDir string, b crashBroker, flags ...string) *crashMonitor {
	t.Helper()
	m := &crashMonitor{t: t, bin: bin, dataDir: dataDir, flags: flags, redelivery: b.redelivery}
	// Under the event clock only device messages move time between the
	// tests' ticks, an hour apart: one overtaking another on its lane must
	// not be taken for a device dragging the clock ahead.
	m.env = append([]string{"ELDERSAFE_AUTH_ADMIN_TOKEN=" + crashToken, "ELDERSAFE_CLOCK_MAX_JUMP=24h"}, b.env...)
	m.start()
	return m
}

func (m *crashMonitor) start() {
	m.t.Helper()
	m.s = serveWith(m.t, m.bin, "../../configs/eldersafe.yaml", m.dataDir, m.flags, m.env...)
	m.api = apiClient{t: m.t, addr: m.s.addr, token: crashToken}
}

// kill sends SIGKILL without waiting; any goroutine may call it, once per start.
func (m *crashMonitor) kill() {
	m.killedAt = time.Now()
	if err := m.s.cmd.Process.Kill(); err != nil {
		m.t.Errorf("kill serve: %v", err)
	}
}

// restart waits for the killed process and starts serve again on the same
// data directory.
func (m *crashMonitor) restart() {
	m.t.Helper()
	err := m.s.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		m.t.Fatalf("serve ended with %v before the SIGKILL:\n%s", err, m.s.stderr(m.t))
	}
	m.start()
}

// metricIs says whether the monitor's /metrics has the unlabelled metric
// name at value.
func (m *crashMonitor) metricIs(name string, value int) bool {
	m.t.Helper()
	status, body := m.api.call("GET", "/metrics", nil)
	if status != http.StatusOK {
		m.t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return bytes.Contains(body, fmt.Appendf(nil, "\n%s %d\n", name, value))
}

// setUpGrid registers the grid and its worker, reached by push at /worker.
func (c apiClient) setUpGrid(push *pushReceiver) {
	c.t.Helper()
	c.must("POST", "/api/v1/grids", map[string]any{"id": crashGrid, "name": "Xingfu Road"}, 201, nil)
	c.must("POST", "/api/v1/workers", map[string]any{"id": "w1", "name": "Li Min", "phone": "+8613900000001",
		"grid_ids": []string{crashGrid}, "role": "grid_worker", "push_url": push.URL + "/worker"}, 201, nil)
}

// household registers a household in Asia/Shanghai with one family contact,
// reached by push at /family/{id}, and one device; it returns the device's
// secret.
func (c apiClient) household(id string, push *pushReceiver, deviceID, kind string) string {
	c.t.Helper()
	c.must("POST", "/api/v1/households", map[string]any{"id": id, "name": "Resident " + id, "address": "12 Xingfu Road",
		"grid_id": crashGrid, "timezone": "Asia/Shanghai", "contacts": []map[string]any{{"name": "Child of " + id,
			"relation": "child", "push_url": push.URL + "/family/" + id, "channels": []string{"push"}}}}, 201, nil)
	var d struct {
		Secret string `json:"secret"`
	}
	c.must("POST", "/api/v1/devices", map[string]any{"id": deviceID, "kind": kind, "household_id": id}, 201, &d)
	return d.Secret
}

type taskSummary struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	OpenedAt time.Time `json:"opened_at"`
}

// tasks lists a household's tasks of one rule.
func (c apiClient) tasks(householdID, rule string) []taskSummary {
	c.t.Helper()
	var out struct {
		Tasks []taskSummary `json:"tasks"`
	}
	c.must("GET", "/api/v1/tasks?household_id="+householdID+"&rule="+rule, nil, 200, &out)
	return out.Tasks
}

// TestCrashFalls: every fall a wristband had acknowledged survives a kill -9
// at any instant, as exactly one task with its notices sent. Each run
// registers fresh households with one wristband each (a household has one
// open fall task at most, so one fall per household makes a lost or
// duplicated fall visible), publishes a single fall or a burst of 20 back to
// back, kills the monitor at the run's instant, restarts it, and lets the
// devices resend what they never had acknowledged.
func TestCrashFalls(t *testing.T) {
	eachCrashBroker(t, nil, func(t *testing.T, r crashRig) {
		var tally fallTally
		for run := range r.settings.runs {
			plan := nextKill(r.rng, run)
			// Every other run stops the monitor cleanly and starts it again
			// first, as an operator's restart does: the kill then leaves the
			// snapshot of that stop, whose states the falls make older than
			// the store's, and whose devices the restarts take from then on,
			// with those of the households registered since (each run's
			// falls') from the store. Runs 4k+3 register their falls'
			// households after the clean stop; runs 4k+2 erase a household of
			// run 4k+1, which is in that stop's snapshot, so their restarts
			// read every device from the store.
			cleanStopFirst := run%2 == 1
			registeredSince := run%4 == 3
			erasing := run%4 == 2
			var falls []*fall
			if !registeredSince {
				falls = newFalls(r.m.api, r.push, run, plan.falls)
			}
			if cleanStopFirst {
				r.m.s.stop(t)
				r.m.start()
			}
			if registeredSince {
				falls = newFalls(r.m.api, r.push, run, plan.falls)
			}
			if erasing {
				r.m.api.must("DELETE", fmt.Sprintf("/api/v1/households/h%d-0", run-1), map[string]string{"reason": "moved away"}, http.StatusOK, nil)
			}
			killDuringFalls(t, r.m, r.b, falls, plan)
			r.m.restart()
			if got, want := r.m.metricIs("eldersafe_devices_loaded_from_snapshot", 1), run > 0 && !erasing; got != want {
				t.Errorf("run %d: devices loaded from the snapshot %v, want %v (after the first clean stop, unless a household was erased since)", run, got, want)
			}
			resendUnacked(t, r.b, falls)
			tally.add(t, run, plan, falls, r.m.settle(r.push, falls, r.b.monitorAcks))
		}
		t.Logf("%s: %s", r.b.name, tally)
		if !tally.clean() {
			t.Errorf("%s: acknowledged falls were lost or duplicated (seed %d): %s", r.b.name, r.settings.seed, tally)
		}
	})
}

// crashRig is one broker's part of a crash test: its broker, its monitor
// (started, with the grid set up to notify push), and its own random source.
type crashRig struct {
	settings crashSettings
	b        crashBroker
	m        *crashMonitor
	push     *pushReceiver
	rng      *rand.Rand
}

// eachCrashBroker runs test once per broker of crashBrokerNames and way of
// crashDurability, in parallel subtests, each on a rig of its own; flags go
// to serve.
func eachCrashBroker(t *testing.T, flags []string, test func(t *testing.T, r crashRig)) {
	settings := crashSettingsFromEnv(t)
	settings.log(t)
	bin := binary(t)
	for i, name := range crashBrokerNames {
		for j, way := range crashDurability {
			t.Run(name+"/"+way.name, func(t *testing.T) {
				t.Parallel() // each has its own monitor, data directory, ports and prefix
				b := newCrashBroker(t, name, way)
				r := crashRig{settings: settings, b: b, rng: settings.rng(i*len(crashDurability) + j), push: newPushReceiver(t)}
				r.m = startCrashMonitor(t, bin, t.TempDir(), b, flags...)
				r.m.api.setUpGrid(r.push)
				test(t, r)
			})
		}
	}
}

// killPlan is when a run kills the monitor.
type killPlan struct {
	what  string
	falls int
	atAck int           // kill as the atAck-th PUBACK arrives; 0: after delay
	delay time.Duration // from the first publish
}

// nextKill takes the four kinds of run in turn: a single fall killed as its
// PUBACK arrives; the burst of 20 killed at the 10th PUBACK; a burst
// killed at a random PUBACK; a burst killed at a random instant, which may
// come before, among or after the acknowledgements.
func nextKill(rng *rand.Rand, run int) killPlan {
	switch run % 4 {
	case 0:
		return killPlan{what: "1 fall, kill at its PUBACK", falls: 1, atAck: 1}
	case 1:
		return killPlan{what: "burst of 20, kill at the 10th PUBACK", falls: 20, atAck: 10}
	case 2:
		k := 1 + rng.IntN(20)
		return killPlan{what: fmt.Sprintf("burst of 20, kill at PUBACK %d", k), falls: 20, atAck: k}
	default:
		d := durationN(rng, 100*time.Millisecond)
		return killPlan{what: fmt.Sprintf("burst of 20, kill %v after the first publish", d.Round(time.Microsecond)), falls: 20, delay: d}
	}
}

// fall is one wristband's fall, in a household of its own.
type fall struct {
	household, device, secret string
	ts                        time.Time
	payload                   []byte
	acked                     bool // the device had its PUBACK (in a crash run: before the kill)
	resent                    bool // it had not, and published the same message again
}

func newFall(api apiClient, push *pushReceiver, household, device string) *fall {
	f := &fall{household: household, device: device, secret: api.household(household, push, device, "wristband")}
	f.ts = time.Now().UTC().Truncate(time.Millisecond)
	f.payload = fmt.Appendf(nil, `{"ts":%q,"seq":1,"event":"fall","lat":31.2304,"lon":121.4737}`, f.ts.Format(time.RFC3339Nano))
	return f
}

func (f *fall) String() string {
	state := "unacknowledged"
	switch {
	case f.acked:
		state = "acknowledged"
	case f.resent:
		state = "unacknowledged, resent"
	}
	return fmt.Sprintf("fall of %s (%s at %s, %s)", f.household, f.device, f.ts.Format(time.RFC3339Nano), state)
}

// killDuringFalls publishes the falls back to back at QoS 1, each from its
// own connected wristband, kills the monitor at the plan's instant, and
// records which falls the devices had acknowledged.
func killDuringFalls(t *testing.T, m *crashMonitor, b crashBroker, falls []*fall, plan killPlan) {
	t.Helper()
	clients := make([]mqtt.Client, len(falls))
	for i, f := range falls {
		clients[i] = b.dial(t, f.device, f.secret)
	}
	var (
		once  sync.Once
		acks  atomic.Int32
		wg    sync.WaitGroup
		acked = make([]bool, len(falls))
	)
	kill := func() { once.Do(m.kill) }
	if plan.atAck == 0 {
		defer time.AfterFunc(plan.delay, kill).Stop()
	}
	for i, f := range falls {
		tok := clients[i].Publish(b.topic(f.device, "event"), 1, false, f.payload)
		wg.Go(func() {
			// A publish in flight when the embedded broker dies completes
			// with "connection lost"; one to Mosquitto is acknowledged by it.
			if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
				acked[i] = true
				if int(acks.Add(1)) == plan.atAck {
					kill()
				}
			}
		})
	}
	wg.Wait()
	kill() // the plan's instant may come after the last acknowledgement
	for i, f := range falls {
		f.acked = acked[i]
		clients[i].Disconnect(0)
	}
}

// killDuringNewFalls registers plan.falls fresh households of run, with a
// wristband each, through m, and kills m during their falls as plan says.
func killDuringNewFalls(t *testing.T, m *crashMonitor, b crashBroker, push *pushReceiver, run int, plan killPlan) []*fall {
	t.Helper()
	falls := newFalls(m.api, push, run, plan.falls)
	killDuringFalls(t, m, b, falls, plan)
	return falls
}

// newFalls registers n fresh households of run, with a wristband each.
func newFalls(api apiClient, push *pushReceiver, run, n int) []*fall {
	falls := make([]*fall, n)
	for i := range falls {
		falls[i] = newFall(api, push, fmt.Sprintf("h%d-%d", run, i), fmt.Sprintf("wb%d-%d", run, i))
	}
	return falls
}

// resendUnacked has each device whose fall was never acknowledged send it
// again, as a device does after reconnecting.
func resendUnacked(t *testing.T, b crashBroker, falls []*fall) {
	t.Helper()
	for _, f := range falls {
		if !f.acked {
			f.resend(t, b)
		}
	}
}

// resend publishes an unacknowledged fall again, same seq and ts, as a
// device does after reconnecting: on a new connection each time the last
// one failed, until the broker acknowledges it (a NATS node whose streams
// are moving drops connections mid-publish for a while).
func (f *fall) resend(t *testing.T, b crashBroker) {
	t.Helper()
	var err error
	if !within(resendTime, func() bool {
		if err = f.publish(b); err != nil {
			t.Logf("%s: resend: %v; the device tries again", f, err)
			time.Sleep(500 * time.Millisecond)
		}
		return err == nil
	}) {
		t.Errorf("%s: the resend after the restart was not acknowledged within %v: %v", f, resendTime, err)
	}
	f.resent = true
}

// resendTime bounds a device's attempts to have a fall acknowledged.
const resendTime = 30 * time.Second

// publish sends the fall once on a connection of its own and waits for
// the broker's PUBACK.
func (f *fall) publish(b crashBroker) error {
	c, err := connectDevice(b.url, b.tag+"-"+f.device, f.device, f.secret)
	if err != nil {
		return err
	}
	defer c.Disconnect(100)
	tok := c.Publish(b.topic(f.device, "event"), 1, false, f.payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("no PUBACK in 10s")
	}
	return tok.Error()
}

// fallOutcome is what the API shows of one fall.
type fallOutcome struct {
	tasks    int  // fall tasks of its household
	evidence int  // times its ts is in their evidence
	notified bool // every notice of its task sent and received, the worker's and the family's among them
}

func (o fallOutcome) ok() bool { return o.tasks == 1 && o.evidence > 0 && o.notified }

// settle waits up to settleTime, and two of the broker's redelivery
// periods, for every fall's task and its notices, then looks at every fall
// once more: a duplicate may come late. When the monitor sends the PUBACK
// itself (storedAtAck), an acknowledged fall has its task already
// ("acknowledged means stored") and nothing could bring it later, so a fall
// without one is lost at once, not waited for; through an external broker
// it may still be on its way from the monitor's session.
func (m *crashMonitor) settle(push *pushReceiver, falls []*fall, storedAtAck bool) []fallOutcome {
	m.t.Helper()
	out := make([]fallOutcome, len(falls))
	waiting := func(o fallOutcome) bool { return !o.ok() && (o.evidence > 0 || !storedAtAck) }
	first := true
	// A redelivery may fall while no monitor holds the session.
	within(settleTime+2*m.redelivery, func() bool {
		delivered := push.delivered()
		all := true
		for i, f := range falls {
			if first || waiting(out[i]) {
				out[i] = m.fallOutcome(f, delivered)
			}
			all = all && !waiting(out[i])
		}
		first = false
		return all
	})
	delivered := push.delivered()
	for i, f := range falls {
		out[i] = m.fallOutcome(f, delivered)
	}
	return out
}

func (m *crashMonitor) fallOutcome(f *fall, delivered map[string]string) fallOutcome {
	m.t.Helper()
	tasks := m.api.tasks(f.household, "fall")
	o := fallOutcome{tasks: len(tasks)}
	for _, task := range tasks {
		var detail struct {
			Evidence []struct {
				At time.Time `json:"at"`
			} `json:"evidence"`
		}
		m.api.must("GET", "/api/v1/tasks/"+task.ID, nil, 200, &detail)
		for _, e := range detail.Evidence {
			if e.At.Equal(f.ts) {
				o.evidence++
			}
		}
		var list struct {
			Notifications []struct{ ID, Status string } `json:"notifications"`
		}
		m.api.must("GET", "/api/v1/tasks/"+task.ID+"/notifications", nil, 200, &list)
		reached := map[string]bool{}
		sent := true
		for _, n := range list.Notifications {
			path, ok := delivered[n.ID]
			sent = sent && ok && n.Status == "sent"
			reached[path] = true
		}
		o.notified = sent && reached["/worker"] && reached["/family/"+f.household]
	}
	return o
}

// fallTally sums the runs of one broker.
type fallTally struct {
	runs, falls, acked, resent int
	lostAcked, lostResent      int // falls without a task showing them
	duplicates                 int // falls whose household has more than one fall task
	unnotified                 int // tasks without every notice sent
	twice                      int // falls in their task's evidence more than once: allowed, QoS 1 is at least once
}

// add counts a run's falls, reports each one gone wrong, and says whether
// none did.
func (tl *fallTally) add(t *testing.T, run int, plan killPlan, falls []*fall, outcomes []fallOutcome) bool {
	t.Helper()
	tl.runs++
	var wrong []string
	for i, f := range falls {
		o := outcomes[i]
		tl.falls++
		if f.acked {
			tl.acked++
		} else {
			tl.resent++
		}
		if o.evidence > 1 {
			tl.twice++
		}
		switch {
		case o.tasks > 1:
			tl.duplicates++
			wrong = append(wrong, fmt.Sprintf("%s: %d fall tasks, want 1", f, o.tasks))
		case o.evidence == 0 && f.acked:
			tl.lostAcked++
			wrong = append(wrong, fmt.Sprintf("%s: LOST, no task shows it (%d fall tasks)", f, o.tasks))
		case o.evidence == 0:
			tl.lostResent++
			wrong = append(wrong, fmt.Sprintf("%s: lost although its resend was acknowledged (%d fall tasks)", f, o.tasks))
		case !o.notified:
			tl.unnotified++
			wrong = append(wrong, fmt.Sprintf("%s: its task's notices are not all sent to the worker and the family", f))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("run %d (%s): %d of %d falls wrong after the restart:\n\t%s", run, plan.what, len(wrong), len(falls), strings.Join(wrong, "\n\t"))
	}
	return len(wrong) == 0
}

func (tl fallTally) clean() bool {
	return tl.lostAcked+tl.lostResent+tl.duplicates+tl.unnotified == 0
}

func (tl fallTally) String() string {
	return fmt.Sprintf("%d crash runs, %d falls (%d acknowledged, %d unacknowledged and resent after the restart): "+
		"lost acknowledged falls %d, lost resent falls %d, duplicate tasks %d, tasks without their notices %d; "+
		"falls stored twice as evidence %d (allowed)",
		tl.runs, tl.falls, tl.acked, tl.resent, tl.lostAcked, tl.lostResent, tl.duplicates, tl.unnotified, tl.twice)
}
