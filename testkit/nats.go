package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NATSNode is one node of a NATS cluster a test started.
type NATSNode struct {
	// MQTT is the node's MQTT listener, tcp://host:port.
	MQTT string
	cmd  *exec.Cmd
	out  *SyncBuffer
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
	clientAddrs, routeAddrs, mqttAddrs := make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		clientAddrs[i], routeAddrs[i], mqttAddrs[i] = FreeAddr(tb), FreeAddr(tb), FreeAddr(tb)
	}
	nodes := make([]*NATSNode, n)
	for i := range n {
		var routes []string
		for j, r := range routeAddrs {
			if j != i {
				routes = append(routes, "nats-route://"+r)
			}
		}
		conf := fmt.Sprintf(`server_name: n%d
listen: %q
jetstream { store_dir: %q }
cluster { name: eldersafe, listen: %q, routes: [%s] }
mqtt { listen: %q, stream_replicas: %d, ack_wait: %q }
`, i+1, clientAddrs[i], filepath.Join(dir, fmt.Sprintf("n%d", i+1)), routeAddrs[i], strings.Join(routes, ", "), mqttAddrs[i], n, NATSAckWait.String())
		path := filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		node := &NATSNode{MQTT: "tcp://" + mqttAddrs[i], cmd: exec.Command(bin, "-c", path), out: &SyncBuffer{}}
		node.cmd.Stdout, node.cmd.Stderr = node.out, node.out
		if err := node.cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if node.cmd.ProcessState == nil {
				node.Kill()
			}
			if tb.Failed() {
				tb.Logf("nats-server n%d output:\n%s", i+1, node.out.String())
			}
		})
		nodes[i] = node
	}
	// MQTT listens once JetStream, clustered, has a leader.
	for i, addr := range mqttAddrs {
		waitListening(tb, fmt.Sprintf("nats-server n%d (MQTT)", i+1), time.Minute, nodes[i].out, addr)
	}
	return nodes
}
