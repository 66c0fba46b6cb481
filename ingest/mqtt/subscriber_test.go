package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/eldersafe/eldersafe/clock"
	"github.com/eldersafe/eldersafe/ingest"
	"github.com/eldersafe/eldersafe/registry"
	"github.com/eldersafe/eldersafe/rules"
	"github.com/eldersafe/eldersafe/testkit"
)

const prefix = "eldersafe/v1"

// tlsBroker is a Mosquitto of the test's own whose TLS listener asks every
// client for a certificate of the test's CA (require_certificate), and whose
// plain listener takes the devices.
type tlsBroker struct {
	ca             *testkit.CA
	tlsAddr, plain string
}

// The broker's certificate names mosquitto.test only, not 127.0.0.1: a
// monitor must be told the name (server_name).
func startTLSBroker(t *testing.T) tlsBroker {
	t.Helper()
	b := tlsBroker{ca: testkit.NewCA(t), tlsAddr: testkit.FreeAddr(t), plain: testkit.FreeAddr(t)}
	cert, key := b.ca.Server(t, "mosquitto.test")
	testkit.StartMosquitto(t, fmt.Sprintf(`allow_anonymous true
persistence false
listener %s 127.0.0.1
listener %s 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
`, testkit.Port(b.plain), testkit.Port(b.tlsAddr), b.ca.File, cert, key), b.plain, b.tlsAddr)
	return b
}

type oneWristband struct{}

func (oneWristband) Device(_ context.Context, id string) (registry.Device, error) {
	if id != "band-1" {
		return registry.Device{}, registry.ErrNotFound
	}
	return registry.Device{ID: id, Kind: registry.Wristband, HouseholdID: "h1"}, nil
}

func (oneWristband) SourceDevice(context.Context, registry.Source, string) (registry.Device, error) {
	return registry.Device{}, registry.ErrNotFound
}

var clientSeq sync.Map

// run starts an events session over TLS with cfg, handing what it receives
// to readings, until the test ends.
func run(t *testing.T, b tlsBroker, cfg *tls.Config, readings chan<- rules.Reading) *Subscriber {
	t.Helper()
	id := "monitor-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if _, taken := clientSeq.LoadOrStore(id, true); taken {
		t.Fatalf("client id %s used twice", id)
	}
	s, _ := runSession(t, "ssl://"+b.tlsAddr, cfg, id, Events, readings)
	return s
}

