// Command benche2e is the Go half of scripts/bench-e2e.sh, the side-by-side
// end-to-end benchmark: the broker's own ceiling against the monitor on the
// same broker, and fall → family push latency while the monitor drains the
// backlog. The shell script starts and stops the servers; this program does
// what needs clocks, MQTT or HTTP:
//
//	benche2e gen       writes each telemetry device's payloads, one per line, for mosquitto_pub -l
//	benche2e provision registers the grid, worker, households and devices through the HTTP API
//	benche2e ceiling   times a bare mosquitto_sub taking the load, or (-embedded) the embedded
//	                   broker alone, acknowledging each publish in process at once
//	benche2e monitor   times the monitor taking the load (from /metrics) and the falls' pushes
//	benche2e probe     times falls' PUBACKs and pushes while a load from elsewhere runs
//
// It measures the monitor only through its external interfaces (MQTT, the
// HTTP API, /metrics and the push it sends), so the monitor's internals can
// change under it. Results go to stdout as key=value lines for the script;
// progress and errors to stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// The benchmark's objects have fixed names, so every subcommand derives
// them from the counts alone.
const (
	prefix   = "eldersafe/v1" // the monitor's default topic prefix
	gridID   = "bench-grid"
	workerID = "bench-worker"
	// ceilingClientID is the ceiling's consumer's persistent session.
	ceilingClientID = "bench-ceiling"
)

func meterID(i int) string     { return fmt.Sprintf("bench-wm-%03d", i) }
func wristbandID(i int) string { return fmt.Sprintf("bench-wb-%03d", i) }
func householdID(i int) string { return fmt.Sprintf("bench-h-%03d", i) }

// secret is a device's MQTT password (the embedded broker checks it).
// Chosen rather than generated, so publishers need no file of secrets.
func secret(deviceID string) string { return "secret-of-" + deviceID }

func topic(deviceID, stream string) string {
	return prefix + "/devices/" + deviceID + "/" + stream
}

// households is how many the benchmark registers: household i has meter i
// (i < devices) and wristband i (i < falls), one fall per household because a
// household has at most one open fall task.
func households(devices, falls int) int { return max(devices, falls) }

func main() {
	commands := map[string]func(args []string) error{
		"gen":       gen,
		"provision": provision,
		"ceiling":   ceiling,
		"monitor":   monitor,
		"probe":     probeFalls,
	}
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: benche2e gen|provision|ceiling|monitor|probe [flags]")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benche2e %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// logf reports progress on stderr; stdout carries only the results.
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// loadFlags are the flags of the two timed subcommands: where the broker is
// and what the load is.
type loadFlags struct {
	mqtt     string // host:port
	dir      string // the payload files written by gen
	devices  int
	messages int
	auth     bool // publish with each device's own credential (embedded broker)
	timeout  time.Duration
	rate     int // messages a second over all devices; 0: as fast as taken
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.mqtt, "mqtt", "", "broker address, host:port")
	fs.StringVar(&l.dir, "dir", "", "directory of the payload files written by gen")
	fs.IntVar(&l.devices, "devices", 50, "telemetry devices, one mosquitto_pub each")
	fs.IntVar(&l.messages, "messages", 4000, "messages per device")
	fs.BoolVar(&l.auth, "auth", false, "devices log in with username = id, password = secret")
	fs.DurationVar(&l.timeout, "timeout", 2*time.Minute, "give up when the load is not taken within this long")
	fs.IntVar(&l.rate, "rate", 0, "messages a second over all devices (0: as fast as the broker takes them)")
}

func (l *loadFlags) check() error {
	var errs []error
	if l.mqtt == "" || !strings.Contains(l.mqtt, ":") {
		errs = append(errs, fmt.Errorf("-mqtt %q: want host:port", l.mqtt))
	}
	if l.dir == "" {
		errs = append(errs, errors.New("-dir is required"))
	}
	if l.devices < 1 || l.messages < 1 {
		errs = append(errs, errors.New("-devices and -messages must be positive"))
	}
	if l.rate < 0 {
		errs = append(errs, errors.New("-rate must not be negative"))
	}
	return errors.Join(errs...)
}

// total is the number of telemetry messages in the load.
func (l *loadFlags) total() int { return l.devices * l.messages }
