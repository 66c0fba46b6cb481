package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// These tests run a real broker on loopback and talk to it with real paho
// clients (MQTT 3.1.1). Nothing sleeps: every wait is on a token or a channel
// with a timeout.

const (
	timeout   = 5 * time.Second
	prefix    = "eldersafe/v1"
	simPass   = "admin-token"
	subFailed = 0x80 // SUBACK return code for a refused filter (MQTT 3.1.1)
)

// testDevices is a DeviceAuthenticator over a fixed map of id → secret.
type testDevices map[string]string

func (d testDevices) AuthenticateDevice(id, secret string) bool {
	s, ok := d[id]
	return ok && s == secret
}

func (d testDevices) DeviceRegistered(id string) bool {
	_, ok := d[id]
	return ok
}

var devs = testDevices{"dev-a": "secret-a", "dev-b": "secret-b"}

func testOptions() Options {
	return Options{
		Addr:        "127.0.0.1:0",
		Prefix:      prefix,
		Devices:     devs,
		Intake:      newFakeIntake(),
		SimPassword: simPass,
		Logger:      testLogger(),
	}
}

var clientSeq atomic.Int64

func clientID(name string) string {
	return fmt.Sprintf("%s-%d", name, clientSeq.Add(1))
}

// startBroker starts a broker with testOptions changed by edit and closes it
// when the test ends.
func startBroker(t *testing.T, edit func(*Options)) *Broker {
	t.Helper()
	opts := testOptions()
	if edit != nil {
		edit(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// client is a connected paho client with the messages it receives and the
// reason it lost its connection, if it did.
type client struct {
	paho.Client
	msgs chan paho.Message
	lost chan error
}

// dial connects a paho client; edit may adjust its options (before Connect,
// so a persistent session's queued messages reach the handler).
func dial(t *testing.T, addr, id, user, pass string, edit func(*paho.ClientOptions)) (*client, error) {
	t.Helper()
	c := &client{msgs: make(chan paho.Message, 100), lost: make(chan error, 1)}
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetUsername(user).
		SetPassword(pass).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(timeout).
		SetWriteTimeout(timeout).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case c.msgs <- m:
			default:
				t.Errorf("client %s: inbox full, dropped %s", id, m.Topic())
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if edit != nil {
		edit(o)
	}
	c.Client = paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(timeout) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustDial(t *testing.T, addr, id, user, pass string, edit func(*paho.ClientOptions)) *client {
	t.Helper()
	c, err := dial(t, addr, id, user, pass, edit)
	if err != nil {
		t.Fatalf("connect %s as %q: %v", id, user, err)
	}
	return c
}

// subscribe subscribes at QoS 1 and returns the SUBACK return code.
func (c *client) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(timeout) {
		t.Fatalf("subscribe %s: timed out", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	res := tok.(*paho.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %s: result %v", filter, res)
	}
	for _, code := range res { // keyed without "$share/{group}/" for shared filters
		return code
	}
	return 0
}

// publish publishes and waits for the token: for QoS 1, until PUBACK.
func (c *client) publish(t *testing.T, topic string, qos byte, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("publish %s: timed out", topic)
	}
	return tok.Error()
}

func (c *client) mustPublish(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	if err := c.publish(t, topic, qos, payload); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// next returns the next message the client receives.
func (c *client) next(t *testing.T) paho.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(timeout):
		t.Fatal("no message received")
		return nil
	}
}

// expect checks that the next message is topic/payload.
func (c *client) expect(t *testing.T, topic, payload string) {
	t.Helper()
	m := c.next(t)
	if m.Topic() != topic || string(m.Payload()) != payload {
		t.Fatalf("got %s %q, want %s %q", m.Topic(), m.Payload(), topic, payload)
	}
}

// waitLost waits until the broker has dropped the client's connection.
func (c *client) waitLost(t *testing.T) {
	t.Helper()
	select {
	case <-c.lost:
	case <-time.After(timeout):
		t.Fatal("connection not closed by the broker")
	}
}

// monitor is the broker's intake, which stands for the monitor.
func monitor(t *testing.T, b *Broker) *fakeIntake {
	t.Helper()
	return b.opts.Intake.(*fakeIntake)
}

func deviceTopic(id, stream string) string { return prefix + "/devices/" + id + "/" + stream }

func TestBroker_DevicePublishReachesIntake(t *testing.T) {
	b := startBroker(t, nil)
	mon := monitor(t, b)
	dev := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)

	for _, qos := range []byte{0, 1} {
		payload := fmt.Sprintf(`{"ts":1700000000000,"motion":true,"qos":%d}`, qos)
		dev.mustPublish(t, deviceTopic("dev-a", "event"), qos, payload)
		mon.expect(t, deviceTopic("dev-a", "event"), payload)
	}
	// Deeper levels under the device's own id are its too.
	dev.mustPublish(t, deviceTopic("dev-a", "status/extra"), 1, "x")
	mon.expect(t, deviceTopic("dev-a", "status/extra"), "x")
}

func TestBroker_RefusesBadCredentials(t *testing.T) {
	b := startBroker(t, nil)
	cases := []struct{ name, user, pass string }{
		{"WrongSecret", "dev-a", "secret-b"},
		{"UnknownDevice", "dev-z", "secret-a"},
		{"NoUsername", "", ""},
		{"EmptyPassword", "dev-a", ""},
		{"SimWrongPassword", SimUsername, "nope"},
		{"DeviceIDWithSlash", "dev-a/event", "secret-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dial(t, b.Addr(), clientID("bad"), tc.user, tc.pass, nil)
			if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
				t.Fatalf("connect error = %v, want %v", err, packets.ErrorRefusedNotAuthorised)
			}
		})
	}

	t.Run("SimDisabled", func(t *testing.T) {
		b := startBroker(t, func(o *Options) { o.SimPassword = "" })
		_, err := dial(t, b.Addr(), clientID("sim"), SimUsername, "", nil)
		if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			t.Fatalf("connect error = %v, want refusal", err)
		}
	})
}

