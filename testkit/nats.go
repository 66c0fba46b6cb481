package testkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NATSNode is one node of a NATS cluster a test started.
type NATSNode struct {
	// Name is the node's server_name (n1, n2…), which JetStream names its
	// assets' leaders by.
	Name string
	// MQTT is the node's MQTT listener, tcp://host:port.
	MQTT string
	// Monitor is the node's HTTP monitoring endpoint, http://host:port.
	Monitor string
	cmd     *exec.Cmd
	out     *SyncBuffer
}

// Kill stops the node at once (SIGKILL).
func (n *NATSNode) Kill() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}

// NATSAckWait is the clusters' mqtt.ack_wait: how long a node waits for a
// session's PUBACK before it sends a message again. NATS 2.9 sends what a
// dead connection left unacknowledged only then, not when the session is
// resumed, and a resend while no connection holds the session waits for the
// next period.
const NATSAckWait = 5 * time.Second

// StartNATSCluster runs a cluster of n nats-server nodes on loopback with
// JetStream and MQTT, its streams replicated on every node (so a persistent
// session and its QoS 1 messages survive the loss of a node), until the
// test ends. Without a nats-server binary the test is skipped, or fails
// under ./scripts/test.sh, which installs it.
func StartNATSCluster(tb testing.TB, n int) []*NATSNode {
	tb.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("ELDERSAFE_TEST_MOSQUITTO_URL") != "" {
			tb.Fatal("the test script ran, yet no nats-server binary is on PATH")
		}
		tb.Skip("no nats-server binary: run ./scripts/test.sh, which installs it")
	}
	dir := tb.TempDir()
	clientAddrs, routeAddrs, mqttAddrs, httpAddrs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		clientAddrs[i], routeAddrs[i], mqttAddrs[i], httpAddrs[i] = FreeAddr(tb), FreeAddr(tb), FreeAddr(tb), FreeAddr(tb)
	}
	nodes := make([]*NATSNode, n)
	for i := range n {
		var routes []string
		for j, r := range routeAddrs {
			if j != i {
				routes = append(routes, "nats-route://"+r)
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		conf := fmt.Sprintf(`server_name: %s
listen: %q
http: %q
jetstream { store_dir: %q }
cluster { name: eldersafe, listen: %q, routes: [%s] }
mqtt { listen: %q, stream_replicas: %d, ack_wait: %q }
`, name, clientAddrs[i], httpAddrs[i], filepath.Join(dir, name), routeAddrs[i], strings.Join(routes, ", "), mqttAddrs[i], n, NATSAckWait.String())
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		node := &NATSNode{Name: name, MQTT: "tcp://" + mqttAddrs[i], Monitor: "http://" + httpAddrs[i], cmd: exec.Command(bin, "-c", path), out: &SyncBuffer{}}
		node.cmd.Stdout, node.cmd.Stderr = node.out, node.out
		if err := node.cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if node.cmd.ProcessState == nil {
				node.Kill()
			}
			if tb.Failed() {
				tb.Logf("nats-server %s output (without its attempts to reach a killed node):\n%s", name, withoutRouteRetries(node.out.String()))
			}
		})
		nodes[i] = node
	}
	// MQTT listens once JetStream, clustered, has a leader.
	for i, addr := range mqttAddrs {
		waitListening(tb, "nats-server "+nodes[i].Name+" (MQTT)", time.Minute, nodes[i].out, addr)
	}
	return nodes
}

// withoutRouteRetries drops the lines a node logs every second while a
// route's node is down: after a test kills a node on purpose they are all
// a failure's log would show.
func withoutRouteRetries(log string) string {
	lines := strings.SplitAfter(log, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.Contains(l, "Error trying to connect to route") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// NATSConsumer is what a node's monitoring endpoint (/jsz) reports of one
// JetStream consumer: for an MQTT session's subscription, where its
// deliveries and acknowledgements stand.
type NATSConsumer struct {
	Stream string `json:"stream_name"`
	Name   string `json:"name"`
	Config struct {
		FilterSubject  string `json:"filter_subject"`
		DeliverSubject string `json:"deliver_subject"`
	} `json:"config"`
	Delivered struct {
		Stream uint64 `json:"stream_seq"`
	} `json:"delivered"`
	AckFloor struct {
		Stream uint64 `json:"stream_seq"`
	} `json:"ack_floor"`
	NumAckPending  int    `json:"num_ack_pending"`
	NumRedelivered int    `json:"num_redelivered"`
	NumPending     uint64 `json:"num_pending"`
	Cluster        struct {
		Leader string `json:"leader"`
	} `json:"cluster"`
}

func (c NATSConsumer) String() string {
	return fmt.Sprintf("%s > %s (filter %s, leader %s): delivered up to stream seq %d, acknowledged up to %d, %d awaiting acknowledgement, %d redelivered, %d not yet delivered",
		c.Stream, c.Name, c.Config.FilterSubject, c.Cluster.Leader, c.Delivered.Stream, c.AckFloor.Stream, c.NumAckPending, c.NumRedelivered, c.NumPending)
}

// Consumers is every JetStream consumer the node holds a replica of, as it
// sees them; the consumer's leader has the current view.
func (n *NATSNode) Consumers() ([]NATSConsumer, error) {
	if n.cmd.ProcessState != nil {
		return nil, fmt.Errorf("nats-server %s was killed", n.Name)
	}
	resp, err := http.Get(n.Monitor + "/jsz?consumers=true&config=true")
	if err != nil {
		return nil, fmt.Errorf("nats-server %s: jsz: %w", n.Name, err)
	}
	defer resp.Body.Close()
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Consumers []NATSConsumer `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return nil, fmt.Errorf("nats-server %s: jsz: %w", n.Name, err)
	}
	var all []NATSConsumer
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			all = append(all, s.Consumers...)
		}
	}
	return all, nil
}
