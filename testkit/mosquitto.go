package testkit

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FreeAddr is a loopback address nothing listens on, host:port.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

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