func TestBroker_DeviceCannotPublishForAnotherDevice(t *testing.T) {
	b := startBroker(t, nil)
	mon := monitor(t, b)

	t.Run("QoS0Dropped", func(t *testing.T) {
		devA := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
		devA.mustPublish(t, deviceTopic("dev-b", "event"), 0, `{"event":"fall"}`)
		devA.mustPublish(t, prefix+"/sim/clock", 0, `{"ts":1}`)
		devA.mustPublish(t, deviceTopic("dev-a", ""), 0, `empty stream`)
		devA.mustPublish(t, "elsewhere/devices/dev-a/event", 0, `outside prefix`)
		// The broker handles one client's packets in order, so once the
		// marker arrives the forbidden ones have been dealt with.
		devA.mustPublish(t, deviceTopic("dev-a", "event"), 1, "marker")
		mon.expect(t, deviceTopic("dev-a", "event"), "marker")
		select {
		case err := <-devA.lost:
			t.Fatalf("QoS 0 denial closed the connection: %v", err)
		default:
		}
	})

	t.Run("QoS1Disconnects", func(t *testing.T) {
		devA := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
		devA.Publish(deviceTopic("dev-b", "event"), 1, false, `{"event":"sos"}`)
		devA.waitLost(t) // MQTT 3.1.1 has no negative PUBACK: mochi disconnects.

		again := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
		again.mustPublish(t, deviceTopic("dev-a", "event"), 1, "marker2")
		mon.expect(t, deviceTopic("dev-a", "event"), "marker2")
	})
}

func TestBroker_DeviceCannotSubscribe(t *testing.T) {
	b := startBroker(t, nil)
	dev := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
	for _, f := range []string{"#", prefix + "/#", deviceTopic("dev-a", "event"), deviceTopic("dev-b", "#"), "$SYS/#"} {
		if code := dev.subscribe(t, f); code != subFailed {
			t.Errorf("device subscribe %s: code %#x, want %#x", f, code, subFailed)
		}
	}
}

func TestBroker_SimClock(t *testing.T) {
	b := startBroker(t, nil)
	mon := monitor(t, b)
	sim := mustDial(t, b.Addr(), clientID("sim"), SimUsername, simPass, nil)

	sim.mustPublish(t, prefix+"/sim/clock", 1, `{"ts":1700000000000}`)
	mon.expect(t, prefix+"/sim/clock", `{"ts":1700000000000}`)

	sim.mustPublish(t, deviceTopic("dev-a", "event"), 0, `{"event":"fall"}`)
	sim.mustPublish(t, prefix+"/sim/clock/x", 0, `{"ts":2}`)
	sim.mustPublish(t, prefix+"/sim/clock", 1, `{"ts":3}`)
	mon.expect(t, prefix+"/sim/clock", `{"ts":3}`)

	if code := sim.subscribe(t, prefix+"/#"); code != subFailed {
		t.Errorf("sim subscribe: code %#x, want %#x", code, subFailed)
	}
}

