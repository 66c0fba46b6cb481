package main

import (
	"encoding/base64"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/testkit"
)

// The failover runs of issue 18 (CONTRACT §15): two `eldersafe serve` with
// ha.enabled on one PostgreSQL and one external broker; wristbands publish
// falls; the leader is killed with SIGKILL at a random instant among their
// acknowledgements; the standby must take over, and every fall must end as
// exactly one task whose notices all reach their recipients, a repeat only
// under the same Idempotency-Key. The killed monitor then comes back as the
// standby, and the next run kills the other one. Each test prints the
// takeover times (SIGKILL to the new leader's /readyz 200).
//
// FAILOVER_RUNS (default 4) and FAILOVER_LEASE_TTL (default 3s; the
// product's default is 10s) size it; CRASH_SEED repeats the kill instants:
//
//	FAILOVER_RUNS=20 FAILOVER_LEASE_TTL=10s go test -run TestFailover -count=1 -timeout 1h -v ./cmd/eldersafe

// failoverKey is the master key both monitors share: they read each other's
// encrypted fields.
var failoverKey = base64.StdEncoding.EncodeToString([]byte("failover-test-master-key-32bytes"))

type failoverSettings struct {
	runs int
	ttl  time.Duration
}

func failoverSettingsFromEnv(t *testing.T) failoverSettings {
	t.Helper()
	s := failoverSettings{runs: positiveEnv(t, "FAILOVER_RUNS", 4), ttl: 3 * time.Second}
	if v := os.Getenv("FAILOVER_LEASE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FAILOVER_LEASE_TTL=%q: %v", v, err)
		}
		s.ttl = d
	}
	return s
}

func TestFailoverMosquitto(t *testing.T) {
	testFailover(t, newCrashBroker(t, "mosquitto", crashDurability[0]), nil)
}

// testFailover runs the failover runs on broker b; between runs it calls
// between (may be nil) with the run's number.
func testFailover(t *testing.T, b crashBroker, between func(run int)) {
	settings := failoverSettingsFromEnv(t)
	crash := crashSettingsFromEnv(t) // its seed only
	t.Logf("%d failover runs, lease_ttl %v, seed %d (CRASH_SEED=%d repeats these kill instants)", settings.runs, settings.ttl, crash.seed, crash.seed)
	rng := crash.rng(0)
	leader, standby, push := startPair(t, b, settings.ttl)

	var (
		tally     fallTally
		takeovers []time.Duration
	)
	for run := range settings.runs {
		if between != nil {
			between(run)
		}
		plan := nextKill(rng, run)
		falls := killDuringNewFalls(t, leader, b, push, run, plan)
		waitStatus(t, standby, "ready")
		took := time.Since(leader.killedAt)
		takeovers = append(takeovers, took)
		t.Logf("run %d (%s): takeover in %v", run, plan.what, took.Round(time.Millisecond))
		resendUnacked(t, b, falls)
		if !tally.add(t, run, plan, falls, standby.settle(push, falls, false)) && b.describe != nil {
			b.describe(t)
		}
		// The killed monitor comes back, as the standby now.
		leader.restart()
		checkStandby(t, leader)
		leader, standby = standby, leader
	}
	t.Logf("%s: %s", b.name, tally)
	if !tally.clean() {
		t.Errorf("%s: falls were lost or duplicated across failovers (CRASH_SEED=%d): %s", b.name, crash.seed, tally)
	}
	// A notice in flight when its leader died may come again from the next,
	// under its Idempotency-Key: the recipient drops the repeat.
	t.Logf("%d notices delivered, %d of them again under the same Idempotency-Key", len(push.delivered()), push.repeats(t))
	slices.Sort(takeovers)
	t.Logf("%s: takeover after SIGKILL over %d kills, lease_ttl %v: min %v, median %v, max %v", b.name, len(takeovers), settings.ttl,
		takeovers[0].Round(time.Millisecond), takeovers[len(takeovers)/2].Round(time.Millisecond), takeovers[len(takeovers)-1].Round(time.Millisecond))
}

// startPair starts two monitors with ha.enabled on a PostgreSQL of the
// test's own and broker b, the first leading, and registers the grid
// through it.
func startPair(t *testing.T, b crashBroker, ttl time.Duration) (leader, standby *crashMonitor, push *pushReceiver) {
	t.Helper()
	pg := testkit.PostgresURL(t) // skips before the build without PostgreSQL
	bin := binary(t)
	b.env = append(b.env, "ELDERSAFE_STORE_URL="+pg, "ELDERSAFE_HA_ENABLED=true",
		"ELDERSAFE_HA_LEASE_TTL="+ttl.String(), "ELDERSAFE_SECURITY_KEY="+failoverKey)
	push = newPushReceiver(t)
	leader = startCrashMonitor(t, bin, t.TempDir(), b)
	waitStatus(t, leader, "ready")
	standby = startCrashMonitor(t, bin, t.TempDir(), b)
	checkStandby(t, standby)
	leader.api.setUpGrid(push)
	return leader, standby, push
}

