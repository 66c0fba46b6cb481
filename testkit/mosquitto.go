package testkit

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreeAddr is a loopback address nothing listens on, host:port, whose
// port no other FreeAddr of this process handed out. The port lies below
// the kernel's range for outgoing connections, as scripts/lib.sh's
// free_port does: a port from that range may be taken by a client's
// connection between the pick and the server's bind (the nodes of a NATS
// cluster dial each other's routes while the last of them starts).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return ln.Addr().String()
	}
	tb.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// handedOut holds the ports FreeAddr returned: two servers of one test
// must not be given the same.
var handedOut sync.Map

// ephemeralLow is the lowest port of the kernel's range for outgoing
// connections (32768 where it cannot be read, or leaves too little room
// above 10000), read once.
var ephemeralLow = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
})

// Port is the port of a host:port address.
func Port(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// StartMosquitto runs a Mosquitto of the test's own on conf (its listeners
// and their options) until the test ends, and waits until each of addrs
// accepts connections. Without a mosquitto binary the test is skipped, or
// fails under ./scripts/test.sh, which installs it.
func StartMosquitto(tb testing.TB, conf string, addrs ...string) {
	tb.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("ELDERSAFE_TEST_MOSQUITTO_URL") != "" {
			tb.Fatal("the test script started a Mosquitto, yet no mosquitto binary is on PATH or in /usr/sbin")
		}
		tb.Skip("no mosquitto binary: run ./scripts/test.sh, which installs it")
	}
	// Started as root, Mosquitto would switch to its own user, who cannot
	// read the test's private temporary directories.
	if u, err := user.Current(); err == nil {
		conf = "user " + u.Username + "\n" + conf
	}
	path := filepath.Join(tb.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	var out SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("mosquitto output:\n%s", out.String())
		}
	})
	waitListening(tb, "mosquitto", 5*time.Second, &out, addrs...)
}

// waitListening waits until each of addrs accepts connections, failing the
// test with the server's output after within.
func waitListening(tb testing.TB, server string, within time.Duration, out *SyncBuffer, addrs ...string) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for _, addr := range addrs {
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("%s does not listen on %s:\n%s", server, addr, strings.TrimSpace(out.String()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