func TestBroker_AuthNone(t *testing.T) {
	b := startBroker(t, func(o *Options) {
		*o = Options{Addr: "127.0.0.1:0", Auth: AuthNone, Logger: testLogger()}
	})
	sub := mustDial(t, b.Addr(), clientID("anon"), "", "", nil)
	if code := sub.subscribe(t, "#"); code != 1 {
		t.Fatalf("subscribe #: code %#x", code)
	}
	pub := mustDial(t, b.Addr(), clientID("anyone"), "whoever", "whatever", nil)
	pub.mustPublish(t, "anything/at/all", 1, "hello")
	sub.expect(t, "anything/at/all", "hello")
	pub.mustPublish(t, deviceTopic("dev-b", "event"), 1, "hi")
	sub.expect(t, deviceTopic("dev-b", "event"), "hi")
}

// A device may not connect with another's client id: mochi would kick the
// other off and hand its session over.
func TestBroker_ClientIDTakeoverRefused(t *testing.T) {
	b := startBroker(t, nil)
	mon := monitor(t, b)
	id := clientID("dev-a")
	devA := mustDial(t, b.Addr(), id, "dev-a", "secret-a", func(o *paho.ClientOptions) { o.SetCleanSession(false) })

	_, err := dial(t, b.Addr(), id, "dev-b", "secret-b", nil)
	if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("takeover connect error = %v, want refusal", err)
	}
	devA.mustPublish(t, deviceTopic("dev-a", "event"), 1, "still here")
	mon.expect(t, deviceTopic("dev-a", "event"), "still here")
	select {
	case err := <-devA.lost:
		t.Fatalf("dev-a lost its connection: %v", err)
	default:
	}

	// The same user may take its own session over.
	mustDial(t, b.Addr(), id, "dev-a", "secret-a", func(o *paho.ClientOptions) { o.SetCleanSession(false) })
	devA.waitLost(t)
}

// rawConnect sends a CONNECT with a Will over a bare TCP connection and
// returns the connection and the CONNACK return code.
func rawConnect(t *testing.T, addr, user, pass, willTopic string) (net.Conn, byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.CleanSession = true
	cp.ClientIdentifier = clientID("raw")
	cp.Keepalive = 30
	cp.UsernameFlag, cp.Username = true, user
	cp.PasswordFlag, cp.Password = true, []byte(pass)
	// Retained, as devices often send theirs.
	cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos, cp.WillRetain = true, willTopic, []byte(`{"online":false}`), 1, true
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if err := cp.Write(conn); err != nil {
		t.Fatal(err)
	}
	p, err := packets.ReadPacket(conn)
	if err != nil {
		t.Fatalf("read connack: %v", err)
	}
	ack, ok := p.(*packets.ConnackPacket)
	if !ok {
		t.Fatalf("got %T, want CONNACK", p)
	}
	return conn, ack.ReturnCode
}

func TestBroker_Will(t *testing.T) {
	b := startBroker(t, nil)
	mon := monitor(t, b)

	t.Run("OwnTopicDelivered", func(t *testing.T) {
		conn, rc := rawConnect(t, b.Addr(), "dev-a", "secret-a", deviceTopic("dev-a", "status"))
		if rc != packets.Accepted {
			t.Fatalf("connack %d, want accepted", rc)
		}
		conn.Close() // no DISCONNECT: the broker sends the Will
		mon.expect(t, deviceTopic("dev-a", "status"), `{"online":false}`)
		if kept := b.srv.Topics.Messages(deviceTopic("dev-a", "status")); len(kept) != 0 {
			t.Fatalf("the Will retained: %+v", kept)
		}
	})

	t.Run("ForeignTopicRefused", func(t *testing.T) {
		_, rc := rawConnect(t, b.Addr(), "dev-a", "secret-a", deviceTopic("dev-b", "status"))
		if rc != packets.ErrRefusedNotAuthorised {
			t.Fatalf("connack %d, want %d", rc, packets.ErrRefusedNotAuthorised)
		}
	})
}

func TestBroker_StartOnTakenPortFails(t *testing.T) {
	b := startBroker(t, nil)
	other, err := New(func() Options { o := testOptions(); o.Addr = b.Addr(); return o }())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Start(); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
}

func TestBroker_Addr(t *testing.T) {
	opts := testOptions()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Addr(); got != "127.0.0.1:0" {
		t.Errorf("Addr before Start = %q", got)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr after Start = %q (%v)", b.Addr(), err)
	}
}