// waitStatus waits until the monitor's /readyz answers status, at most a
// minute (the lease's expiry comes first).
func waitStatus(t *testing.T, m *crashMonitor, status string) {
	t.Helper()
	var last string
	if !within(time.Minute, func() bool {
		last, _ = m.s.readiness()
		return last == status
	}) {
		t.Fatalf("monitor on %s: /readyz %q, want %q:\n%s", m.s.addr, last, status, m.s.stderr(t))
	}
}

// checkStandby: a standby answers reads, refuses writes with 503 and says
// it does not lead.
func checkStandby(t *testing.T, m *crashMonitor) {
	t.Helper()
	waitStatus(t, m, "standby")
	m.api.must("GET", "/api/v1/tasks", nil, 200, nil)
	if code, body := m.api.call("POST", "/api/v1/grids", map[string]any{"id": "g-standby", "name": "Nowhere"}); code != 503 {
		t.Errorf("a write to the standby: %d %s, want 503", code, body)
	}
	if !m.metricIs("eldersafe_ha_leader", 0) {
		t.Error("standby's /metrics lacks eldersafe_ha_leader 0")
	}
}

// TestFailoverNATS: the same on a 3-node NATS cluster speaking MQTT, its
// sessions in JetStream replicated on every node. Before the second run
// the node the monitors try first is killed: the leader moves its sessions
// to another node, and the next takeover finds them there.
func TestFailoverNATS(t *testing.T) {
	nodes := testkit.StartNATSCluster(t, 3)
	tag := "failover-nats-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.MQTT
	}
	b := crashBroker{name: "nats", url: nodes[1].MQTT, prefix: tag, tag: tag, redelivery: testkit.NATSAckWait, env: []string{
		"ELDERSAFE_MQTT_URL=" + strings.Join(urls, ","), "ELDERSAFE_MQTT_CLIENT_ID=" + tag, "ELDERSAFE_MQTT_PREFIX=" + tag,
	}}
	b.describe = func(t *testing.T) {
		// Where the consumers of the monitors' sessions stand, as their
		// leaders see them: a fall still awaiting acknowledgement,
		// acknowledged, or never delivered.
		for _, n := range nodes {
			consumers, err := n.Consumers()
			if err != nil {
				t.Logf("%v", err)
				continue
			}
			for _, c := range consumers {
				if c.Stream == "$MQTT_msgs" && c.Cluster.Leader == n.Name {
					t.Logf("%s", c)
				}
			}
		}
	}
	testFailover(t, b, func(run int) {
		if run == 1 {
			nodes[0].Kill()
			t.Logf("killed NATS node n1 (%s), the monitors' first", nodes[0].MQTT)
			// The devices' node takes MQTT sessions again once JetStream has
			// moved the leaders of its streams off the dead node.
			poll(t, "MQTT on NATS node n2 after n1's death", func() bool {
				c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.url).SetClientID(tag + "-probe").SetConnectTimeout(2 * time.Second))
				tok := c.Connect()
				ok := tok.WaitTimeout(3*time.Second) && tok.Error() == nil
				if ok {
					c.Disconnect(0)
				}
				return ok
			})
		}
	})
}

// TestFailoverStaleLeader: a leader frozen (SIGSTOP) past its lease is
// replaced; woken up (SIGCONT), it writes nothing more (the store's fence)
// and exits with "lost the leader lease". A fall published while it was
// frozen (handed to its stopped process by the broker, never acknowledged)
// and one published after the takeover each open one task, through the new
// leader.
func TestFailoverStaleLeader(t *testing.T) {
	b := newCrashBroker(t, "mosquitto", crashDurability[0])
	stale, next, push := startPair(t, b, 2*time.Second)
	frozen := newFall(stale.api, push, "h-frozen", "wb-frozen")
	after := newFall(stale.api, push, "h-after", "wb-after")

	if err := stale.s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen.resend(t, b) // its one send: the broker acknowledges it
	waitStatus(t, next, "ready")
	after.resend(t, b)
	if err := stale.s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	err := stale.s.cmd.Wait()
	if err == nil || !strings.Contains(stale.s.stderr(t), "lost the leader lease") {
		t.Errorf("the stale leader ended with %v; want an exit saying it lost the leader lease:\n%s", err, stale.s.stderr(t))
	}
	for i, o := range next.settle(push, []*fall{frozen, after}, false) {
		if !o.ok() {
			t.Errorf("fall %d: %+v, want one task with its notices", i, o)
		}
	}
	t.Logf("%d notices came twice under the same Idempotency-Key; the stale leader's writes refused by the fence: %d",
		push.repeats(t), strings.Count(stale.s.stderr(t), "no longer holds the leader lease"))
}