// runSession starts a session of the given take on the broker at url,
// handing what it receives to readings, until stop is called or the test
// ends.
func runSession(t *testing.T, url string, cfg *tls.Config, id string, take Take, readings chan<- rules.Reading) (s *Subscriber, stop func()) {
	t.Helper()
	stored := make(chan struct{})
	close(stored)
	p, err := ingest.NewPipeline(ingest.PipelineOptions{
		Prefix: prefix, Devices: oneWristband{}, Bound: clock.Wall{},
		Handle: func(_ context.Context, r rules.Reading) (<-chan struct{}, error) {
			readings <- r
			return stored, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.NewIntake(ingest.IntakeOptions{Prefix: prefix, Pipeline: p})
	if err != nil {
		t.Fatal(err)
	}
	s, err = New(Options{URL: url, ClientID: id, TLS: cfg, Intake: in, Take: take,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	wg.Go(func() { s.Run(ctx) })
	stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stop)
	return s, stop
}

// TestSubscriber_TLS: the monitor's sessions with an external broker over
// TLS, against a real Mosquitto that requires client certificates.
func TestSubscriber_TLS(t *testing.T) {
	b := startTLSBroker(t)
	monitorCert, monitorKey := b.ca.Client(t, "eldersafe-monitor")
	strangerCert, strangerKey := testkit.NewCA(t).Client(t, "eldersafe-monitor")
	tests := []struct {
		name    string
		tls     TLS
		refused bool
		// says is in the refusal's error. The broker refuses a client
		// certificate after the client's handshake (TLS 1.3): its alert, or
		// the connection closing, comes with its first answer.
		says string
	}{
		{"client certificate, CA and server name", TLS{CAFile: b.ca.File, CertFile: monitorCert, KeyFile: monitorKey, ServerName: "mosquitto.test"}, false, ""},
		{"no client certificate", TLS{CAFile: b.ca.File, ServerName: "mosquitto.test"}, true, ""},
		{"a client certificate of another CA", TLS{CAFile: b.ca.File, CertFile: strangerCert, KeyFile: strangerKey, ServerName: "mosquitto.test"}, true, ""},
		{"the URL's host as the server name", TLS{CAFile: b.ca.File, CertFile: monitorCert, KeyFile: monitorKey}, true, "127.0.0.1"},
		{"the system's roots", TLS{CertFile: monitorCert, KeyFile: monitorKey, ServerName: "mosquitto.test"}, true, "unknown authority"},
		{"insecure_skip_verify", TLS{CertFile: monitorCert, KeyFile: monitorKey, InsecureSkipVerify: true}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.tls.Config()
			if err != nil {
				t.Fatal(err)
			}
			readings := make(chan rules.Reading, 1)
			s := run(t, b, cfg, readings)
			if tt.refused {
				var lastErr error
				waitFor(t, "the first connection refused", func() bool {
					if p := s.lastErr.Load(); p != nil {
						lastErr = *p
					}
					return lastErr != nil
				})
				if s.Connected() || !strings.Contains(lastErr.Error(), tt.says) {
					t.Errorf("connected %v, error %v; want refused with %q", s.Connected(), lastErr, tt.says)
				}
				return
			}
			waitFor(t, "subscribed over TLS", s.Connected)
			device := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.plain).SetClientID("band-1-" + t.Name()))
			if tok := device.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("device connect: %v", tok.Error())
			}
			defer device.Disconnect(0)
			if tok := device.Publish(prefix+"/devices/band-1/event", 1, false, `{"ts":"2026-03-01T09:00:00Z","event":"fall"}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("device publish: %v", tok.Error())
			}
			select {
			case r := <-readings:
				if r.DeviceID != "band-1" || r.Event != rules.EventFall {
					t.Errorf("reading %+v", r)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the fall did not come through the TLS session")
			}
		})
	}
}

// TestSessionsKeepTheAlarmLaneApart: on a real Mosquitto, the main session
// is not subscribed to the event stream, so the broker queues a fall for the
// events session alone (CONTRACT §11), and a main session an earlier release
// subscribed to {prefix}/devices/# loses that subscription. What each
// session holds shows once the monitor is stopped: a device publishes a fall
// and then a heartbeat, and each session, resumed, gets what was queued for
// it, in order.
func TestSessionsKeepTheAlarmLaneApart(t *testing.T) {
	addr := testkit.FreeAddr(t)
	testkit.StartMosquitto(t, fmt.Sprintf("allow_anonymous true\npersistence false\nlistener %s 127.0.0.1\n", testkit.Port(addr)), addr)
	url := "tcp://" + addr
	const rest, events = "monitor", "monitor-events"

	// The main session as an earlier release left it.
	former := connect(t, url, rest, nil)
	if tok := former.Subscribe(prefix+"/devices/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s/devices/#: %v", prefix, tok.Error())
	}
	former.Disconnect(0)

	readings := make(chan rules.Reading, 2)
	restSession, stopRest := runSession(t, url, nil, rest, Rest, readings)
	eventsSession, stopEvents := runSession(t, url, nil, events, Events, readings)
	waitFor(t, "both sessions subscribed", func() bool { return restSession.Connected() && eventsSession.Connected() })
	stopRest()
	stopEvents()

	device := connect(t, url, "band-1", nil)
	for _, m := range []struct{ stream, payload string }{
		{"event", `{"ts":"2026-03-01T09:00:00Z","event":"fall"}`},
		{"telemetry", `{"ts":"2026-03-01T09:00:01Z","battery_pct":80}`},
	} {
		if tok := device.Publish(prefix+"/devices/band-1/"+m.stream, 1, false, m.payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("device publish %s: %v", m.stream, tok.Error())
		}
	}

	queued := func(id string, last string) []string {
		got := make(chan string, 4)
		c := connect(t, url, id, func(_ paho.Client, m paho.Message) { got <- strings.TrimPrefix(m.Topic(), prefix+"/devices/") })
		defer c.Disconnect(0)
		var topics []string
		for {
			select {
			case topic := <-got:
				topics = append(topics, topic)
				if topic == last {
					return topics
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("session %s: got %v, never %s", id, topics, last)
			}
		}
	}
	if got := queued(rest, "band-1/telemetry"); !slices.Equal(got, []string{"band-1/telemetry"}) {
		t.Errorf("the main session had %v queued, want the heartbeat only", got)
	}
	if got := queued(events, "band-1/event"); !slices.Equal(got, []string{"band-1/event"}) {
		t.Errorf("the events session had %v queued, want the fall only", got)
	}
}

// connect resumes (or starts) the persistent session id on the broker at
// url, each message it delivers going to handle.
func connect(t *testing.T, url, id string, handle paho.MessageHandler) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).SetDefaultPublishHandler(handle))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestTLS_Config(t *testing.T) {
	ca := testkit.NewCA(t)
	cert, key := ca.Client(t, "eldersafe-monitor")
	tests := []struct {
		name string
		tls  TLS
		want string // in the error; empty: fine
	}{
		{"nothing set", TLS{}, ""},
		{"a CA and a client certificate", TLS{CAFile: ca.File, CertFile: cert, KeyFile: key, ServerName: "broker.example"}, ""},
		{"a certificate without its key", TLS{CertFile: cert}, "both cert_file and key_file"},
		{"a key without its certificate", TLS{KeyFile: key}, "both cert_file and key_file"},
		{"a missing CA file", TLS{CAFile: "/nonexistent/ca.pem"}, "ca_file"},
		{"a CA file without a certificate", TLS{CAFile: key}, "no PEM certificate"},
		{"a certificate that is not one", TLS{CertFile: key, KeyFile: key}, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.tls.Config()
			if tt.want == "" {
				if err != nil || (cfg == nil) != (tt.tls == TLS{}) {
					t.Errorf("Config() = %v, %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Config() error %v, want it to say %q", err, tt.want)
			}
		})
	}
}