func TestBroker_Close(t *testing.T) {
	b, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	dev := mustDial(t, addr, clientID("dev-a"), "dev-a", "secret-a", nil)

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	dev.waitLost(t)
	if c, err := net.DialTimeout("tcp", addr, timeout); err == nil {
		c.Close()
		t.Fatal("listener still accepts after Close")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}

	t.Run("BeforeStart", func(t *testing.T) {
		b, err := New(testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

func TestNew_Validates(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"UnknownAuth", func(o *Options) { o.Auth = "open" }, "unknown auth mode"},
		{"NoDevices", func(o *Options) { o.Devices = nil }, "DeviceAuthenticator"},
		{"NegativeHold", func(o *Options) { o.HoldTimeout = -time.Second }, "hold timeout"},
		{"WildcardPrefix", func(o *Options) { o.Prefix = "eldersafe/+" }, "prefix"},
		{"TrailingSlashPrefix", func(o *Options) { o.Prefix = "eldersafe/v1/" }, "prefix"},
		{"PartialTLS", func(o *Options) { o.TLSAddr = "127.0.0.1:0" }, "tls"},
		{"MissingCert", func(o *Options) {
			o.TLSAddr, o.CertFile, o.KeyFile = "127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem"
		}, "tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.edit(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}

	t.Run("Defaults", func(t *testing.T) {
		b, err := New(Options{Devices: devs})
		if err != nil {
			t.Fatal(err)
		}
		if b.Addr() != DefaultAddr || b.opts.Prefix != DefaultPrefix || b.opts.Auth != AuthDevices {
			t.Fatalf("defaults not applied: %+v", b.opts)
		}
	})

	t.Run("AuthNoneNeedsNoCredentials", func(t *testing.T) {
		if _, err := New(Options{Auth: AuthNone}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBroker_TLS(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	b := startBroker(t, func(o *Options) {
		o.TLSAddr, o.CertFile, o.KeyFile = "127.0.0.1:0", certFile, keyFile
	})
	mon := monitor(t, b)

	dev := mustDial(t, b.TLSAddr(), clientID("dev-a"), "dev-a", "secret-a", func(o *paho.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ssl://" + b.TLSAddr())
		o.SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	})
	dev.mustPublish(t, deviceTopic("dev-a", "event"), 1, "over tls")
	mon.expect(t, deviceTopic("dev-a", "event"), "over tls")

	_, err := dial(t, b.TLSAddr(), clientID("dev-a"), "dev-a", "wrong", func(o *paho.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ssl://" + b.TLSAddr())
		o.SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	})
	if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("wrong secret over tls: %v", err)
	}
}

// selfSignedCert writes a certificate for localhost/127.0.0.1 and its key
// under t.TempDir() and returns their paths and a pool trusting it.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// testPublishers lets each device publish to the source topics listed for it.
type testPublishers map[string][]string

func (p testPublishers) MayPublish(id, topic string) bool { return slices.Contains(p[id], topic) }

// TestBroker_GatewayPublishesForItsDevices: a gateway logs in as a device
// and may publish to the source topics of its devices (and its own Last
// Will there), and to no other device's.
func TestBroker_GatewayPublishesForItsDevices(t *testing.T) {
	const (
		pir     = "zigbee2mqtt/h1/Kitchen PIR"
		bridge  = "zigbee2mqtt/bridge/state"
		another = "zigbee2mqtt/h2/Hall PIR"
	)
	b := startBroker(t, func(o *Options) {
		o.Devices = testDevices{"gw-1": "secret-gw", "dev-a": "secret-a"}
		o.Sources = testPublishers{"gw-1": {pir, pir + "/availability", bridge}}
		o.Intake.(*fakeIntake).sourceTopics = []string{pir, another}
	})
	mon := monitor(t, b)
	gw := mustDial(t, b.Addr(), clientID("gw-1"), "gw-1", "secret-gw", func(o *paho.ClientOptions) {
		o.SetWill(bridge, `{"state":"offline"}`, 1, true) // as Zigbee2MQTT does
	})
	gw.mustPublish(t, pir, 1, `{"occupancy":true}`)
	mon.expect(t, pir, `{"occupancy":true}`)
	// Its availability and its bridge state are its to publish, and none of
	// the monitor's: routed, not taken.
	gw.mustPublish(t, pir+"/availability", 1, `{"state":"online"}`)
	gw.mustPublish(t, bridge, 1, `{"state":"online"}`)
	gw.mustPublish(t, another, 0, `{"occupancy":true}`) // dropped: not its device
	gw.mustPublish(t, pir, 1, "marker")
	mon.expect(t, pir, "marker")

	// A device with no part in the source may not publish there, nor leave
	// a Will there.
	dev := mustDial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", nil)
	dev.Publish(pir, 1, false, `{"occupancy":true}`)
	dev.waitLost(t)
	if _, err := dial(t, b.Addr(), clientID("dev-a"), "dev-a", "secret-a", func(o *paho.ClientOptions) {
		o.SetWill(bridge, `{"state":"offline"}`, 1, true)
	}); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("a device's Will on a gateway's topic: %v, want refused", err)
	}
	// The gateway's own native topics stay its, too.
	gw.mustPublish(t, deviceTopic("gw-1", "status"), 1, `{"online":true}`)
	mon.expect(t, deviceTopic("gw-1", "status"), `{"online":true}`)
}
