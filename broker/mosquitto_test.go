package broker

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/testkit"
)

// startMosquitto runs a real Mosquitto on the files WriteMosquittoFiles
// wrote into dir, on a free loopback port, and returns its address.
func startMosquitto(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("ELDERSAFE_TEST_MOSQUITTO_URL") != "" {
			t.Fatal("the test script started a Mosquitto, yet no mosquitto binary is on PATH or in /usr/sbin")
		}
		t.Skip("no mosquitto binary: run ./scripts/test.sh, which installs it")
	}
	addr := testkit.FreeAddr(t)
	port := testkit.Port(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	text := fmt.Sprintf("include_dir %s\nlistener %s 127.0.0.1\npersistence_location %s/\n", dir, port, t.TempDir())
	if os.Geteuid() == 0 {
		// As root Mosquitto would switch to its own user, who cannot read
		// the test's private temporary directories.
		text += "user root\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// include_dir takes files ending in .conf: only eldersafe.conf.
	cmd := exec.Command(bin, "-c", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMosquittoExport_EnforcesDeviceRules(t *testing.T) {
	hashes := map[string]string{}
	for id, secret := range map[string]string{"dev-a": "secret-a-0123456789", "dev-b": "secret-b-0123456789"} {
		h, err := registry.HashSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		hashes[id] = h
	}
	dir := t.TempDir()
	const monUser, monitorPass = "monitor", "monitor-secret-0123456789"
	if err := WriteMosquittoFiles(dir, MosquittoCredentials{
		Prefix: prefix, Devices: hashes, MonitorUsername: monUser, MonitorPassword: monitorPass, SimPassword: "admin-token-0123456789",
	}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, MosquittoPasswordFile)); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("password_file: %v, mode %v", err, fi.Mode())
	}
	// Without it a fall can wait 40 ms or more in Mosquitto for the TCP
	// acknowledgement of the message before it (docs/operations.md); the
	// Mosquitto started below must take it.
	if conf, err := os.ReadFile(filepath.Join(dir, MosquittoConfFile)); err != nil || !slices.Contains(strings.Split(string(conf), "\n"), "set_tcp_nodelay true") {
		t.Errorf("%s has no set_tcp_nodelay true (%v):\n%s", MosquittoConfFile, err, conf)
	}
	addr := startMosquitto(t, dir)

	mon := mustDial(t, addr, clientID("monitor"), monUser, monitorPass, nil)
	for _, f := range []string{prefix + "/devices/#", prefix + "/sim/clock"} {
		if code := mon.subscribe(t, f); code != 1 {
			t.Fatalf("monitor subscribe %s: code %#x", f, code)
		}
	}

	devA := mustDial(t, addr, clientID("dev-a"), "dev-a", "secret-a-0123456789", nil)
	// Mosquitto 2.0 acknowledges a device's subscriptions but, with no read
	// grant, delivers nothing to it.
	for _, f := range []string{"#", deviceTopic("dev-a", "#"), deviceTopic("dev-b", "#")} {
		devA.subscribe(t, f)
	}
	devA.mustPublish(t, deviceTopic("dev-b", "event"), 1, `{"event":"fall"}`) // as another device
	devA.mustPublish(t, prefix+"/sim/clock", 1, `{"ts":1}`)
	devA.mustPublish(t, deviceTopic("dev-a", "event"), 1, "marker")
	// Mosquitto handles one client's messages in order: once the marker
	// arrives, the forbidden ones would have arrived before it.
	mon.expect(t, deviceTopic("dev-a", "event"), "marker")

	sim := mustDial(t, addr, clientID("sim"), SimUsername, "admin-token-0123456789", nil)
	sim.mustPublish(t, prefix+"/sim/clock", 1, `{"ts":2}`)
	mon.expect(t, prefix+"/sim/clock", `{"ts":2}`)
	select {
	case m := <-devA.msgs:
		t.Errorf("a device received %s %q", m.Topic(), m.Payload())
	default:
	}

	for _, bad := range []struct{ user, pass string }{{"dev-a", "secret-b-0123456789"}, {"dev-c", "secret-a-0123456789"}, {"", ""}} {
		if _, err := dial(t, addr, clientID("bad"), bad.user, bad.pass, nil); err == nil {
			t.Errorf("mosquitto accepted %q/%q", bad.user, bad.pass)
		}
	}
}

func TestWriteMosquittoFiles_Refuses(t *testing.T) {
	h, _ := registry.HashSecret("secret-a-0123456789")
	tests := []struct {
		name string
		c    MosquittoCredentials
		want string
	}{
		{"no monitor credential", MosquittoCredentials{Prefix: prefix}, "mqtt.username"},
		{"short monitor password", MosquittoCredentials{Prefix: prefix, MonitorUsername: "m", MonitorPassword: "short"}, "mqtt.password"},
		{"device named like a service user", MosquittoCredentials{Prefix: prefix, MonitorUsername: "m", MonitorPassword: "monitor-secret-0123456789",
			Devices: map[string]string{SimUsername: h}}, "service user"},
		{"device without a secret", MosquittoCredentials{Prefix: prefix, MonitorUsername: "m", MonitorPassword: "monitor-secret-0123456789",
			Devices: map[string]string{"dev-x": ""}}, "no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteMosquittoFiles(t.TempDir(), tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestMosquittoExport_Gateways: the exported ACL lets a gateway publish to
// its devices' source topics (a friendly name with a blank among them) and
// the monitor read them, and lets no other device publish there.
func TestMosquittoExport_Gateways(t *testing.T) {
	const pir, other = "zigbee2mqtt/h1/Kitchen PIR", "zigbee2mqtt/h2/Hall PIR"
	hashes := map[string]string{}
	for id, secret := range map[string]string{"gw-1": "secret-gw-0123456789", "dev-a": "secret-a-0123456789"} {
		h, err := registry.HashSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		hashes[id] = h
	}
	dir := t.TempDir()
	const monUser, monitorPass = "monitor", "monitor-secret-0123456789"
	if err := WriteMosquittoFiles(dir, MosquittoCredentials{
		Prefix: prefix, Devices: hashes, MonitorUsername: monUser, MonitorPassword: monitorPass,
		SourceFilters: []string{"zigbee2mqtt/#"},
		Publishers:    map[string][]string{"gw-1": {"zigbee2mqtt/bridge/#", pir, pir + "/availability"}},
	}); err != nil {
		t.Fatal(err)
	}
	addr := startMosquitto(t, dir)
	mon := mustDial(t, addr, clientID("monitor"), monUser, monitorPass, nil)
	if code := mon.subscribe(t, "zigbee2mqtt/#"); code != 1 {
		t.Fatalf("monitor subscribe zigbee2mqtt/#: code %#x", code)
	}
	gw := mustDial(t, addr, clientID("gw-1"), "gw-1", "secret-gw-0123456789", func(o *paho.ClientOptions) {
		o.SetWill("zigbee2mqtt/bridge/state", `{"state":"offline"}`, 1, true)
	})
	dev := mustDial(t, addr, clientID("dev-a"), "dev-a", "secret-a-0123456789", nil)
	gw.mustPublish(t, other, 1, `{"occupancy":true}`) // not its device
	dev.mustPublish(t, pir, 1, `{"occupancy":true}`)  // not its topic
	gw.mustPublish(t, "zigbee2mqtt/bridge/state", 1, `{"state":"online"}`)
	mon.expect(t, "zigbee2mqtt/bridge/state", `{"state":"online"}`)
	gw.mustPublish(t, pir, 1, "marker")
	mon.expect(t, pir, "marker")
}
